import { expect } from 'chai';
import fc from 'fast-check';
import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { createGateway, type Gateway } from '../src/index.js';
import { startContractBackends, type ContractBackends } from './support/contract-backends.js';

const LIMIT = 4096;
const KNOWN: Record<string, string> = {
  '/api/v1/chat/completions': 'POST',
  '/api/v1/route': 'POST',
  '/api/v1/models': 'GET',
  '/api/v1/insights/feedback': 'POST',
  '/api/v1/insights/learning': 'GET',
  '/api/v1/insights/models': 'GET',
  '/api/v1/insights/recommendations': 'GET',
  '/api/v1/insights/requests': 'GET',
  '/api/v1/insights/data': 'DELETE',
};
const POST_PATHS = Object.keys(KNOWN).filter((p) => KNOWN[p] === 'POST');
/** GET /api/v1/models/{model}: one non-empty segment below the listing names a model. */
const isModelPath = (p: string) => /^\/api\/v1\/models\/[^/]+$/.test(p);

interface Answer {
  status: number;
  text: string;
}

// Bad input thrown at the facade: every answer is a well-formed error with the right status, the process
// keeps serving, and a rejected request never reaches the backend.
describe('gateway under malformed and hostile input', function () {
  this.timeout(120_000);
  let backends: ContractBackends;
  let gateway: Gateway;
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });

  before(async () => {
    backends = await startContractBackends();
    gateway = await createGateway({
      host: '127.0.0.1',
      port: 0,
      backends: { default: backends.address },
      bodyLimitBytes: LIMIT,
    });
  });
  after(async () => {
    agent.destroy();
    await gateway.close();
    await backends.close();
  });

  const send = (
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: Buffer | string,
  ): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: gateway.port, method, path, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });

  /** Sends a request and checks the invariants every answer must keep; returns the answer. */
  const probe = async (
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: Buffer | string,
  ): Promise<Answer> => {
    const before = backends.calls.length;
    const answer = await send(method, path, headers, body);
    if (answer.status >= 400) {
      // A HEAD answer has no body by HTTP's rules; its status still counts.
      if (method !== 'HEAD') expectStatusBody(answer);
      expect(backends.calls.length, `backend called for a rejected ${method} ${path}`).to.equal(before);
    } else {
      expect(answer.status).to.equal(200);
      expect(backends.calls.length).to.equal(before + 1);
    }
    return answer;
  };

  it('answers odd paths and methods with 404 or 405 (with Allow), or serves them (HEAD where GET is)', async () => {
    const segment = fc.oneof(
      fc.constantFrom(
        'api',
        'v1',
        'insights',
        'models',
        '..',
        '.',
        '',
        '%2e%2e',
        '%00',
        '%zz',
        '*',
        '{name}',
        ':verb',
        'chat',
        'completions',
      ),
      fc.webSegment(),
    );
    const path = fc.oneof(
      fc.constantFrom(...Object.keys(KNOWN)),
      fc.array(segment, { maxLength: 8 }).map((s) => '/' + s.join('/')),
      fc.constantFrom(...Object.keys(KNOWN)).chain((p) => fc.webSegment().map((s) => `${p}/${s}`)),
    );
    const method = fc.oneof(
      fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'TRACE', 'PURGE', 'SEARCH'),
    );
    await fc.assert(
      fc.asyncProperty(method, path, async (m, p) => {
        const answer = await probe(m, p, {});
        const expected = KNOWN[p] ?? (isModelPath(p) ? 'GET' : undefined);
        if (expected === undefined) {
          expect([400, 404], `${m} ${p}`).to.include(answer.status);
        } else if (m !== expected && !(m === 'HEAD' && expected === 'GET')) {
          expect(answer.status, `${m} ${p}`).to.equal(405);
        } else {
          // An empty POST body is an empty message; the backend may accept it.
          expect([200, 400], `${m} ${p}`).to.include(answer.status);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('answers malformed JSON with 400 and never calls the backend', async () => {
    const notJson = fc.string({ maxLength: 200 }).filter((s) => s.trim() !== '' && !parses(s));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...POST_PATHS), notJson, async (p, text) => {
        const answer = await probe('POST', p, { 'content-type': 'application/json' }, text);
        expect(answer.status).to.equal(400);
      }),
      { numRuns: 200 },
    );
  });

  it('answers values of the wrong type with 400 naming the field', async () => {
    const fields = [
      'model',
      'messages',
      'max_tokens',
      'maxTokens',
      'temperature',
      'stop',
      'stream',
      'routing',
      'seed',
      'n',
      'user',
    ];
    const wrong = fc.record({ field: fc.constantFrom(...fields), value: fc.jsonValue({ maxDepth: 3 }) });
    await fc.assert(
      fc.asyncProperty(wrong, async ({ field, value }) => {
        const body = JSON.stringify({
          model: 'routeplex-ai',
          messages: [{ role: 'user', content: 'x' }],
          [field]: value,
        });
        if (Buffer.byteLength(body) > LIMIT) return;
        const answer = await probe('POST', '/api/v1/chat/completions', { 'content-type': 'application/json' }, body);
        if (answer.status === 400) {
          const snake = field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
          expect(JSON.parse(answer.text).message).to.match(new RegExp(`${field}|${snake}`));
        } else {
          expect(answer.status).to.equal(200);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('answers bodies over the limit with 413, declared or chunked', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: LIMIT + 1, max: LIMIT * 50 }),
        fc.boolean(),
        fc.constantFrom(...POST_PATHS),
        async (size, chunked, p) => {
          const body = Buffer.alloc(size, 0x20);
          const headers: Record<string, string> = { 'content-type': 'application/json' };
          if (chunked) headers['transfer-encoding'] = 'chunked';
          const answer = await probe('POST', p, headers, body);
          expect(answer.status).to.equal(413);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('answers invalid UTF-8 with 400', async () => {
    const invalid = fc.uint8Array({ minLength: 1, maxLength: 300 }).filter((b) => !isUtf8(b));
    await fc.assert(
      fc.asyncProperty(invalid, async (bytes) => {
        const body = Buffer.concat([Buffer.from('{"user":"'), Buffer.from(bytes), Buffer.from('"}')]);
        const answer = await probe('POST', '/api/v1/route', { 'content-type': 'application/json' }, body);
        expect(answer.status).to.equal(400);
      }),
      { numRuns: 150 },
    );
  });

  it('answers header abuse with a well-formed error or serves the request', async () => {
    const latin1 = fc.string({
      unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c === 0x7f ? 0x41 : c)),
      maxLength: 300,
    });
    const headerSet = fc.record({
      contentType: fc.oneof(
        latin1,
        fc.constantFrom(
          'application/json',
          'application/json; charset=utf-16',
          'text/html',
          'application/problem+json',
          '',
        ),
      ),
      authorization: fc.oneof(latin1, fc.constant('x'.repeat(20_000))),
      extra: fc.array(fc.tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/), latin1), { maxLength: 30 }),
    });
    await fc.assert(
      fc.asyncProperty(headerSet, async (h) => {
        const headers: Record<string, string> = { 'content-type': h.contentType, authorization: h.authorization };
        for (const [k, v] of h.extra)
          if (!['content-length', 'transfer-encoding', 'host', 'connection', 'expect', 'upgrade'].includes(k))
            headers[k] = v;
        if (/^(fail-|Bearer fail-|Bearer hang|hang$)/.test(h.authorization)) return;
        const answer = await probe(
          'POST',
          '/api/v1/route',
          headers,
          '{"messages":[{"role":"user","content":"x"}]}',
        ).catch((e: Error) => {
          // Node's client refuses some values itself; those never reach the server.
          if (
            /Invalid character|ERR_INVALID_CHAR|ERR_HTTP_INVALID_HEADER_VALUE/.test(
              e.message + (e as NodeJS.ErrnoException).code,
            )
          )
            return undefined;
          throw e;
        });
        if (answer) expect([200, 400, 401, 415, 431]).to.include(answer.status);
      }),
      { numRuns: 200 },
    );
  });

  it('answers garbage on the wire with a 4xx Status body or closes the connection', async () => {
    const garbage = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => Buffer.from(b)),
      fc
        .constantFrom(
          'GET /api/v1/models HTTP/9.9\r\n\r\n',
          'GET\r\n\r\n',
          'POST /api/v1/route HTTP/1.1\r\ncontent-length: -1\r\n\r\n',
          `GET /${'a'.repeat(100)} HTTP/1.1\r\n${'x-h: v\r\n'.repeat(5000)}\r\n`,
        )
        .map((s) => Buffer.from(s)),
    );
    await fc.assert(
      fc.asyncProperty(garbage, async (bytes) => {
        const before = backends.calls.length;
        const reply = await rawExchange(gateway.port, bytes);
        if (reply.startsWith('HTTP/1.1 ')) {
          const status = Number(reply.slice(9, 12));
          if (status >= 400) {
            const body = reply.slice(reply.indexOf('\r\n\r\n') + 4);
            expectStatusBody({ status, text: body });
          }
        } else {
          expect(reply).to.equal('');
        }
        expect(backends.calls.length).to.equal(before);
      }),
      { numRuns: 100 },
    );
  });

  it('keeps serving after all of the above', async () => {
    const answer = await send('GET', '/healthz', {});
    expect(answer.status).to.equal(200);
    const ok = await probe('GET', '/api/v1/models', { authorization: 'Bearer ok' });
    expect(ok.status).to.equal(200);
  });
});

function expectStatusBody(answer: Answer): void {
  let body: { code?: unknown; message?: unknown; details?: unknown; error?: { message?: unknown } };
  try {
    body = JSON.parse(answer.text);
  } catch {
    throw new Error(`status ${answer.status} came with a body that is not JSON: ${answer.text.slice(0, 200)}`);
  }
  expect(body.code, answer.text).to.be.a('number');
  expect(body.message).to.be.a('string').and.not.equal('');
  expect(body.details).to.deep.equal([]);
  expect(body.error?.message).to.equal(body.message);
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function isUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Writes raw bytes, then half-closes; resolves with whatever the server answered before closing. */
function rawExchange(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => socket.destroy(), 3000);
    socket.on('data', (d) => (data += d.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(data);
    });
    socket.end(bytes);
  });
}

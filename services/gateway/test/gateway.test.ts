import { expect } from 'chai';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import OpenAI from 'openai';
import { createGateway, type Gateway, type GatewayOptions } from '../src/index.js';
import { startContractBackends, type ContractBackends } from './support/contract-backends.js';

const AUTH = { authorization: 'Bearer rpx_test_key' };
const JSON_HEADERS = { 'content-type': 'application/json', ...AUTH };
const CHAT_BODY = { model: 'routeplex-ai', messages: [{ role: 'user', content: 'hi' }] };

describe('gateway (REST facade over real gRPC backends)', () => {
  let backends: ContractBackends;
  let gateway: Gateway;
  let base: string;

  before(async () => {
    backends = await startContractBackends();
    gateway = await createGateway({
      host: '127.0.0.1',
      port: 0,
      backends: { default: backends.address },
      bodyLimitBytes: 64 * 1024,
    });
    base = gateway.url;
  });
  after(async () => {
    await gateway.close();
    await backends.close();
  });
  beforeEach(() => {
    backends.calls.length = 0;
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = JSON_HEADERS) =>
    fetch(base + path, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

  describe('routing of every annotated rpc', () => {
    const cases: [string, string, unknown, string][] = [
      ['POST', '/api/v1/chat/completions', CHAT_BODY, 'CreateChatCompletion'],
      ['POST', '/api/v1/route', { messages: [{ role: 'user', content: 'x' }] }, 'SelectModel'],
      ['GET', '/api/v1/models', undefined, 'ListModels'],
      ['GET', '/api/v1/models/sim-fast', undefined, 'GetModel'],
      ['POST', '/api/v1/insights/feedback', { request_id: 'req_1', score: 4 }, 'SubmitFeedback'],
      ['GET', '/api/v1/insights/learning', undefined, 'GetLearningDashboard'],
      ['GET', '/api/v1/insights/models', undefined, 'ListModelStats'],
      ['GET', '/api/v1/insights/recommendations', undefined, 'ListRecommendations'],
      ['GET', '/api/v1/insights/requests', undefined, 'ListRequests'],
      ['DELETE', '/api/v1/insights/data', undefined, 'DeleteLearningData'],
    ];
    for (const [method, path, body, rpc] of cases) {
      it(`${method} ${path} calls ${rpc}`, async () => {
        const res = await fetch(base + path, {
          method,
          headers: JSON_HEADERS,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        expect(res.status, await res.clone().text()).to.equal(200);
        expect(res.headers.get('content-type')).to.equal('application/json');
        await readJson(res);
        expect(backends.calls.map((c) => c.method)).to.deep.equal([rpc]);
      });
    }
  });

  describe('JSON transcoding', () => {
    it('answers GET /models/{model} with the model alone, for ids with an encoded slash too', async () => {
      const res = await fetch(`${base}/api/v1/models/mistralai%2FMixtral-8x7B-Instruct-v0.1`, { headers: AUTH });
      const body = await readJson(res);
      expect(res.status).to.equal(200);
      expect(body).to.include({ id: 'mistralai/Mixtral-8x7B-Instruct-v0.1', object: 'model', owned_by: 'together' });
      expect(body).to.not.have.property('model');
    });

    it('emits proto field names (snake_case), default values and safe int64 as numbers', async () => {
      const res = await post('/api/v1/chat/completions', CHAT_BODY);
      const body = await readJson(res);
      expect(body).to.include({
        id: 'req_unary1',
        object: 'chat.completion',
        created: 1700000000,
        model: 'routeplex-ai',
      });
      expect(body.choices[0]).to.deep.equal({
        index: 0,
        message: { role: 'assistant', content: 'answer to 1 message(s)', name: '' },
        finish_reason: 'stop',
      });
      expect(body.usage).to.deep.equal({ prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 });
      expect(body.routing).to.include({
        query_type: 'QUERY_TYPE_CODE_ALGORITHM',
        auto_routed: true,
        personal_weight: 0,
        stage: 'STAGE_COLD_START',
      });
      expect(body.routing.candidates).to.deep.equal([]);
    });

    it('keeps int64 values beyond 2^53 as decimal strings', async () => {
      const body = await await readJson(fetch(`${base}/api/v1/insights/models`, { headers: AUTH }));
      expect(body.model_stats[0].rating_count).to.equal('9007199254740993');
    });

    it('accepts snake_case and lowerCamel input alike', async () => {
      await post('/api/v1/insights/feedback', { request_id: 'req_a', is_helpful: true });
      await post('/api/v1/insights/feedback', { requestId: 'req_b', isHelpful: false, score: 2 });
      expect(backends.calls.map((c) => c.request)).to.deep.equal([
        { requestId: 'req_a', score: undefined, isHelpful: true },
        { requestId: 'req_b', score: 2, isHelpful: false },
      ]);
    });

    it('rejects an unknown field with 400 naming it, and calls no backend', async () => {
      const res = await post('/api/v1/chat/completions', { ...CHAT_BODY, temprature: 0.2 });
      expect(res.status).to.equal(400);
      const body = await readJson(res);
      expect(body.code).to.equal(3);
      expect(body.message).to.contain('"temprature" is unknown');
      expect(body.details).to.deep.equal([]);
      expect(backends.calls).to.have.length(0);
    });

    it('rejects an unknown nested field with 400 naming it', async () => {
      const res = await post('/api/v1/chat/completions', {
        ...CHAT_BODY,
        messages: [{ role: 'user', content: 'x', colour: 'red' }],
      });
      expect(res.status).to.equal(400);
      expect((await readJson(res)).message).to.contain('"colour" is unknown');
    });

    it("carries OpenAI's union fields (content as parts, stop as a string) to the backend as JSON values", async () => {
      const parts = [
        { type: 'text', text: 'first' },
        { type: 'text', text: 'second' },
      ];
      const res = await post('/api/v1/chat/completions', {
        ...CHAT_BODY,
        messages: [{ role: 'user', content: parts }],
        stop: 'END',
      });
      expect(res.status, await res.clone().text()).to.equal(200);
      const request = backends.calls[0]!.request as { messages: { content: unknown }[]; stop: unknown };
      expect(request.messages[0]!.content).to.deep.equal(parts);
      expect(request.stop).to.equal('END');
    });

    it('rejects a wrong type with 400 naming the field instead of coercing it', async () => {
      for (const [field, value] of [
        ['max_tokens', 'many'],
        ['temperature', 'hot'],
        ['top_p', 'most'],
        ['messages', { role: 'user' }],
      ] as const) {
        const res = await post('/api/v1/chat/completions', { ...CHAT_BODY, [field]: value });
        expect(res.status, field).to.equal(400);
        expect((await readJson(res)).message, field).to.contain(field);
      }
      const res = await post('/api/v1/insights/feedback', { request_id: 'r', score: 2.5 });
      expect((await readJson(res)).message).to.contain('score');
      expect(backends.calls).to.have.length(0);
    });

    it('rejects a body that is not a JSON object', async () => {
      for (const body of ['[1,2]', '"text"', '42', 'null']) {
        const res = await post('/api/v1/route', body);
        expect(res.status, body).to.equal(400);
        expect((await readJson(res)).message).to.contain('must be a JSON object');
      }
    });

    it('treats an empty body as an empty message', async () => {
      const res = await fetch(`${base}/api/v1/route`, { method: 'POST', headers: AUTH });
      expect(res.status).to.equal(200);
      expect(backends.calls[0]!.request).to.deep.include({ messages: [] });
    });
  });

  describe('query parameters', () => {
    it('sets enum and Duration fields of ListModelStats', async () => {
      const res = await fetch(`${base}/api/v1/insights/models?query_type=QUERY_TYPE_MATH&time_window=3600s`, {
        headers: AUTH,
      });
      expect(res.status).to.equal(200);
      const body = await readJson(res);
      expect(body.model_stats[0]).to.include({ query_type: 'QUERY_TYPE_MATH', request_count: 3600 });
      expect(backends.calls[0]!.request).to.deep.equal({ queryType: 3, timeWindow: { seconds: '3600', nanos: 0 } });
    });

    it('accepts lowerCamel names and enum numbers', async () => {
      await fetch(`${base}/api/v1/insights/models?queryType=8&timeWindow=1.5s`, { headers: AUTH });
      expect(backends.calls[0]!.request).to.deep.equal({
        queryType: 8,
        timeWindow: { seconds: '1', nanos: 500_000_000 },
      });
    });

    it('sets page_size and page_token of ListRequests, percent-decoded', async () => {
      const body = await await readJson(
        fetch(`${base}/api/v1/insights/requests?page_size=25&page_token=a%2Bb%20c`, { headers: AUTH }),
      );
      expect(body.next_page_token).to.equal('size=25;token=a+b c');
    });

    it('rejects unknown, repeated-singular and wrongly typed parameters with 400 naming them', async () => {
      const cases: [string, string][] = [
        ['/api/v1/insights/requests?pageSiz=3', 'pageSiz'],
        ['/api/v1/insights/requests?page_size=1&page_size=2', 'page_size'],
        ['/api/v1/insights/requests?page_size=ten', 'page_size'],
        ['/api/v1/insights/models?query_type=QUERY_TYPE_POETRY', 'query_type'],
        ['/api/v1/insights/models?time_window=an-hour', 'time_window'],
      ];
      for (const [path, name] of cases) {
        const res = await fetch(base + path, { headers: AUTH });
        expect(res.status, path).to.equal(400);
        expect((await readJson(res)).message, path).to.contain(name);
      }
      expect(backends.calls).to.have.length(0);
    });

    it('rejects query parameters on a method that reads every field from the body', async () => {
      const res = await post('/api/v1/chat/completions?model=x', CHAT_BODY);
      expect(res.status).to.equal(400);
      expect((await readJson(res)).message).to.contain('query parameter "model"');
    });
  });

  describe('errors', () => {
    // grpc-gateway's HTTPStatusFromCode, observed end to end through a real backend.
    const table: [string, number, number][] = [
      ['CANCELLED', 1, 499],
      ['UNKNOWN', 2, 500],
      ['INVALID_ARGUMENT', 3, 400],
      ['DEADLINE_EXCEEDED', 4, 504],
      ['NOT_FOUND', 5, 404],
      ['ALREADY_EXISTS', 6, 409],
      ['PERMISSION_DENIED', 7, 403],
      ['RESOURCE_EXHAUSTED', 8, 429],
      ['FAILED_PRECONDITION', 9, 400],
      ['ABORTED', 10, 409],
      ['OUT_OF_RANGE', 11, 400],
      ['UNIMPLEMENTED', 12, 501],
      ['INTERNAL', 13, 500],
      ['UNAVAILABLE', 14, 503],
      ['DATA_LOSS', 15, 500],
      ['UNAUTHENTICATED', 16, 401],
    ];
    for (const [name, code, httpStatus] of table) {
      it(`maps ${name} to HTTP ${httpStatus} with a google.rpc.Status body`, async () => {
        const res = await fetch(`${base}/api/v1/models`, { headers: { authorization: `Bearer fail-${name}` } });
        expect(res.status).to.equal(httpStatus);
        const body = await readJson(res);
        expect(body).to.deep.include({ code, message: `simulated ${name} from ListModels`, details: [] });
        expect(body.error).to.include({ message: `simulated ${name} from ListModels`, code: name });
      });
    }

    it('answers 404 for an unknown path', async () => {
      for (const path of [
        '/api/v1/nothing',
        '/api/v1/models/',
        '/api/v1/models/a/b',
        '/',
        '/api/v2/models',
        '//api/v1/models',
      ]) {
        const res = await fetch(base + path, { headers: AUTH });
        expect(res.status, path).to.equal(404);
        expect((await readJson(res)).code).to.equal(5);
      }
    });

    it('answers 405 with Allow for a known path and another method', async () => {
      const res = await fetch(`${base}/api/v1/chat/completions`, { method: 'GET', headers: AUTH });
      expect(res.status).to.equal(405);
      expect(res.headers.get('allow')).to.equal('POST');
      const del = await fetch(`${base}/api/v1/insights/data`, { method: 'PUT', headers: JSON_HEADERS, body: '{}' });
      expect(del.status).to.equal(405);
      expect(del.headers.get('allow')).to.equal('DELETE');
      expect(backends.calls).to.have.length(0);
    });

    it('answers 413 for a body over the limit, declared or streamed, without calling the backend', async () => {
      const big = JSON.stringify({ ...CHAT_BODY, user: 'x'.repeat(70 * 1024) });
      const res = await post('/api/v1/chat/completions', big);
      expect(res.status).to.equal(413);
      expect((await readJson(res)).message).to.contain('larger than 65536 bytes');
      const chunked = await rawRequest(gateway.port, 'POST', '/api/v1/chat/completions', JSON_HEADERS, [
        big.slice(0, 40_000),
        big.slice(40_000),
      ]);
      expect(chunked.status).to.equal(413);
      expect(JSON.parse(chunked.body).code).to.equal(8);
      // Not a rate limit: OpenAI clients retry those.
      expect(JSON.parse(chunked.body).error.type).to.equal('invalid_request_error');
      expect(backends.calls).to.have.length(0);
    });

    it('answers 413 for a body within the limit that grows past what a service accepts once encoded', async () => {
      const roomy = await createGateway({
        host: '127.0.0.1',
        port: 0,
        backends: { default: backends.address },
        bodyLimitBytes: 4 * 1024 * 1024,
      });
      try {
        // 3.6 MB of JSON; every number of a google.protobuf.Value takes 11 bytes on the wire.
        const body = JSON.stringify({ ...CHAT_BODY, stop: new Array(1_800_000).fill(0) });
        const res = await fetch(`${roomy.url}/api/v1/chat/completions`, {
          method: 'POST',
          headers: JSON_HEADERS,
          body,
        });
        const json = await readJson(res);
        expect(res.status).to.equal(413);
        expect(json.message).to.match(/once encoded for the service, which accepts at most 8388608/);
        expect(json.error.type).to.equal('invalid_request_error');
        expect(backends.calls).to.have.length(0);
      } finally {
        await roomy.close();
      }
    });

    it('answers 400 for JSON nested deeper than the services decode, naming the field', async () => {
      const nest = (depth: number) => {
        let v: unknown = 'END';
        for (let i = 0; i < depth; i++) v = [v];
        return v;
      };
      const deep = await post('/api/v1/chat/completions', { ...CHAT_BODY, stop: nest(40) });
      expect(deep.status).to.equal(400);
      expect((await readJson(deep)).message).to.match(
        /^invalid request: field stop: nested deeper than a request may be/,
      );
      expect(backends.calls).to.have.length(0);
      const within = await post('/api/v1/chat/completions', { ...CHAT_BODY, stop: nest(30) });
      expect(within.status, await within.clone().text()).to.equal(200);
    });

    it('answers 500, not a rate limit, when a message between the facade and a service is over its size limit', async () => {
      const res = await fetch(`${base}/api/v1/models`, { headers: { authorization: 'Bearer huge' } });
      const json = await readJson(res);
      expect(res.status).to.equal(500);
      expect(json.error.type).to.equal('api_error');
      expect(json.message).to.equal('the call to the service for this path failed (RESOURCE_EXHAUSTED)');
    });

    it('answers 415 for a non-JSON content type', async () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1']) {
        const res = await post('/api/v1/route', '{}', { 'content-type': type, ...AUTH });
        expect(res.status, type).to.equal(415);
      }
      const ok = await post('/api/v1/route', '{}', { 'content-type': 'application/json; charset=UTF-8', ...AUTH });
      expect(ok.status).to.equal(200);
    });

    it('answers 400 for malformed JSON and invalid UTF-8', async () => {
      const res = await post('/api/v1/route', '{"messages": [');
      expect(res.status).to.equal(400);
      expect((await readJson(res)).message).to.contain('not valid JSON');
      // The parser quotes the text around an unexpected token: none of the body comes back.
      const secret = await post('/api/v1/route', '{"messages":[{"role":"user","content":"SECRET-prompt text"},]}');
      const message = (await readJson(secret)).message as string;
      expect(message).to.match(/^the request body is not valid JSON/);
      expect(message).to.not.include('pt text');
      const bad = await fetch(`${base}/api/v1/route`, {
        method: 'POST',
        headers: JSON_HEADERS,
        body: Buffer.concat([
          Buffer.from('{"messages":[{"role":"user","content":"'),
          Buffer.from([0xc3, 0x28]),
          Buffer.from('"}]}'),
        ]),
      });
      expect(bad.status).to.equal(400);
      expect((await readJson(bad)).message).to.contain('UTF-8');
      expect(backends.calls).to.have.length(0);
    });

    it('answers 400 for a body sent to a method that takes none', async () => {
      const res = await fetch(`${base}/api/v1/insights/data`, {
        method: 'DELETE',
        headers: JSON_HEADERS,
        body: '{"x":1}',
      });
      expect(res.status).to.equal(400);
      expect(backends.calls).to.have.length(0);
    });

    it('closes at once after the answers in flight, without waiting for their kept-alive connections', async () => {
      const closing = await createGateway({
        host: '127.0.0.1',
        port: 0,
        backends: { default: backends.address },
        bodyLimitBytes: 1024,
      });
      const before = backends.calls.length;
      const answer = fetch(`${closing.url}/api/v1/models`, { headers: { authorization: 'Bearer slow' } });
      // Until the backend has the call (a state, not a length of time); it answers 300 ms later.
      while (!backends.calls.slice(before).some((c) => c.authorization === 'Bearer slow'))
        await new Promise((resolve) => setTimeout(resolve, 5));
      const closed = closing.close();
      const res = await answer;
      expect(res.status).to.equal(200);
      expect(res.headers.get('connection')).to.equal('close');
      await res.arrayBuffer();
      // Without closing the connection once its answer is sent, close() waits for the 65 s keep-alive.
      await closed;
    });

    it('answers 503 when the backend is unreachable', async () => {
      const lonely = await createGateway({
        host: '127.0.0.1',
        port: 0,
        backends: { default: '127.0.0.1:1' },
        bodyLimitBytes: 1024,
      });
      try {
        const res = await fetch(`${lonely.url}/api/v1/models`);
        expect(res.status).to.equal(503);
        const body = await readJson(res);
        expect(body.code).to.equal(14);
        // The transport's own text names the backend's address: for the logs, not for clients.
        expect(body.message).to.equal('the service for this path is unreachable; retry later');
        expect(JSON.stringify(body)).not.to.include('127.0.0.1');
      } finally {
        await lonely.close();
      }
    });

    it('answers 501 for a service with no backend configured', async () => {
      const partial = await createGateway({
        host: '127.0.0.1',
        port: 0,
        backends: { 'routeplex.router.v1.RouterService': backends.address },
        bodyLimitBytes: 1024,
      });
      try {
        expect((await fetch(`${partial.url}/api/v1/models`)).status).to.equal(200);
        const res = await fetch(`${partial.url}/api/v1/insights/learning`);
        expect(res.status).to.equal(501);
        expect((await readJson(res)).message).to.contain('routeplex.insights.v1.InsightsService has no backend');
      } finally {
        await partial.close();
      }
    });
  });

  describe('authorization and cancellation', () => {
    it('passes Authorization on as gRPC metadata', async () => {
      await fetch(`${base}/api/v1/insights/learning`, { headers: { authorization: 'Bearer eyJhbGciOi.token' } });
      await fetch(`${base}/api/v1/insights/learning`);
      expect(backends.calls.map((c) => c.authorization)).to.deep.equal(['Bearer eyJhbGciOi.token', undefined]);
    });

    it('cancels the backend call when the client disconnects (unary)', async () => {
      const req = httpRequest(`${base}/api/v1/chat/completions`, { method: 'POST', headers: JSON_HEADERS });
      req.on('error', () => {});
      req.end(JSON.stringify({ ...CHAT_BODY, model: 'hang' }));
      await until(() => backends.calls.some((c) => c.method === 'CreateChatCompletion'));
      req.destroy();
      const call = await backends.waitForCancel('CreateChatCompletion');
      expect(call.cancelled).to.equal(true);
    });

    it('cancels the backend call when the client disconnects (stream)', async () => {
      const req = httpRequest(`${base}/api/v1/chat/completions`, {
        method: 'POST',
        headers: { ...JSON_HEADERS, authorization: 'Bearer hang' },
      });
      req.on('error', () => {});
      req.end(JSON.stringify({ ...CHAT_BODY, stream: true }));
      await until(() => backends.calls.some((c) => c.method === 'StreamChatCompletion'));
      req.destroy();
      expect((await backends.waitForCancel('StreamChatCompletion')).cancelled).to.equal(true);
    });
  });

  describe('streaming (Server-Sent Events)', () => {
    it('serves "stream": true from the streaming rpc, one data event per message, then [DONE]', async () => {
      const res = await post('/api/v1/chat/completions', { ...CHAT_BODY, stream: true });
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.equal('text/event-stream; charset=utf-8');
      const text = await res.text();
      const events = text.split('\n\n').filter(Boolean);
      expect(events).to.have.length(4);
      expect(events.at(-1)).to.equal('data: [DONE]');
      const chunks = events.slice(0, 3).map((e) => JSON.parse(e.slice('data: '.length)));
      expect(chunks.map((c) => c.choices[0].delta.content).join('')).to.equal('Hello');
      expect(chunks[0]).to.include({ object: 'chat.completion.chunk', created: 1700000000 });
      expect(chunks[0].routing.model).to.equal('routeplex-ai');
      expect(chunks[2].choices[0].finish_reason).to.equal('stop');
      expect(chunks[2].usage).to.deep.equal({ prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 });
      expect(backends.calls.map((c) => c.method)).to.deep.equal(['StreamChatCompletion']);
    });

    it('answers an error before the first message with its HTTP status', async () => {
      const res = await post(
        '/api/v1/chat/completions',
        { ...CHAT_BODY, stream: true },
        { ...JSON_HEADERS, authorization: 'Bearer fail-RESOURCE_EXHAUSTED' },
      );
      expect(res.status).to.equal(429);
      expect((await readJson(res)).code).to.equal(8);
    });

    it('ends with a data: {"error": ...} event when the stream fails midway', async () => {
      const res = await post('/api/v1/chat/completions', { ...CHAT_BODY, model: 'fail-mid-stream', stream: true });
      expect(res.status).to.equal(200);
      const events = (await res.text()).split('\n\n').filter(Boolean);
      expect(events).to.have.length(2);
      expect(JSON.parse(events[1]!.slice(6))).to.deep.equal({
        error: { message: 'provider went away', type: 'api_error', code: 'UNAVAILABLE', status: 14 },
      });
    });
  });

  describe('the official openai client', () => {
    const client = (apiKey = 'rpx_test_key') => new OpenAI({ apiKey, baseURL: `${base}/api/v1`, maxRetries: 0 });

    it('creates a chat completion with model routeplex-ai', async () => {
      const completion = await client().chat.completions.create({
        model: 'routeplex-ai',
        messages: [{ role: 'user', content: 'hello' }],
      });
      expect(completion.id).to.equal('req_unary1');
      expect(completion.choices[0]!.message.content).to.equal('answer to 1 message(s)');
      expect(completion.usage?.total_tokens).to.equal(12);
      expect(backends.calls[0]!.authorization).to.equal('Bearer rpx_test_key');
    });

    it('streams a chat completion', async () => {
      const stream = await client().chat.completions.create({
        model: 'routeplex-ai',
        messages: [{ role: 'user', content: 'hello' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      let finish: string | null = null;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        finish = chunk.choices[0]?.finish_reason || finish;
      }
      expect(text).to.equal('Hello');
      expect(finish).to.equal('stop');
    });

    it('lists models', async () => {
      const page = await client().models.list();
      expect(page.data.map((m) => m.id)).to.deep.equal(['routeplex-ai', 'sim-fast']);
    });

    const errorCases: [string, new (...args: never[]) => Error, number][] = [
      ['UNAUTHENTICATED', OpenAI.AuthenticationError, 401],
      ['INVALID_ARGUMENT', OpenAI.BadRequestError, 400],
      ['RESOURCE_EXHAUSTED', OpenAI.RateLimitError, 429],
      ['NOT_FOUND', OpenAI.NotFoundError, 404],
    ];
    for (const [code, ErrorClass, httpStatus] of errorCases) {
      it(`raises ${ErrorClass.name} on ${code}, unary and streamed`, async () => {
        for (const stream of [false, true]) {
          const err = await client(`fail-${code}`)
            .chat.completions.create({ model: 'routeplex-ai', messages: [{ role: 'user', content: 'x' }], stream })
            .then(
              () => undefined,
              (e: unknown) => e,
            );
          expect(err, `stream=${stream}`).to.be.instanceOf(ErrorClass);
          expect((err as InstanceType<typeof OpenAI.APIError>).status).to.equal(httpStatus);
          expect((err as Error).message).to.contain(`simulated ${code}`);
        }
      });
    }

    it('raises BadRequestError naming the field for a request the gateway rejects', async () => {
      const err = await client()
        .chat.completions.create({
          model: 'routeplex-ai',
          messages: [{ role: 'user', content: 'x' }],
          logit_bias: { '1': 2 },
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).to.be.instanceOf(OpenAI.BadRequestError);
      expect((err as Error).message).to.contain('logit_bias');
    });

    it('raises an APIError carrying the message of a mid-stream failure', async () => {
      const stream = await client().chat.completions.create({
        model: 'fail-mid-stream',
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
      });
      const err = await (async () => {
        for await (const _chunk of stream) {
          // drain
        }
      })().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(OpenAI.APIError);
      expect((err as Error).message).to.contain('provider went away');
    });
  });

  describe('health and OpenAPI', () => {
    it('answers GET /healthz', async () => {
      const res = await fetch(`${base}/healthz`);
      expect(res.status).to.equal(200);
      expect(await readJson(res)).to.deep.equal({ status: 'SERVING' });
    });

    it('serves the OpenAPI document at /api/v1/openapi.json', async () => {
      const res = await fetch(`${base}/api/v1/openapi.json`);
      expect(res.status).to.equal(200);
      const doc = await readJson(res);
      expect(doc.openapi).to.equal('3.1.0');
      expect(doc.paths['/api/v1/chat/completions'].post.operationId).to.equal('RouterService_CreateChatCompletion');
    });
  });
});

// Response bodies are checked field by field below; chai does the type checking at run time.

type Json = any;
async function readJson(res: Response | Promise<Response>): Promise<Json> {
  return (await res).json();
}

/** A raw HTTP/1.1 request with a chunked body, for what fetch cannot express. */
function rawRequest(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  chunks: string[],
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (d) => (data += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', body = ''] = data.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), body });
    });
    const lines = [
      `${method} ${path} HTTP/1.1`,
      'host: 127.0.0.1',
      'transfer-encoding: chunked',
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    socket.write(lines.join('\r\n') + '\r\n\r\n');
    for (const c of chunks) socket.write(`${Buffer.byteLength(c).toString(16)}\r\n${c}\r\n`);
    socket.write('0\r\n\r\n');
  });
}

describe('gateway clients that stop reading or leave mid-upload', () => {
  let backends: ContractBackends;
  before(async () => {
    backends = await startContractBackends();
  });
  after(async () => {
    await backends.close();
  });

  const gatewayWith = (options: Partial<GatewayOptions>) =>
    createGateway({
      host: '127.0.0.1',
      port: 0,
      backends: { default: backends.address },
      bodyLimitBytes: 65_536,
      ...options,
    });

  /** A streaming request whose client takes the response headers and then reads nothing more. */
  function stopReading(gateway: Gateway) {
    const req = httpRequest(
      `${gateway.url}/api/v1/chat/completions`,
      { method: 'POST', headers: JSON_HEADERS },
      (res) => res.pause(),
    );
    req.on('error', () => {});
    req.end(JSON.stringify({ ...CHAT_BODY, model: 'flood', stream: true }));
    return req;
  }

  it('disconnects a streaming client that reads nothing for stalledClientMs, cancelling its backend call', async () => {
    const gateway = await gatewayWith({ stalledClientMs: 300 });
    try {
      const req = stopReading(gateway);
      const call = await backends.waitForCancel('StreamChatCompletion', 10_000);
      expect(call.cancelled).to.equal(true);
      req.destroy();
    } finally {
      await gateway.close();
    }
  });

  it('closes, after the grace period, with a streaming client that has stopped reading', async () => {
    const gateway = await gatewayWith({ stalledClientMs: 600_000, shutdownGraceMs: 300 });
    const req = stopReading(gateway);
    await until(() => backends.calls.some((c) => c.method === 'StreamChatCompletion' && !c.cancelled));
    const outcome = await Promise.race([
      gateway.close().then(() => 'closed'),
      new Promise((resolve) => setTimeout(() => resolve('still open after 10 s'), 10_000)),
    ]);
    expect(outcome).to.equal('closed');
    expect((await backends.waitForCancel('StreamChatCompletion')).cancelled).to.equal(true);
    req.destroy();
  });

  it('does not log a client that goes away while sending its body as a failure of the gateway', async () => {
    const logged: string[] = [];
    const note = (level: string) => (_o: object, message?: string) => void logged.push(`${level}: ${message}`);
    const gateway = await gatewayWith({ logger: { info: () => {}, warn: note('warn'), error: note('error') } });
    try {
      const socket = connect(gateway.port, '127.0.0.1');
      socket.on('error', () => {});
      socket.write(
        'POST /api/v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"model":',
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      socket.destroy();
      // The gateway hears the reset within milliseconds; a failure would be logged at once.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(logged).to.deep.equal([]);
    } finally {
      await gateway.close();
    }
  });
});

describe('gateway: browsers on other origins (CORS) and HEAD', () => {
  let backends: ContractBackends;
  let gateway: Gateway;
  const APP = 'https://app.example.com';
  before(async () => {
    backends = await startContractBackends();
    gateway = await createGateway({
      host: '127.0.0.1',
      port: 0,
      backends: { default: backends.address },
      bodyLimitBytes: 65_536,
      corsOrigins: [APP, 'http://localhost:5173'],
    });
  });
  after(async () => {
    await gateway.close();
    await backends.close();
  });

  const preflight = (origin: string, path = '/api/v1/chat/completions') =>
    fetch(gateway.url + path, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, x-stainless-os',
      },
    });

  it('answers a preflight from an allowed origin with the methods of the path and the headers asked for', async () => {
    const res = await preflight(APP);
    expect(res.status).to.equal(204);
    expect(res.headers.get('access-control-allow-origin')).to.equal(APP);
    expect(res.headers.get('access-control-allow-methods')).to.equal('POST');
    expect(res.headers.get('access-control-allow-headers')).to.equal('authorization, content-type, x-stainless-os');
    const models = await preflight(APP, '/api/v1/models');
    expect(models.headers.get('access-control-allow-methods')).to.equal('GET, HEAD');
    expect(backends.calls).to.deep.equal([]);
  });

  it('refuses a preflight from another origin, saying how to allow it', async () => {
    const res = await preflight('https://evil.example');
    expect(res.status).to.equal(403);
    expect(res.headers.get('access-control-allow-origin')).to.equal(null);
    expect(((await res.json()) as { message: string }).message).to.match(
      /https:\/\/evil\.example may not call this API: add the origin .*GATEWAY_CORS_ORIGINS/,
    );
  });

  it('marks answers to an allowed origin, and only those', async () => {
    const call = (origin: string) =>
      fetch(`${gateway.url}/api/v1/chat/completions`, {
        method: 'POST',
        headers: { ...JSON_HEADERS, origin },
        body: JSON.stringify(CHAT_BODY),
      });
    const allowed = await call('http://localhost:5173');
    expect(allowed.status).to.equal(200);
    expect(allowed.headers.get('access-control-allow-origin')).to.equal('http://localhost:5173');
    expect(allowed.headers.get('vary')).to.equal('Origin');
    const other = await call('https://evil.example');
    expect(other.headers.get('access-control-allow-origin')).to.equal(null);
  });

  it('allows every origin with *', async () => {
    const open = await createGateway({
      host: '127.0.0.1',
      port: 0,
      backends: { default: backends.address },
      bodyLimitBytes: 65_536,
      corsOrigins: ['*'],
    });
    try {
      const res = await fetch(`${open.url}/api/v1/models`, { headers: { ...AUTH, origin: 'https://any.example' } });
      expect(res.headers.get('access-control-allow-origin')).to.equal('*');
    } finally {
      await open.close();
    }
  });

  it('answers HEAD on a GET route with the headers of GET and no body', async () => {
    const head = await fetch(`${gateway.url}/api/v1/models`, { method: 'HEAD', headers: AUTH });
    expect(head.status).to.equal(200);
    expect(head.headers.get('content-type')).to.match(/^application\/json/);
    expect(Number(head.headers.get('content-length'))).to.be.greaterThan(0);
    expect(await head.text()).to.equal('');
    expect(backends.calls.map((c) => c.method)).to.include('ListModels');
  });
});

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

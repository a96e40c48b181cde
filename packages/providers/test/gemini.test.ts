import { expect } from 'chai';
import { GeminiProvider } from '../src/gemini.js';
import type { ProviderError } from '../src/errors.js';
import type { ChatCall } from '../src/types.js';
import {
  collect,
  rejectionOf,
  sendJson,
  sendSse,
  startServer,
  type Handler,
  type TestServer,
} from './support/http-server.js';

const CANARY = 'canary-gemini-55ad';

function response(
  overrides: Record<string, unknown> = {},
  finishReason = 'STOP',
  parts = [{ text: 'Bonjour' }, { text: ' le monde.' }],
) {
  return {
    // Intermediate stream chunks carry no finishReason at all.
    candidates: [{ content: { role: 'model', parts }, ...(finishReason === '' ? {} : { finishReason }), index: 0 }],
    usageMetadata: { promptTokenCount: 11, candidatesTokenCount: 6, thoughtsTokenCount: 2, totalTokenCount: 19 },
    modelVersion: 'gemini-test-001',
    ...overrides,
  };
}

const call: ChatCall = {
  model: 'gemini-test',
  messages: [
    { role: 'system', content: 'Translate.' },
    { role: 'user', content: `Hello ${CANARY}` },
    { role: 'assistant', content: 'Bonjour' },
    { role: 'user', content: 'again' },
  ],
};

describe('GeminiProvider', () => {
  let server: TestServer;
  let provider: GeminiProvider;

  async function serve(handler: Handler, options: ConstructorParameters<typeof GeminiProvider>[0] = {}) {
    server = await startServer(handler);
    provider = new GeminiProvider({
      baseUrl: server.url,
      apiKey: 'g-test-key',
      retry: { baseDelayMs: 10, maxDelayMs: 20 },
      timeoutMs: 2_000,
      ...options,
    });
  }

  afterEach(async () => {
    await provider?.close();
    await server?.close();
  });

  it('calls generateContent with x-goog-api-key, contents, systemInstruction and generationConfig', async () => {
    await serve((_req, res) => sendJson(res, 200, response()));
    const result = await provider.complete({ ...call, maxTokens: 64, temperature: 0.1, topP: 0.8, stop: ['\n\n'] });
    expect(result).to.deep.equal({
      text: 'Bonjour le monde.',
      finishReason: 'stop',
      usage: { promptTokens: 11, completionTokens: 8 },
      providerModel: 'gemini-test-001',
    });
    const request = server.requests[0];
    expect(request?.path).to.equal('/v1beta/models/gemini-test:generateContent');
    expect(request?.headers['x-goog-api-key']).to.equal('g-test-key');
    expect(request?.body).to.deep.equal({
      contents: [
        { role: 'user', parts: [{ text: `Hello ${CANARY}` }] },
        { role: 'model', parts: [{ text: 'Bonjour' }] },
        { role: 'user', parts: [{ text: 'again' }] },
      ],
      systemInstruction: { parts: [{ text: 'Translate.' }] },
      generationConfig: { maxOutputTokens: 64, temperature: 0.1, topP: 0.8, stopSequences: ['\n\n'] },
    });
  });

  it('asks for JSON with responseMimeType, and gives a schema as responseJsonSchema', async () => {
    await serve((_req, res) => sendJson(res, 200, response()));
    const schema = { type: 'object', properties: { city: { type: 'string' } } };
    await provider.complete({ ...call, responseFormat: { type: 'json_object' } });
    await provider.complete({ ...call, responseFormat: { type: 'json_schema', name: 'place', schema } });
    expect(server.requests.map((r) => (r.body as { generationConfig: unknown }).generationConfig)).to.deep.equal([
      { responseMimeType: 'application/json' },
      { responseMimeType: 'application/json', responseJsonSchema: schema },
    ]);
  });

  it('maps MAX_TOKENS, SAFETY and a blocked prompt', async () => {
    await serve((_req, res, i) => {
      if (i === 0) sendJson(res, 200, response({}, 'MAX_TOKENS'));
      else if (i === 1) sendJson(res, 200, { candidates: [{ finishReason: 'SAFETY', index: 0 }], usageMetadata: {} });
      else sendJson(res, 200, { promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: 5 } });
    });
    const results = [await provider.complete(call), await provider.complete(call), await provider.complete(call)];
    expect(results.map((r) => r.finishReason)).to.deep.equal(['length', 'content_filter', 'content_filter']);
    expect(results[2]).to.include({ text: '' });
    expect(results[2]?.usage).to.deep.equal({ promptTokens: 5, completionTokens: 0 });
  });

  it('streams with streamGenerateContent?alt=sse and ends with finish reason and usage', async () => {
    await serve((_req, res) =>
      sendSse(res, [
        { data: response({ usageMetadata: { promptTokenCount: 11, candidatesTokenCount: 1 } }, '', [{ text: 'Bon' }]) },
        {
          data: response({ usageMetadata: { promptTokenCount: 11, candidatesTokenCount: 2 } }, '', [{ text: 'jour' }]),
        },
        {
          data: response({ usageMetadata: { promptTokenCount: 11, candidatesTokenCount: 3 } }, 'STOP', [{ text: '!' }]),
        },
      ]),
    );
    const chunks = await collect(provider.stream(call));
    expect(chunks.map((c) => c.deltaText ?? '').join('')).to.equal('Bonjour!');
    expect(chunks.at(-1)).to.deep.equal({
      finishReason: 'stop',
      usage: { promptTokens: 11, completionTokens: 3 },
      providerModel: 'gemini-test-001',
    });
    expect(server.requests[0]?.path).to.equal('/v1beta/models/gemini-test:streamGenerateContent?alt=sse');
  });

  it('honours a Retry-After given as an HTTP date on 429', async () => {
    const retryAt = new Date(Date.now() + 1_000).toUTCString();
    const arrivals: number[] = [];
    await serve((_req, res, i) => {
      arrivals.push(Date.now());
      if (i === 0)
        sendJson(
          res,
          429,
          { error: { code: 429, status: 'RESOURCE_EXHAUSTED', message: CANARY } },
          { 'retry-after': retryAt },
        );
      else sendJson(res, 200, response());
    });
    expect((await provider.complete(call)).text).to.equal('Bonjour le monde.');
    expect(arrivals).to.have.length(2);
    // HTTP dates have whole-second precision; the retry must not come before that second.
    expect(arrivals[1]).to.be.at.least(Date.parse(retryAt) - 5);
  });

  it('retries a 500 and then succeeds; persistent 503 gives UNAVAILABLE after bounded attempts', async () => {
    await serve((_req, res, i) =>
      i === 0
        ? sendJson(res, 500, { error: { status: 'INTERNAL' } })
        : i === 1
          ? sendJson(res, 200, response())
          : sendJson(res, 503, { error: { status: 'UNAVAILABLE', message: CANARY } }),
    );
    expect((await provider.complete(call)).text).to.equal('Bonjour le monde.');
    const error = (await rejectionOf(provider.complete(call))) as ProviderError;
    expect(error).to.include({ code: 'UNAVAILABLE', attempts: 3, upstreamType: 'UNAVAILABLE' });
    expect(error.message).to.not.include(CANARY);
    expect(server.requests).to.have.length(5);
  });

  it('reports DEADLINE_EXCEEDED for a hang past the timeout', async () => {
    await serve(() => {});
    expect(await rejectionOf(provider.complete({ ...call, timeoutMs: 120 }))).to.include({ code: 'DEADLINE_EXCEEDED' });
    await server.abandoned;
  });

  it('reports INTERNAL for a malformed body', async () => {
    await serve((_req, res) => sendJson(res, 200, { candidates: [{ content: { parts: 'text' } }] }));
    expect(await rejectionOf(provider.complete(call))).to.include({ code: 'INTERNAL' });
  });

  it('fails a stream that closes before a finish reason', async () => {
    await serve((_req, res) => sendSse(res, [{ data: response({}, '', [{ text: 'Bon' }]) }]));
    expect(await rejectionOf(collect(provider.stream(call)))).to.include({ code: 'UNAVAILABLE' });
  });

  it('aborts the upstream request when the caller aborts', async () => {
    await serve(() => {});
    const controller = new AbortController();
    const pending = collect(provider.stream({ ...call, signal: controller.signal }));
    while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    expect(await rejectionOf(pending)).to.include({ code: 'CANCELLED' });
    await server.abandoned;
  });
});

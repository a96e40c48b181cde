import { expect } from 'chai';
import { OpenAICompatibleProvider } from '../src/openai.js';
import { ProviderError } from '../src/errors.js';
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

const CANARY = 'canary-7f3a-prompt-text';

function completion(overrides: Record<string, unknown> = {}) {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1700000000,
    model: 'gpt-test-2024-01-01',
    choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Hello there.' } }],
    usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 },
    ...overrides,
  };
}

function streamEvents(texts: string[], finishReason = 'stop') {
  const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-test-2024-01-01' };
  return [
    { data: { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] } },
    ...texts.map((t) => ({ data: { ...base, choices: [{ index: 0, delta: { content: t }, finish_reason: null }] } })),
    { data: { ...base, choices: [{ index: 0, delta: {}, finish_reason: finishReason }] } },
    { data: { ...base, choices: [], usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 } } },
    { data: '[DONE]' },
  ];
}

const call: ChatCall = {
  model: 'gpt-test',
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: `Say hello ${CANARY}` },
  ],
};

describe('OpenAICompatibleProvider', () => {
  let server: TestServer;
  let provider: OpenAICompatibleProvider;

  async function serve(handler: Handler, options: ConstructorParameters<typeof OpenAICompatibleProvider>[0] = {}) {
    server = await startServer(handler);
    provider = new OpenAICompatibleProvider({
      baseUrl: `${server.url}/v1`,
      apiKey: 'sk-test-key',
      retry: { baseDelayMs: 10, maxDelayMs: 20 },
      timeoutMs: 2_000,
      ...options,
    });
  }

  afterEach(async () => {
    await provider?.close();
    await server?.close();
  });

  it('sends the chat completion request with the bearer key and reads text, finish reason, usage', async () => {
    await serve((_req, res) => sendJson(res, 200, completion()));
    const result = await provider.complete({ ...call, maxTokens: 50, temperature: 0.2, topP: 0.9, stop: ['END'] });
    expect(result).to.deep.equal({
      text: 'Hello there.',
      finishReason: 'stop',
      usage: { promptTokens: 12, completionTokens: 3 },
      providerModel: 'gpt-test-2024-01-01',
    });
    const [request] = server.requests;
    expect(request?.path).to.equal('/v1/chat/completions');
    expect(request?.headers.authorization).to.equal('Bearer sk-test-key');
    expect(request?.body).to.deep.equal({
      model: 'gpt-test',
      messages: call.messages,
      max_tokens: 50,
      temperature: 0.2,
      top_p: 0.9,
      stop: ['END'],
    });
  });

  it("sends response_format in OpenAI's shape, for an object and for a schema", async () => {
    await serve((_req, res) => sendJson(res, 200, completion()));
    const schema = { type: 'object', properties: { city: { type: 'string' } } };
    await provider.complete({ ...call, responseFormat: { type: 'json_object' } });
    await provider.complete({ ...call, responseFormat: { type: 'json_schema', name: 'place', schema, strict: true } });
    expect(server.requests.map((r) => (r.body as { response_format: unknown }).response_format)).to.deep.equal([
      { type: 'json_object' },
      { type: 'json_schema', json_schema: { name: 'place', schema, strict: true } },
    ]);
  });

  it('sends tool output as a user turn (no tool_call_id to give)', async () => {
    await serve((_req, res) => sendJson(res, 200, completion()));
    await provider.complete({ ...call, messages: [...call.messages, { role: 'tool', content: '42' }] });
    expect((server.requests[0]?.body as { messages: unknown[] }).messages.at(-1)).to.deep.equal({
      role: 'user',
      content: '42',
    });
  });

  it('uses max_completion_tokens when configured and sends no authorization without a key', async () => {
    await serve((_req, res) => sendJson(res, 200, completion()), {
      apiKey: undefined,
      maxTokensField: 'max_completion_tokens',
    });
    await provider.complete({ ...call, maxTokens: 7 });
    expect(server.requests[0]?.headers.authorization).to.equal(undefined);
    expect(server.requests[0]?.body).to.have.property('max_completion_tokens', 7);
  });

  it('maps finish reasons length, content_filter and tool_calls', async () => {
    const reasons = ['length', 'content_filter', 'tool_calls', 'something_new'];
    await serve((_req, res, i) =>
      sendJson(
        res,
        200,
        completion({ choices: [{ index: 0, finish_reason: reasons[i], message: { content: null } }] }),
      ),
    );
    const results = [];
    for (let i = 0; i < reasons.length; i++) results.push(await provider.complete(call));
    expect(results.map((r) => r.finishReason)).to.deep.equal(['length', 'content_filter', 'tool_calls', 'other']);
    expect(results[0]?.text).to.equal('');
  });

  it('streams deltas and ends with a chunk carrying finish reason and usage (include_usage requested)', async () => {
    await serve((_req, res) => sendSse(res, streamEvents(['Hel', 'lo', ' there.'], 'length')));
    const chunks = await collect(provider.stream(call));
    expect(chunks.map((c) => c.deltaText ?? '').join('')).to.equal('Hello there.');
    expect(chunks.at(-1)).to.deep.equal({
      finishReason: 'length',
      usage: { promptTokens: 9, completionTokens: 4 },
      providerModel: 'gpt-test-2024-01-01',
    });
    expect(server.requests[0]?.body).to.include({ stream: true });
    expect(server.requests[0]?.body).to.have.deep.property('stream_options', { include_usage: true });
    expect(server.requests[0]?.headers.accept).to.equal('text/event-stream');
  });

  it('waits for Retry-After (seconds) on 429 and then succeeds', async () => {
    await serve((_req, res, i) =>
      i === 0
        ? sendJson(res, 429, { error: { type: 'rate_limit_exceeded', message: 'slow down' } }, { 'retry-after': '1' })
        : sendJson(res, 200, completion()),
    );
    const started = Date.now();
    const result = await provider.complete(call);
    expect(result.text).to.equal('Hello there.');
    expect(server.requests).to.have.length(2);
    expect(Date.now() - started).to.be.at.least(950);
  });

  it('fails at once with RESOURCE_EXHAUSTED when Retry-After exceeds the cap', async () => {
    await serve((_req, res) =>
      sendJson(res, 429, { error: { code: 'rate_limit_exceeded' } }, { 'retry-after': '120' }),
    );
    const error = await rejectionOf(provider.complete(call));
    expect(error).to.be.instanceOf(ProviderError);
    expect(error).to.include({ code: 'RESOURCE_EXHAUSTED', httpStatus: 429, retryAfterMs: 120_000, retryable: true });
    expect((error as ProviderError).upstreamType).to.equal('rate_limit_exceeded');
    expect(server.requests).to.have.length(1);
  });

  it('retries a 500 and returns the next success', async () => {
    await serve((_req, res, i) =>
      i === 0 ? sendJson(res, 500, { error: { type: 'server_error' } }) : sendJson(res, 200, completion()),
    );
    const result = await provider.complete(call);
    expect(result.text).to.equal('Hello there.');
    expect(server.requests).to.have.length(2);
  });

  it('gives up with UNAVAILABLE after the bounded attempts when the upstream keeps failing', async () => {
    await serve((_req, res) => sendJson(res, 503, { error: { type: 'server_error', message: `echo ${CANARY}` } }), {
      retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 10 },
    });
    const error = (await rejectionOf(provider.complete(call))) as ProviderError;
    expect(error).to.include({ code: 'UNAVAILABLE', httpStatus: 503, attempts: 3, retryable: true });
    expect(server.requests).to.have.length(3);
    expect(error.message).to.not.include(CANARY);
    expect(error.message).to.include('gpt-test');
  });

  it('does not retry a 401 and reports UNAUTHENTICATED without the upstream text', async () => {
    await serve((_req, res) =>
      sendJson(res, 401, { error: { type: 'invalid_request_error', code: 'invalid_api_key', message: CANARY } }),
    );
    const error = (await rejectionOf(provider.complete(call))) as ProviderError;
    expect(error).to.include({ code: 'UNAUTHENTICATED', retryable: false, upstreamType: 'invalid_api_key' });
    expect(error.message).to.not.include(CANARY);
    expect(server.requests).to.have.length(1);
  });

  it('maps 400, 403 and 404 to INVALID_ARGUMENT, PERMISSION_DENIED and NOT_FOUND', async () => {
    const statuses = [400, 403, 404];
    await serve((_req, res, i) => sendJson(res, statuses[i] ?? 500, { error: { type: 'x' } }));
    const codes = [];
    for (let i = 0; i < statuses.length; i++)
      codes.push(((await rejectionOf(provider.complete(call))) as ProviderError).code);
    expect(codes).to.deep.equal(['INVALID_ARGUMENT', 'PERMISSION_DENIED', 'NOT_FOUND']);
  });

  it('reports DEADLINE_EXCEEDED when the upstream hangs past the timeout', async () => {
    await serve(() => {
      // Never answers.
    });
    const started = Date.now();
    const error = await rejectionOf(provider.complete({ ...call, timeoutMs: 150 }));
    expect(error).to.include({ code: 'DEADLINE_EXCEEDED' });
    expect(Date.now() - started).to.be.below(1_000);
    await server.abandoned;
  });

  it('reports DEADLINE_EXCEEDED when no response header of a stream arrives within the first-byte timeout', async () => {
    await serve(() => {}, { firstByteTimeoutMs: 100, timeoutMs: 5_000 });
    const started = Date.now();
    const error = (await rejectionOf(collect(provider.stream(call)))) as ProviderError;
    expect(error).to.include({ code: 'DEADLINE_EXCEEDED' });
    expect(error.message).to.include('did not start answering within 100 ms');
    expect(Date.now() - started).to.be.below(1_000);
    expect(server.requests).to.have.length(1);
    await server.abandoned;
  });

  it('waits for a whole answer past the first-byte timeout, up to the call deadline', async () => {
    // A server sends the headers of a non-streamed answer once it has generated all of it.
    await serve((_req, res) => void setTimeout(() => sendJson(res, 200, completion()), 400), {
      firstByteTimeoutMs: 100,
      timeoutMs: 5_000,
    });
    expect((await provider.complete(call)).text).to.equal('Hello there.');
  });

  it('reports INTERNAL for a body that is not JSON, without quoting it', async () => {
    await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`{"choices": [ ${CANARY}`);
    });
    const error = (await rejectionOf(provider.complete(call))) as ProviderError;
    expect(error).to.include({ code: 'INTERNAL', retryable: false });
    expect(error.message).to.not.include(CANARY);
    expect(error.cause).to.equal(undefined);
  });

  it('reports INTERNAL for JSON without choices', async () => {
    await serve((_req, res) => sendJson(res, 200, { object: 'list', data: [] }));
    expect(await rejectionOf(provider.complete(call))).to.include({ code: 'INTERNAL' });
  });

  it('aborts the upstream request when the caller aborts (the server sees the connection closed)', async () => {
    await serve(() => {});
    const controller = new AbortController();
    const pending = provider.complete({ ...call, signal: controller.signal });
    while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    expect(await rejectionOf(pending)).to.include({ code: 'CANCELLED', retryable: false });
    await server.abandoned;
  });

  it('rejects with CANCELLED at once when the signal has already fired', async () => {
    await serve((_req, res) => sendJson(res, 200, completion()));
    const error = await rejectionOf(provider.complete({ ...call, signal: AbortSignal.abort() }));
    expect(error).to.include({ code: 'CANCELLED' });
    expect(server.requests).to.have.length(0);
  });

  it('reports UNAVAILABLE when nothing listens at the base URL', async () => {
    await serve(() => {});
    const url = server.url;
    await server.close();
    const unreachable = new OpenAICompatibleProvider({
      baseUrl: `${url}/v1`,
      retry: { maxAttempts: 2, baseDelayMs: 5 },
    });
    try {
      const error = (await rejectionOf(unreachable.complete(call))) as ProviderError;
      expect(error).to.include({ code: 'UNAVAILABLE', retryable: true, attempts: 2 });
    } finally {
      await unreachable.close();
    }
  });

  describe('streaming failures', () => {
    it('retries a 500 that comes before any output', async () => {
      await serve((_req, res, i) => (i === 0 ? sendJson(res, 500, {}) : sendSse(res, streamEvents(['ok']))));
      const chunks = await collect(provider.stream(call));
      expect(chunks.map((c) => c.deltaText ?? '').join('')).to.equal('ok');
      expect(server.requests).to.have.length(2);
    });

    it('does not retry once output has started, and fails with UNAVAILABLE when the stream breaks', async () => {
      await serve((_req, res) => {
        sendSse(res, streamEvents(['partial']).slice(0, 2), { keepOpen: true });
        setTimeout(() => res.destroy(), 20);
      });
      const received: string[] = [];
      const error = await rejectionOf(
        (async () => {
          for await (const chunk of provider.stream(call)) if (chunk.deltaText) received.push(chunk.deltaText);
        })(),
      );
      expect(received).to.deep.equal(['partial']);
      expect(error).to.include({ code: 'UNAVAILABLE' });
      expect(server.requests).to.have.length(1);
    });

    it('surfaces an error event inside the stream as a ProviderError without its text', async () => {
      await serve((_req, res) =>
        sendSse(res, [
          ...streamEvents(['a']).slice(0, 2),
          { data: { error: { type: 'server_error', message: CANARY } } },
        ]),
      );
      const error = (await rejectionOf(collect(provider.stream(call)))) as ProviderError;
      expect(error).to.include({ code: 'UNAVAILABLE', upstreamType: 'server_error' });
      expect(error.message).to.not.include(CANARY);
    });

    it('drops an error type that is free text (it could quote the prompt), in a stream and in an error response', async () => {
      await serve((_req, res) =>
        sendSse(res, [...streamEvents(['a']).slice(0, 2), { data: { error: { type: `flagged: ${CANARY}` } } }]),
      );
      const streamed = (await rejectionOf(collect(provider.stream(call)))) as ProviderError;
      expect(streamed.code).to.equal('UNAVAILABLE');
      expect(streamed.upstreamType).to.equal(undefined);
      expect(streamed.message).to.not.include(CANARY);
      await provider.close();
      await server.close();
      await serve((_req, res) => sendJson(res, 400, { error: { code: `policy ${CANARY}`, message: CANARY } }));
      const refused = (await rejectionOf(provider.complete(call))) as ProviderError;
      expect(refused.code).to.equal('INVALID_ARGUMENT');
      expect(refused.message).to.not.include(CANARY);
    });

    it('reports DEADLINE_EXCEEDED when the stream stalls past the deadline', async () => {
      await serve((_req, res) => sendSse(res, streamEvents(['slow']).slice(0, 2), { keepOpen: true }));
      const error = await rejectionOf(collect(provider.stream({ ...call, timeoutMs: 150 })));
      expect(error).to.include({ code: 'DEADLINE_EXCEEDED' });
      await server.abandoned;
    });

    it('lets a stream that keeps answering run past the deadline, which then counts from the last chunk', async () => {
      const texts = Array.from({ length: 12 }, (_, i) => `t${i} `);
      await serve((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const events = streamEvents(texts);
        // One event every 40 ms, 640 ms in all, against a deadline of 400 ms.
        const timer = setInterval(() => {
          const event = events.shift();
          if (event === undefined) {
            clearInterval(timer);
            res.end();
            return;
          }
          res.write(`data: ${typeof event.data === 'string' ? event.data : JSON.stringify(event.data)}\n\n`);
        }, 40);
        res.once('close', () => clearInterval(timer));
      });
      const chunks = await collect(provider.stream({ ...call, timeoutMs: 400 }));
      expect(chunks.map((c) => c.deltaText ?? '').join('')).to.equal(texts.join(''));
    });

    it('closes the upstream connection when the consumer stops reading early', async () => {
      await serve((_req, res) => sendSse(res, streamEvents(['first', 'second']).slice(0, 2), { keepOpen: true }));
      for await (const chunk of provider.stream(call)) {
        if (chunk.deltaText) break;
      }
      await server.abandoned;
    });

    it('closes the upstream connection when the caller aborts mid-stream', async () => {
      await serve((_req, res) => sendSse(res, streamEvents(['first']).slice(0, 2), { keepOpen: true }));
      const controller = new AbortController();
      const error = await rejectionOf(
        (async () => {
          for await (const chunk of provider.stream({ ...call, signal: controller.signal })) {
            if (chunk.deltaText) controller.abort();
          }
        })(),
      );
      expect(error).to.include({ code: 'CANCELLED' });
      await server.abandoned;
    });
  });
});

import { expect } from 'chai';
import { AnthropicProvider } from '../src/anthropic.js';
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

const CANARY = 'canary-anthropic-91c2';

function message(overrides: Record<string, unknown> = {}) {
  return {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'claude-test-20250101',
    content: [
      { type: 'text', text: 'Hello' },
      { type: 'text', text: ' world.' },
    ],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 20, output_tokens: 5, cache_read_input_tokens: 4 },
    ...overrides,
  };
}

function streamEvents(texts: string[], stopReason = 'end_turn') {
  return [
    {
      event: 'message_start',
      data: {
        type: 'message_start',
        message: {
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          model: 'claude-test-20250101',
          content: [],
          usage: { input_tokens: 25, output_tokens: 1 },
        },
      },
    },
    {
      event: 'content_block_start',
      data: { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    },
    { event: 'ping', data: { type: 'ping' } },
    ...texts.map((text) => ({
      event: 'content_block_delta',
      data: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } },
    })),
    { event: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } },
    {
      event: 'message_delta',
      data: {
        type: 'message_delta',
        delta: { stop_reason: stopReason, stop_sequence: null },
        usage: { output_tokens: 7 },
      },
    },
    { event: 'message_stop', data: { type: 'message_stop' } },
  ];
}

const call: ChatCall = {
  model: 'claude-test',
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'system', content: 'Be kind.' },
    { role: 'user', content: `Hi ${CANARY}` },
    { role: 'assistant', content: 'Hello.' },
    { role: 'tool', content: 'result 42' },
  ],
};

describe('AnthropicProvider', () => {
  let server: TestServer;
  let provider: AnthropicProvider;

  async function serve(handler: Handler, options: ConstructorParameters<typeof AnthropicProvider>[0] = {}) {
    server = await startServer(handler);
    provider = new AnthropicProvider({
      baseUrl: server.url,
      apiKey: 'ak-test-key',
      retry: { baseDelayMs: 10, maxDelayMs: 20 },
      timeoutMs: 2_000,
      ...options,
    });
  }

  afterEach(async () => {
    await provider?.close();
    await server?.close();
  });

  it('sends x-api-key, anthropic-version, the system prompt split out, and reads the message', async () => {
    await serve((_req, res) => sendJson(res, 200, message()));
    const result = await provider.complete({ ...call, temperature: 0.5, stop: ['###'] });
    expect(result).to.deep.equal({
      text: 'Hello world.',
      finishReason: 'stop',
      usage: { promptTokens: 24, completionTokens: 5 },
      providerModel: 'claude-test-20250101',
    });
    const request = server.requests[0];
    expect(request?.path).to.equal('/v1/messages');
    expect(request?.headers['x-api-key']).to.equal('ak-test-key');
    expect(request?.headers['anthropic-version']).to.equal('2023-06-01');
    expect(request?.body).to.deep.equal({
      model: 'claude-test',
      max_tokens: 4096,
      system: 'Be brief.\n\nBe kind.',
      messages: [
        { role: 'user', content: `Hi ${CANARY}` },
        { role: 'assistant', content: 'Hello.' },
        { role: 'user', content: 'result 42' },
      ],
      temperature: 0.5,
      stop_sequences: ['###'],
    });
  });

  it('sends a temperature above 1 (valid on the OpenAI scale) as 1, the highest Anthropic accepts', async () => {
    await serve((_req, res) => sendJson(res, 200, message()));
    await provider.complete({ ...call, temperature: 1.6 });
    await provider.complete({ ...call, temperature: 0.7 });
    expect(server.requests.map((r) => (r.body as { temperature: number }).temperature)).to.deep.equal([1, 0.7]);
  });

  it('maps stop reasons max_tokens, refusal, tool_use and stop_sequence', async () => {
    const reasons = ['max_tokens', 'refusal', 'tool_use', 'stop_sequence', 'pause_turn'];
    await serve((_req, res, i) => sendJson(res, 200, message({ stop_reason: reasons[i] })));
    const mapped = [];
    for (let i = 0; i < reasons.length; i++)
      mapped.push((await provider.complete({ ...call, maxTokens: 9 })).finishReason);
    expect(mapped).to.deep.equal(['length', 'content_filter', 'tool_calls', 'stop', 'other']);
    expect(server.requests[0]?.body).to.have.property('max_tokens', 9);
  });

  it('streams text deltas and ends with the stop reason and usage of message_start/message_delta', async () => {
    await serve((_req, res) => sendSse(res, streamEvents(['Hel', 'lo.'], 'max_tokens')));
    const chunks = await collect(provider.stream(call));
    expect(chunks.map((c) => c.deltaText ?? '').join('')).to.equal('Hello.');
    expect(chunks.at(-1)).to.deep.equal({
      finishReason: 'length',
      usage: { promptTokens: 25, completionTokens: 7 },
      providerModel: 'claude-test-20250101',
    });
    expect(server.requests[0]?.body).to.include({ stream: true });
  });

  it('waits for Retry-After on 429 and then succeeds', async () => {
    await serve((_req, res, i) =>
      i === 0
        ? sendJson(
            res,
            429,
            { type: 'error', error: { type: 'rate_limit_error', message: CANARY } },
            { 'retry-after': '1' },
          )
        : sendJson(res, 200, message()),
    );
    const started = Date.now();
    expect((await provider.complete(call)).text).to.equal('Hello world.');
    expect(Date.now() - started).to.be.at.least(950);
    expect(server.requests).to.have.length(2);
  });

  it('retries 500 and 529 (overloaded) and then succeeds', async () => {
    await serve((_req, res, i) =>
      i === 0
        ? sendJson(res, 500, { type: 'error', error: { type: 'api_error' } })
        : i === 1
          ? sendJson(res, 529, { type: 'error', error: { type: 'overloaded_error' } })
          : sendJson(res, 200, message()),
    );
    expect((await provider.complete(call)).text).to.equal('Hello world.');
    expect(server.requests).to.have.length(3);
  });

  it('gives up with UNAVAILABLE after the bounded attempts', async () => {
    await serve(
      (_req, res) => sendJson(res, 529, { type: 'error', error: { type: 'overloaded_error', message: CANARY } }),
      {
        retry: { maxAttempts: 2, baseDelayMs: 5 },
      },
    );
    const error = (await rejectionOf(provider.complete(call))) as ProviderError;
    expect(error).to.include({ code: 'UNAVAILABLE', attempts: 2, httpStatus: 529, upstreamType: 'overloaded_error' });
    expect(error.message).to.not.include(CANARY);
    expect(server.requests).to.have.length(2);
  });

  it('reports DEADLINE_EXCEEDED for a hang past the timeout', async () => {
    await serve(() => {});
    expect(await rejectionOf(provider.complete({ ...call, timeoutMs: 120 }))).to.include({ code: 'DEADLINE_EXCEEDED' });
    await server.abandoned;
  });

  it('reports INTERNAL for a malformed body', async () => {
    await serve((_req, res) => sendJson(res, 200, { type: 'message', content: 'not-an-array' }));
    expect(await rejectionOf(provider.complete(call))).to.include({ code: 'INTERNAL' });
  });

  it('surfaces an error event in the stream, keeping only its type', async () => {
    await serve((_req, res) =>
      sendSse(res, [
        ...streamEvents(['x']).slice(0, 4),
        { event: 'error', data: { type: 'error', error: { type: 'overloaded_error', message: CANARY } } },
      ]),
    );
    const error = (await rejectionOf(collect(provider.stream(call)))) as ProviderError;
    expect(error).to.include({ code: 'UNAVAILABLE', upstreamType: 'overloaded_error' });
    expect(error.message).to.not.include(CANARY);
  });

  it('fails a stream that ends without message_stop', async () => {
    await serve((_req, res) => sendSse(res, streamEvents(['x']).slice(0, 4)));
    expect(await rejectionOf(collect(provider.stream(call)))).to.include({ code: 'UNAVAILABLE' });
  });

  it('aborts the upstream stream when the caller aborts', async () => {
    await serve((_req, res) => sendSse(res, streamEvents(['one']).slice(0, 4), { keepOpen: true }));
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

import { expect } from 'chai';
import { status } from '@grpc/grpc-js';
import { typeV1 } from '@routeplex/contracts';
import { grpcError, startFakeUpstream, startTestRouter, upstreamModel } from './harness.js';

const user = (content: string) => [{ role: 'user', content }];

describe('RouterService over gRPC', function () {
  let upstream: Awaited<ReturnType<typeof startFakeUpstream>>;
  let r: Awaited<ReturnType<typeof startTestRouter>>;

  before(async () => {
    upstream = await startFakeUpstream();
    r = await startTestRouter({
      upstreamUrl: upstream.url,
      extraModels: [
        {
          ...upstreamModel(upstream.url, 'steady-json', 'steady', 0.7, 1),
          capabilities: ['chat', 'streaming', 'json', 'json_schema'],
        },
        upstreamModel(upstream.url, 'odd', 'odd-finish', 0.5, 1),
      ],
    });
  });
  after(async () => {
    await r.close();
    await upstream.close();
  });

  it('routes routeplex-ai, answers with a req_ id and a routing block, and records one entry', async () => {
    const before = await r.store.countEntries(r.account.id);
    const res = await r.complete({
      model: 'routeplex-ai',
      messages: user('Write a Python function that reverses a linked list'),
    });
    expect(res.id).to.match(/^req_[A-Za-z0-9]{22}$/);
    expect(res.object).to.equal('chat.completion');
    expect(res.choices[0]?.message?.role).to.equal('assistant');
    const routing = res.routing!;
    expect(routing.autoRouted).to.equal(true);
    expect(routing.queryType).to.equal(typeV1.QueryType.QUERY_TYPE_CODE_ALGORITHM);
    expect(routing.candidates.length).to.be.greaterThan(1);
    expect(routing.attempts.at(-1)?.errorCode).to.equal('');
    expect(res.model).to.equal(routing.model);
    await r.store.flush();
    expect(await r.store.countEntries(r.account.id)).to.equal(before + 1);
    const entry = await r.store.getEntry(r.account.id, res.id);
    expect(entry.model).to.equal(routing.model);
    expect(entry.kind).to.equal('completion');
    expect(entry.messageHmac).to.match(/^[0-9a-f]{64}$/);
  });

  it('falls back to the next candidate when the best one fails, and lists the attempts', async () => {
    const res = await r.complete({
      model: 'routeplex-ai',
      messages: user('Implement quicksort in Go'),
      routing: { allowedModels: ['broken-large', 'steady'], preference: typeV1.Preference.PREFERENCE_QUALITY },
    });
    expect(res.routing!.model).to.equal('steady');
    expect(res.routing!.attempts.map((a) => [a.model, a.errorCode])).to.deep.equal([
      ['broken-large', 'UNAVAILABLE'],
      ['steady', ''],
    ]);
    await r.store.flush();
    const cells = await r.store.loadAccountCells(r.account.id);
    const broken = cells.find((c) => c.model === 'broken-large');
    expect(broken?.failures).to.be.greaterThan(0);
  });

  it('answers UNAVAILABLE listing every attempt when all candidates fail, and records nothing', async () => {
    await r.store.flush();
    const before = await r.store.countEntries(r.account.id);
    const err = await grpcError(
      r.complete({ model: 'routeplex-ai', messages: user('hello'), routing: { allowedModels: ['broken-large'] } }),
    );
    expect(err.code).to.equal(status.UNAVAILABLE);
    expect(err.details).to.match(/broken-large \(UNAVAILABLE\)/);
    await r.store.flush();
    expect(await r.store.countEntries(r.account.id)).to.equal(before);
  });

  it('sends a named model to that model without automatic routing', async () => {
    const res = await r.complete({ model: 'echo-small', messages: user('Hi there, how are you?') });
    expect(res.routing!.autoRouted).to.equal(false);
    expect(res.routing!.model).to.equal('echo-small');
    expect(res.choices[0]!.message!.content).to.equal('You said: Hi there, how are you?');
    expect(res.usage).to.deep.equal({ promptTokens: 11, completionTokens: 7, totalTokens: 18 });
  });

  it('streams chunks: routing first, text, then finish reason and usage; and records the answer', async () => {
    const chunks = await r.stream({ model: 'echo-small', messages: user('stream me please') });
    expect(chunks[0]!.routing?.model).to.equal('echo-small');
    expect(chunks[0]!.choices[0]!.delta!.role).to.equal('assistant');
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    expect(text).to.equal('You said: stream me please');
    const last = chunks.at(-1)!;
    expect(last.usage?.totalTokens).to.equal(18);
    expect(chunks.some((c) => c.choices[0]?.finishReason === 'stop')).to.equal(true);
    expect(new Set(chunks.map((c) => c.id)).size).to.equal(1);
    await r.store.flush();
    expect((await r.store.getEntry(r.account.id, chunks[0]!.id)).completionTokens).to.equal(7);
  });

  it("holds a named model's context window to the max_tokens it will be sent, capped by its output limit", async () => {
    // sim-tiny: a 50-token window, at most 40 tokens an answer; max_tokens 10,000 is sent as 40.
    const res = await r.complete({ model: 'sim-tiny', messages: user('hi'), maxTokens: 10_000 });
    expect(res.routing!.model).to.equal('sim-tiny');
  });

  it('passes seed and penalties on to an OpenAI-compatible upstream', async () => {
    const before = upstream.bodies.length;
    await r.complete({
      model: 'steady',
      messages: user('Write a function that adds two numbers'),
      seed: '42',
      presencePenalty: 0.5,
      frequencyPenalty: -0.25,
    });
    expect(upstream.bodies.slice(before)).to.have.length(1);
    expect(upstream.bodies[before]).to.include({ seed: 42, presence_penalty: 0.5, frequency_penalty: -0.25 });
  });

  it("sends max_completion_tokens, OpenAI's newer name for max_tokens, as the answer's bound", async () => {
    const before = upstream.bodies.length;
    await r.complete({ model: 'steady', messages: user('Say hello'), maxCompletionTokens: 64 });
    await r.complete({ model: 'steady', messages: user('Say hello'), maxTokens: 32, maxCompletionTokens: 32 });
    expect(upstream.bodies.slice(before).map((b) => b.max_tokens)).to.deep.equal([64, 32]);
  });

  it('takes content as an array of text parts and stop as a string, as OpenAI does', async () => {
    const before = upstream.bodies.length;
    const parts = [
      { type: 'text', text: 'Write a function' },
      { type: 'text', text: 'that adds two numbers' },
    ];
    await r.complete({ model: 'steady', messages: [{ role: 'user', content: parts }], stop: 'END' });
    expect(upstream.bodies.slice(before)).to.have.length(1);
    expect(upstream.bodies[before]).to.deep.include({
      messages: [{ role: 'user', content: 'Write a function\nthat adds two numbers' }],
      stop: ['END'],
    });
  });

  it('passes response_format on to a model with the json capability, and routes JSON requests only to such models', async () => {
    const before = upstream.bodies.length;
    const schema = { type: 'object', properties: { sum: { type: 'integer' } }, required: ['sum'] };
    await r.complete({
      model: 'steady-json',
      messages: user('Add 2 and 3; answer in JSON'),
      responseFormat: { type: 'json_schema', jsonSchema: { name: 'sum', schema, strict: true } },
    });
    expect(upstream.bodies[before]).to.deep.include({
      response_format: { type: 'json_schema', json_schema: { name: 'sum', schema, strict: true } },
    });
    const auto = upstream.bodies.length;
    for (let i = 0; i < 5; i++) {
      const res = await r.complete({
        model: 'routeplex-ai',
        messages: user(`List three colours as JSON, take ${i}`),
        responseFormat: { type: 'json_object' },
      });
      expect(res.routing!.model).to.equal('steady-json');
      // Prompt enhancement asks for markdown: never added on its own to a request for JSON.
      expect(res.routing!.promptEnhanced).to.equal(false);
    }
    const sent = upstream.bodies.slice(auto) as { messages: { role: string }[]; response_format: unknown }[];
    expect(sent.map((b) => b.response_format)).to.deep.equal(new Array(5).fill({ type: 'json_object' }));
    expect(sent.flatMap((b) => b.messages.map((m) => m.role))).to.deep.equal(new Array(5).fill('user'));
    // A schema is optional, as OpenAI takes it.
    await r.complete({
      model: 'steady-json',
      messages: user('Any JSON'),
      responseFormat: { type: 'json_schema', jsonSchema: { name: 'free' } },
    });
    expect(upstream.bodies.at(-1)).to.deep.include({
      response_format: { type: 'json_schema', json_schema: { name: 'free' } },
    });
    const listed = (await r.getModel({ model: 'routeplex-ai' })).model!;
    expect(listed.capabilities).to.include.members(['json', 'json_schema']);
  });

  it("takes an assistant turn's refusal as its text when it has no content, and tool turns' ids", async () => {
    const before = upstream.bodies.length;
    await r.complete({
      model: 'steady',
      messages: [
        { role: 'user', content: 'Tell me a secret' },
        { role: 'assistant', content: null, refusal: 'I cannot share that.', toolCalls: [] },
        { role: 'tool', content: 'done', toolCallId: 'call_1' },
        { role: 'user', content: 'Then say hello' },
      ],
    });
    expect((upstream.bodies[before] as { messages: unknown[] }).messages).to.deep.equal([
      { role: 'user', content: 'Tell me a secret' },
      { role: 'assistant', content: 'I cannot share that.' },
      { role: 'user', content: 'done' },
      { role: 'user', content: 'Then say hello' },
    ]);
  });

  it("reports an upstream's finish reason that OpenAI does not have as stop, unary and streamed", async () => {
    const res = await r.complete({ model: 'odd', messages: user('Say hello') });
    expect(res.choices[0]!.finishReason).to.equal('stop');
    const chunks = await r.stream({ model: 'odd', messages: user('Say hello') });
    expect(chunks.map((c) => c.choices[0]?.finishReason).filter((f) => f !== undefined)).to.deep.equal(['stop']);
  });

  it('records a SelectModel decision as a selection without calling a model', async () => {
    const calls = upstream.calls.length;
    const res = await r.select({ messages: user('What is the capital of France?') });
    expect(res.routing!.queryType).to.equal(typeV1.QueryType.QUERY_TYPE_FACTUAL);
    expect(upstream.calls.length).to.equal(calls);
    await r.store.flush();
    expect((await r.store.getEntry(r.account.id, res.id)).kind).to.equal('selection');
  });

  it('lists routeplex-ai and the enabled catalog models', async () => {
    const res = await r.listModels({});
    expect(res.object).to.equal('list');
    expect(res.data.map((m) => m.id)).to.include.members(['routeplex-ai', 'steady', 'sim-tiny']);
    expect(res.data.find((m) => m.id === 'sim-tiny')?.simulated).to.equal(true);
  });

  it('gets one model of the listing by id, and NOT_FOUND for an id it does not list', async () => {
    const listed = (await r.listModels({})).data.find((m) => m.id === 'sim-tiny');
    expect((await r.getModel({ model: 'sim-tiny' })).model).to.deep.equal(listed);
    expect((await r.getModel({ model: 'routeplex-ai' })).model?.capabilities).to.include('auto_routing');
    const missing = await grpcError(r.getModel({ model: 'gpt-9' }));
    expect(missing.code).to.equal(status.NOT_FOUND);
    expect(missing.details).to.match(/^model: no enabled model "gpt-9"; GET \/api\/v1\/models lists/);
    const empty = await grpcError(r.getModel({ model: '' }));
    expect(empty.code).to.equal(status.INVALID_ARGUMENT);
    expect(empty.details).to.match(/^model: required/);
  });

  describe('bad input is rejected with a message that says what to fix, and records nothing', () => {
    const cases: [string, Record<string, unknown>, status, RegExp][] = [
      [
        'an unknown model',
        { model: 'gpt-9', messages: user('x') },
        status.INVALID_ARGUMENT,
        /model: unknown model "gpt-9"/,
      ],
      ['a missing model', { messages: user('x') }, status.INVALID_ARGUMENT, /model: required/],
      [
        'empty messages',
        { model: 'routeplex-ai', messages: [] },
        status.INVALID_ARGUMENT,
        /messages: must contain at least one/,
      ],
      [
        'an unknown role',
        { model: 'routeplex-ai', messages: [{ role: 'wizard', content: 'x' }] },
        status.INVALID_ARGUMENT,
        /messages\[0\]\.role/,
      ],
      [
        'negative max_tokens',
        { model: 'routeplex-ai', messages: user('x'), maxTokens: -5 },
        status.INVALID_ARGUMENT,
        /max_tokens/,
      ],
      [
        'absurd max_tokens',
        { model: 'routeplex-ai', messages: user('x'), maxTokens: 2_000_000_000 },
        status.INVALID_ARGUMENT,
        /max_tokens/,
      ],
      [
        'max_completion_tokens out of range',
        { model: 'routeplex-ai', messages: user('x'), maxCompletionTokens: 0 },
        status.INVALID_ARGUMENT,
        /^max_completion_tokens: must be an integer from 1/,
      ],
      [
        'max_tokens and max_completion_tokens that disagree',
        { model: 'routeplex-ai', messages: user('x'), maxTokens: 100, maxCompletionTokens: 200 },
        status.INVALID_ARGUMENT,
        /^max_tokens and max_completion_tokens: both set, to 100 and 200/,
      ],
      [
        'an image part',
        {
          model: 'routeplex-ai',
          messages: [
            {
              role: 'user',
              content: [
                { type: 'text', text: 'What is this?' },
                { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
              ],
            },
          ],
        },
        status.INVALID_ARGUMENT,
        /^messages\[0\]\.content\[1\]\.type: "image_url" parts are not supported/,
      ],
      [
        'content that is a number',
        { model: 'routeplex-ai', messages: [{ role: 'user', content: 42 }] },
        status.INVALID_ARGUMENT,
        /^messages\[0\]\.content: must be a string or an array of text parts; got a number/,
      ],
      [
        'a text part without text',
        { model: 'routeplex-ai', messages: [{ role: 'user', content: [{ type: 'text' }] }] },
        status.INVALID_ARGUMENT,
        /^messages\[0\]\.content\[0\]\.text: must be a string; got nothing/,
      ],
      [
        'a stop sequence that is not a string',
        { model: 'routeplex-ai', messages: user('x'), stop: ['END', 7] },
        status.INVALID_ARGUMENT,
        /^stop\[1\]: must be a string; got a number/,
      ],
      [
        'five stop sequences',
        { model: 'routeplex-ai', messages: user('x'), stop: ['a', 'b', 'c', 'd', 'e'] },
        status.INVALID_ARGUMENT,
        /^stop: at most 4/,
      ],
      [
        'JSON output from a model without the capability',
        { model: 'steady', messages: user('x'), responseFormat: { type: 'json_object' } },
        status.INVALID_ARGUMENT,
        /^response_format: steady does not answer in json_object \(no "json" capability/,
      ],
      [
        'JSON output when no allowed model has the capability',
        {
          model: 'routeplex-ai',
          messages: user('x'),
          responseFormat: { type: 'json_object' },
          routing: { allowedModels: ['steady', 'echo-small'] },
        },
        status.FAILED_PRECONDITION,
        /^no model satisfies the constraints/,
      ],
      [
        'an unknown response format',
        { model: 'routeplex-ai', messages: user('x'), responseFormat: { type: 'yaml' } },
        status.INVALID_ARGUMENT,
        /^response_format\.type: use text, json_object or json_schema; got "yaml"/,
      ],
      [
        'a json_schema format without its name and schema',
        { model: 'routeplex-ai', messages: user('x'), responseFormat: { type: 'json_schema' } },
        status.INVALID_ARGUMENT,
        /^response_format\.json_schema: required with type json_schema/,
      ],
      [
        'a response format without a type',
        { model: 'routeplex-ai', messages: user('x'), responseFormat: {} },
        status.INVALID_ARGUMENT,
        /^response_format\.type: required/,
      ],
      [
        'a schema name with spaces',
        {
          model: 'routeplex-ai',
          messages: user('x'),
          responseFormat: { type: 'json_schema', jsonSchema: { name: 'my schema', schema: { type: 'object' } } },
        },
        status.INVALID_ARGUMENT,
        /^response_format\.json_schema\.name: 1-64 letters/,
      ],
      [
        'an assistant turn with tool calls',
        {
          model: 'routeplex-ai',
          messages: [
            { role: 'user', content: 'x' },
            {
              role: 'assistant',
              toolCalls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }],
            },
          ],
        },
        status.INVALID_ARGUMENT,
        /^messages\[1\]\.tool_calls: routeplex makes no tool calls/,
      ],
      [
        'an empty stop sequence',
        { model: 'routeplex-ai', messages: user('x'), stop: '' },
        status.INVALID_ARGUMENT,
        /^stop: must not be empty/,
      ],
      [
        'a part whose type is not a string',
        { model: 'routeplex-ai', messages: [{ role: 'user', content: [{ type: 7, text: 'x' }] }] },
        status.INVALID_ARGUMENT,
        /^messages\[0\]\.content\[0\]\.type: must be "text"; got a number/,
      ],
      [
        'a temperature out of range',
        { model: 'routeplex-ai', messages: user('x'), temperature: 7 },
        status.INVALID_ARGUMENT,
        /temperature/,
      ],
      [
        'a presence penalty that is not a number',
        { model: 'routeplex-ai', messages: user('x'), presencePenalty: Number.NaN },
        status.INVALID_ARGUMENT,
        /^presence_penalty: must be between -2 and 2/,
      ],
      [
        'a frequency penalty out of range',
        { model: 'routeplex-ai', messages: user('x'), frequencyPenalty: 1e308 },
        status.INVALID_ARGUMENT,
        /^frequency_penalty: must be between -2 and 2/,
      ],
      [
        'a seed beyond the integers a double holds',
        { model: 'routeplex-ai', messages: user('x'), seed: '9007199254740993' },
        status.INVALID_ARGUMENT,
        /^seed: must be an integer/,
      ],
      ['n > 1', { model: 'routeplex-ai', messages: user('x'), n: 3 }, status.INVALID_ARGUMENT, /^n: /],
      [
        'a prompt beyond every context window',
        { model: 'routeplex-ai', messages: user('word '.repeat(40_000)) },
        status.INVALID_ARGUMENT,
        /context window/,
      ],
      [
        'a prompt beyond a named model context window',
        { model: 'sim-tiny', messages: user('word '.repeat(200)) },
        status.INVALID_ARGUMENT,
        /context window of sim-tiny/,
      ],
      [
        'a max cost no model meets',
        { model: 'routeplex-ai', messages: user('Write a sorting function in C'), routing: { maxCostUsd: 1e-12 } },
        status.FAILED_PRECONDITION,
        /max_cost_usd|cost/,
      ],
      [
        'allowed models none of which this deployment has',
        { model: 'routeplex-ai', messages: user('x'), routing: { allowedModels: ['gpt-17', 'claude-99'] } },
        status.INVALID_ARGUMENT,
        /^routing\.allowed_models: none of gpt-17, claude-99 is a model of this deployment; use ids such as /,
      ],
      [
        'stream: true on the unary rpc',
        { model: 'routeplex-ai', messages: user('x'), stream: true },
        status.INVALID_ARGUMENT,
        /StreamChatCompletion/,
      ],
    ];
    for (const [name, req, code, message] of cases) {
      it(name, async () => {
        await r.store.flush();
        const before = await r.store.countEntries();
        const err = await grpcError(r.complete(req));
        expect(err.code, err.details).to.equal(code);
        expect(err.details).to.match(message);
        await r.store.flush();
        expect(await r.store.countEntries()).to.equal(before);
      });
    }

    it('UNAUTHENTICATED without a credential, with nothing recorded', async () => {
      await r.store.flush();
      const before = await r.store.countEntries();
      const err = await grpcError(r.complete({ model: 'routeplex-ai', messages: user('hello') }, null));
      expect(err.code).to.equal(status.UNAUTHENTICATED);
      await r.store.flush();
      expect(await r.store.countEntries()).to.equal(before);
    });
  });

  it('keeps each account to its own records', async () => {
    const res = await r.complete({ model: 'steady', messages: user('hello') }, r.otherKey);
    await r.store.flush();
    const mine = await r.store.listEntries(r.account.id, { pageSize: 1000 });
    expect(mine.entries.map((e) => e.id)).not.to.include(res.id);
    expect((await r.store.getEntry(r.other.id, res.id)).accountId).to.equal(r.other.id);
  });
});

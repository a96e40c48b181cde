import { expect } from 'chai';
import { status } from '@grpc/grpc-js';
import { routerV1, typeV1 } from '@routeplex/contracts';
import { openStore } from '@routeplex/store';
import { bearer } from '@routeplex/testkit';
import { validateChatRequest } from '../src/validation.js';
import { grpcError, startFakeUpstream, startTestRouter, upstreamModel } from './harness.js';

const CANARY = 'CANARY-91c4be-GROMFLOMITE';
const user = (content: string) => [{ role: 'user', content }];

describe("failures that are not the model's do not count against it", function () {
  let upstream: Awaited<ReturnType<typeof startFakeUpstream>>;
  let r: Awaited<ReturnType<typeof startTestRouter>>;
  /** Streams of `stall` closed so far, over the tests of this block (they run in order). */
  let stallsClosed = 0;

  before(async () => {
    upstream = await startFakeUpstream();
    r = await startTestRouter({
      upstreamUrl: upstream.url,
      extraModels: [
        upstreamModel(upstream.url, 'bad-request', 'fail-400', 0.99, 0.5),
        upstreamModel(upstream.url, 'stalling', 'stall', 0.5, 1),
      ],
      // Every test below fails a model at least this often: a count against it would open its breaker.
      breakerFailures: 2,
      // Far beyond the test timeout: a stalled stream ends only when the router closes it.
      callTimeoutMs: 600_000,
    });
  });
  after(async () => {
    await r.close();
    await upstream.close();
  });

  /** Automatic routing still chooses the model when it is the only one allowed: its breaker is closed. */
  async function expectStillRouted(model: string): Promise<void> {
    const res = await r.complete({
      model: 'routeplex-ai',
      messages: user('Tell me a story'),
      routing: { allowedModels: [model] },
    });
    expect(res.routing!.model).to.equal(model);
  }

  it('answers an upstream 400 with INVALID_ARGUMENT saying what to fix, and keeps the model routable', async () => {
    const messages = user(`Write a poem about ${CANARY}`);
    for (let i = 0; i < 3; i++) {
      const err = await grpcError(r.complete({ model: 'bad-request', messages }));
      expect(err.code, err.details).to.equal(status.INVALID_ARGUMENT);
      expect(err.details).to.match(/bad-request/);
      expect(err.details).to.match(/max_tokens/);
      // Neither the upstream's message (it echoes the prompt) nor the provider's internals.
      expect(err.details).not.to.include(CANARY);
      expect(err.details).not.to.include('fail-400');
      expect(err.details).not.to.include('local-bad-request');
    }
    const streamed = await r.streamOutcome({ model: 'bad-request', messages });
    expect(streamed.error?.code, streamed.error?.details).to.equal(status.INVALID_ARGUMENT);

    // Four refusals with a breaker that opens at two: the model is still a candidate, and is not the failure.
    const res = await r.complete({
      model: 'routeplex-ai',
      messages: user('Implement quicksort in Go'),
      routing: { allowedModels: ['bad-request', 'steady'], preference: typeV1.Preference.PREFERENCE_QUALITY },
    });
    expect(res.routing!.attempts.map((a) => [a.model, a.errorCode])).to.deep.equal([
      ['bad-request', 'INVALID_ARGUMENT'],
      ['steady', ''],
    ]);
    await r.store.flush();
    const cells = await r.store.loadAccountCells(r.account.id);
    expect(cells.find((c) => c.model === 'bad-request')?.failures ?? 0).to.equal(0);
    expect(r.logLines.join('\n')).not.to.include(CANARY);
  });

  it('does not count a client cancelling a stream mid-answer against the model', async () => {
    for (let i = 0; i < 3; i++) {
      const call = r.client.streamChatCompletion(
        routerV1.StreamChatCompletionRequest.fromPartial({ model: 'stalling', messages: user('Tell me a story') }),
        bearer(r.key),
      );
      const ended = new Promise<void>((resolve) => call.on('error', () => resolve()));
      await new Promise<void>((resolve) =>
        call.on('data', (m: routerV1.StreamChatCompletionResponse) => {
          if (m.choices[0]?.delta?.content) resolve();
        }),
      );
      call.cancel();
      await ended;
      await upstream.stallsClosed(++stallsClosed);
    }
    // Had the cancellations counted, the breaker would be open and automatic routing would leave the model out.
    await expectStillRouted('stalling');
  });

  it('closes the upstream stream when the consumer stops, without counting it against the model', async () => {
    const input = validateChatRequest(
      routerV1.CreateChatCompletionRequest.fromPartial({ model: 'stalling', messages: user('Tell me a story') }),
    );
    for (let i = 0; i < 2; i++) {
      const err = await r.service.router
        .stream(r.account.id, input, new AbortController().signal, async (event) => {
          if (event.chunk) throw new Error('the consumer went away');
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect((err as Error | undefined)?.message).to.equal('the consumer went away');
      // The upstream sees its request closed by the router, not by the call deadline (minutes away).
      await upstream.stallsClosed(++stallsClosed);
    }
    await expectStillRouted('stalling');
  });
});

describe('a stream the client cancels', function () {
  let upstream: Awaited<ReturnType<typeof startFakeUpstream>>;
  let r: Awaited<ReturnType<typeof startTestRouter>>;

  before(async () => {
    upstream = await startFakeUpstream();
    r = await startTestRouter({
      upstreamUrl: upstream.url,
      extraModels: [upstreamModel(upstream.url, 'bursting', 'burst', 0.5, 1)],
    });
  });
  after(async () => {
    await r.close();
    await upstream.close();
  });

  it('records nothing, even when the upstream had already sent the whole answer in one piece', async () => {
    const input = validateChatRequest(
      routerV1.CreateChatCompletionRequest.fromPartial({ model: 'bursting', messages: user('Tell me a story') }),
    );
    const client = new AbortController();
    let chunks = 0;
    const err = await r.service.router
      .stream(r.account.id, input, client.signal, async (event) => {
        // The client goes away with the first words; what the router sends from then on reaches no one.
        if (event.chunk?.deltaText && ++chunks === 1) client.abort();
      })
      .then(
        () => undefined,
        (e: unknown) => e as { code?: string },
      );
    expect(err?.code).to.equal('CANCELLED');
    await r.store.flush();
    expect((await r.store.loadAccountCells(r.account.id)).filter((c) => c.model === 'bursting')).to.deep.equal([]);
    expect(upstream.calls).to.deep.equal(['burst']);
  });
});

describe('a request whose record the store refuses', function () {
  let upstream: Awaited<ReturnType<typeof startFakeUpstream>>;
  let r: Awaited<ReturnType<typeof startTestRouter>>;
  const refusals = () => r.logLines.filter((l) => l.includes('recording a request failed')).length;

  before(async () => {
    upstream = await startFakeUpstream();
    // A database that does not keep up: one write fills the queue, and nothing commits until a flush.
    const store = await openStore({ batch: { maxDelayMs: 60_000, maxPending: 1 } });
    r = await startTestRouter({ upstreamUrl: upstream.url, store });
  });
  after(async () => {
    await r.close();
    await r.store.close();
    await upstream.close();
  });

  it('fails once, logged, without calling another model or counting against the one that answered', async () => {
    const first = await r.complete({ model: 'steady', messages: user('hello') }); // fills the queue
    const calls = upstream.calls.length;
    const err = await grpcError(
      r.complete({
        model: 'routeplex-ai',
        messages: user(`Say ${CANARY}`),
        routing: { allowedModels: ['steady', 'echo-small'] },
      }),
    );
    expect(err.code, err.details).to.equal(status.RESOURCE_EXHAUSTED);
    expect(err.details).to.match(/could not be recorded/);
    expect(err.details).to.match(/retry later/);
    expect(upstream.calls.length - calls).to.equal(1);
    expect(refusals()).to.equal(1);

    // Streamed: the text went out, but not the closing chunk; the client gets the same error instead.
    const streamed = await r.streamOutcome({ model: 'echo-small', messages: user(`Say ${CANARY}`) });
    expect(streamed.error?.code, streamed.error?.details).to.equal(status.RESOURCE_EXHAUSTED);
    expect(streamed.error?.details).to.match(/could not be recorded/);
    expect(streamed.chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).to.include(CANARY);
    expect(streamed.chunks.some((c) => c.choices[0]?.finishReason)).to.equal(false);
    expect(upstream.calls.length - calls).to.equal(2);
    expect(refusals()).to.equal(2);

    const selected = await grpcError(r.select({ messages: user('hello') }));
    expect(selected.code, selected.details).to.equal(status.RESOURCE_EXHAUSTED);
    expect(refusals()).to.equal(3);
    expect(r.logLines.join('\n')).not.to.include(CANARY);

    // Once the database catches up, the same requests are answered and recorded; the refused ones left nothing.
    await r.store.flush();
    const again = await r.complete({
      model: 'routeplex-ai',
      messages: user('hello'),
      routing: { allowedModels: ['steady'] },
    });
    expect(again.routing!.attempts.map((a) => a.errorCode)).to.deep.equal(['']);
    await r.store.flush();
    const entries = await r.store.listEntries(r.account.id, { pageSize: 100 });
    expect(entries.entries.map((e) => e.id).sort()).to.deep.equal([first.id, again.id].sort());
  });
});

describe("a model's circuit breaker", function () {
  let upstream: Awaited<ReturnType<typeof startFakeUpstream>>;
  let r: Awaited<ReturnType<typeof startTestRouter>>;

  before(async () => {
    upstream = await startFakeUpstream();
    // Opens after two failures, for the harness's cool-down of 1 s.
    r = await startTestRouter({
      upstreamUrl: upstream.url,
      breakerFailures: 2,
      extraModels: [upstreamModel(upstream.url, 'switchable', 'switch', 0.5, 1)],
    });
  });
  after(async () => {
    await r.close();
    await upstream.close();
  });

  const upstreamCalls = () => upstream.calls.filter((m) => m === 'fail-500').length;

  it('keeps a named model that it opened from being called, saying so, and lets one probe through after the cool-down', async () => {
    for (let i = 0; i < 2; i++)
      expect((await grpcError(r.complete({ model: 'broken-large', messages: user('Hi') }))).code).to.equal(
        status.UNAVAILABLE,
      );
    const before = upstreamCalls();
    const refused = await grpcError(r.complete({ model: 'broken-large', messages: user('Hi') }));
    expect(refused.code).to.equal(status.UNAVAILABLE);
    expect(refused.details).to.match(/broken-large is temporarily disabled after failures/);
    expect(upstreamCalls()).to.equal(before);

    await new Promise((resolve) => setTimeout(resolve, 1100));
    // Half-open: of five concurrent requests exactly one is the probe; it fails and the circuit opens again.
    const results = await Promise.all(
      Array.from({ length: 5 }, () => grpcError(r.complete({ model: 'broken-large', messages: user('Hi') }))),
    );
    expect(results.map((e) => e.code)).to.deep.equal(Array(5).fill(status.UNAVAILABLE));
    expect(upstreamCalls()).to.equal(before + 1);
    expect(results.filter((e) => /temporarily disabled/.test(e.details))).to.have.length(4);
  });

  it('answers automatic routing during an outage with UNAVAILABLE, and hands back a probe the request itself spoilt', async () => {
    const messages = user('Tell me a story');
    upstream.setSwitch('fail-500');
    for (let i = 0; i < 2; i++)
      expect((await grpcError(r.complete({ model: 'switchable', messages }))).code).to.equal(status.UNAVAILABLE);
    // Open: the only allowed model is out for a while. Retrying later helps (not a 400 to fix the request).
    const outage = await grpcError(
      r.complete({ model: 'routeplex-ai', messages, routing: { allowedModels: ['switchable'] } }),
    );
    expect(outage.code, outage.details).to.equal(status.UNAVAILABLE);
    expect(outage.details).to.match(/switchable is temporarily disabled after failures; retry shortly/);

    await new Promise((resolve) => setTimeout(resolve, 1100));
    // The probe is a request the upstream refuses as invalid: that says nothing of the upstream's health...
    upstream.setSwitch('fail-400');
    expect((await grpcError(r.complete({ model: 'switchable', messages }))).code).to.equal(status.INVALID_ARGUMENT);
    // ... so the next caller probes at once, instead of being refused until the reservation goes stale.
    upstream.setSwitch('answer');
    const res = await r.complete({ model: 'switchable', messages });
    expect(res.routing!.model).to.equal('switchable');
  });

  it("does not hand back another caller's probe when a call let through before the circuit opened ends", async () => {
    const messages = user('Tell me a story');
    const input = validateChatRequest(
      routerV1.CreateChatCompletionRequest.fromPartial({ model: 'switchable', messages }),
    );
    /** A stream of `switchable` that stalls after its first words, until its signal aborts. */
    const stalledStream = async (signal: AbortSignal) => {
      let started!: () => void;
      const firstWords = new Promise<void>((resolve) => (started = resolve));
      const done = r.service.router
        .stream(r.account.id, input, signal, async (event) => {
          if (event.chunk?.deltaText) started();
        })
        .catch(() => undefined);
      await firstWords;
      return { done };
    };
    upstream.setSwitch('stall');
    const early = new AbortController();
    const earlyCall = await stalledStream(early.signal);
    // The circuit opens while that call is still streaming, and a probe goes out after the cool-down.
    upstream.setSwitch('fail-500');
    for (let i = 0; i < 2; i++) await grpcError(r.complete({ model: 'switchable', messages }));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    upstream.setSwitch('stall');
    const probe = new AbortController();
    const probeCall = await stalledStream(probe.signal);
    // The early call ends (cancelled): it held no reservation, so the probe keeps its own.
    early.abort();
    await earlyCall.done;
    upstream.setSwitch('answer');
    const refused = await grpcError(r.complete({ model: 'switchable', messages }));
    expect(refused.code, refused.details).to.equal(status.UNAVAILABLE);
    expect(refused.details).to.match(/switchable is temporarily disabled/);
    probe.abort();
    await probeCall.done;
  });
});

describe('an upstream that reports no token usage', function () {
  let upstream: Awaited<ReturnType<typeof startFakeUpstream>>;
  let r: Awaited<ReturnType<typeof startTestRouter>>;

  before(async () => {
    upstream = await startFakeUpstream();
    r = await startTestRouter({
      upstreamUrl: upstream.url,
      extraModels: [upstreamModel(upstream.url, 'quiet', 'no-usage', 0.5, 1)],
    });
  });
  after(async () => {
    await r.close();
    await upstream.close();
  });

  it('has its answers counted by estimate, not recorded as free and empty', async () => {
    const res = await r.complete({ model: 'quiet', messages: user('Write a function that adds two numbers') });
    expect(res.usage!.completionTokens).to.be.greaterThan(0);
    expect(res.usage!.promptTokens).to.be.greaterThan(0);
    await r.store.flush();
    const entry = await r.store.getEntry(r.account.id, res.id);
    expect(entry.completionTokens).to.equal(res.usage!.completionTokens);
    expect(entry.costUsd).to.be.greaterThan(0);
  });

  it('streams a closing chunk with the estimated usage, as the contract promises', async () => {
    const chunks = await r.stream({ model: 'quiet', messages: user('Write a function that adds two numbers') });
    const last = chunks.at(-1)!;
    expect(last.usage?.completionTokens).to.be.greaterThan(0);
    await r.store.flush();
    expect((await r.store.getEntry(r.account.id, chunks[0]!.id)).completionTokens).to.equal(
      last.usage!.completionTokens,
    );
  });
});

import { getEventListeners } from 'node:events';
import { expect } from 'chai';
import { ProviderError } from '../src/errors.js';
import type { ChatCall } from '../src/types.js';
import { UpstreamClient, field, type StreamDecoder } from '../src/upstream.js';
import { collect, rejectionOf, sendJson, sendSse, startServer, type TestServer } from './support/http-server.js';

/** How long the blocking request holds the only connection unless the test releases it earlier. */
const BLOCKER_HOLD_MS = 3_000;
/** Well under BLOCKER_HOLD_MS, yet loose enough for a busy machine. */
const PROMPT_MS = 1_500;

const call: ChatCall = { model: 'queue-test', messages: [{ role: 'user', content: 'hi' }] };

/** One SSE event per `{"text": ...}` data line, ended by `[DONE]`. */
function textStreamDecoder(): StreamDecoder {
  let done = false;
  return {
    onEvent(event) {
      if (event.data === '[DONE]') {
        done = true;
        return undefined;
      }
      return { deltaText: String(field(JSON.parse(event.data), 'text')) };
    },
    get done() {
      return done;
    },
    finish: () => ({ finishReason: 'stop' }),
  };
}

describe('UpstreamClient', () => {
  describe('a call queued behind a busy connection', () => {
    let server: TestServer;
    let client: UpstreamClient;
    let releaseBlocker: () => void;

    beforeEach(async () => {
      let release: () => void = () => {};
      releaseBlocker = () => release();
      server = await startServer((request, res) => {
        const name = String(field(request.body, 'name'));
        if (name === 'blocker') {
          const timer = setTimeout(() => release(), BLOCKER_HOLD_MS);
          release = () => {
            clearTimeout(timer);
            if (!res.writableEnded) sendJson(res, 200, { name });
          };
        } else if (request.path === '/stream') {
          sendSse(res, [{ data: { text: name } }, { data: '[DONE]' }]);
        } else {
          sendJson(res, 200, { name });
        }
      });
      // One connection stands in for a pool whose connections are all busy.
      client = new UpstreamClient('queue-test', server.url, {}, { connections: 1, timeoutMs: 10_000 }, () => undefined);
    });

    afterEach(async () => {
      releaseBlocker();
      await client.close();
      await server.close();
    });

    /**
     * Starts a long unary call and resolves once the server holds it, i.e. the only connection is taken. The call's
     * promise comes back wrapped, since an async function returning it would wait for it.
     */
    async function occupyConnection(): Promise<{ blocker: Promise<unknown> }> {
      const blocker = client.postJson(call, '/unary', JSON.stringify({ name: 'blocker' }), (json) => json);
      while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
      return { blocker };
    }

    const kinds = {
      unary: (c: ChatCall, name: string) => client.postJson(c, '/unary', JSON.stringify({ name }), (json) => json),
      stream: (c: ChatCall, name: string) =>
        collect(client.postStream(c, '/stream', JSON.stringify({ name }), textStreamDecoder)),
    };

    /** After the blocker finishes, the next call gets through and the server never saw the abandoned one. */
    async function expectConnectionReusable(blocker: Promise<unknown>, kind: keyof typeof kinds): Promise<void> {
      releaseBlocker();
      expect(await blocker).to.deep.equal({ name: 'blocker' });
      const after = await kinds[kind](call, 'after');
      expect(after).to.deep.equal(
        kind === 'unary' ? { name: 'after' } : [{ deltaText: 'after' }, { finishReason: 'stop' }],
      );
      expect(server.requests.map((r) => field(r.body, 'name'))).to.deep.equal(['blocker', 'after']);
    }

    for (const kind of ['unary', 'stream'] as const) {
      it(`${kind}: rejects with DEADLINE_EXCEEDED at its timeout, not when the connection frees, and is never sent`, async () => {
        const { blocker } = await occupyConnection();
        const caller = new AbortController();
        // The caller's abort comes after the deadline, so the deadline decides the error.
        const lateAbort = setTimeout(() => caller.abort(), 600);
        const started = Date.now();
        const error = await rejectionOf(kinds[kind]({ ...call, timeoutMs: 300, signal: caller.signal }, 'queued'));
        const elapsed = Date.now() - started;
        clearTimeout(lateAbort);
        expect(error).to.be.instanceOf(ProviderError);
        expect(error).to.include({ code: 'DEADLINE_EXCEEDED', retryable: false });
        expect((error as ProviderError).message).to.include('did not finish within the call deadline');
        expect(elapsed).to.be.below(PROMPT_MS);
        expect(getEventListeners(caller.signal, 'abort')).to.have.length(0);
        await expectConnectionReusable(blocker, kind);
      });

      it(`${kind}: rejects with CANCELLED as soon as the caller aborts, not when the connection frees, and is never sent`, async () => {
        const { blocker } = await occupyConnection();
        const caller = new AbortController();
        setTimeout(() => caller.abort(), 200);
        const started = Date.now();
        const error = await rejectionOf(kinds[kind]({ ...call, timeoutMs: 10_000, signal: caller.signal }, 'queued'));
        const elapsed = Date.now() - started;
        expect(error).to.be.instanceOf(ProviderError);
        expect(error).to.include({ code: 'CANCELLED', retryable: false });
        expect((error as ProviderError).message).to.include('cancelled by the caller');
        expect(elapsed).to.be.below(PROMPT_MS);
        expect(getEventListeners(caller.signal, 'abort')).to.have.length(0);
        await expectConnectionReusable(blocker, kind);
      });
    }
  });
});

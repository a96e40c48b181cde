import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { routerV1 } from '@routeplex/contracts';
import { Authenticator, createLogger } from '@routeplex/platform';
import { loadCatalog } from '@routeplex/providers';
import { makeScoringConfig } from '@routeplex/scoring';
import { openStore, type Store } from '@routeplex/store';
import { startRouterService } from '../src/index.js';

/**
 * A local OpenAI-compatible upstream whose behaviour is chosen by the model name: `fail-500` always fails,
 * `fail-400` refuses the request as invalid (its error message echoes the prompt, as real ones can), `no-usage`
 * answers without reporting token usage (as some OpenAI-compatible servers do), `odd-finish` ends with a finish
 * reason OpenAI does not have, `echo`
 * answers with the last user message (so that canaries reach the answer), `stall` streams two chunks and then
 * holds the stream open until the client goes away, `burst` streams its whole answer in one write (as a fast
 * upstream's short answer arrives), `switch` behaves as `fail-500`, `fail-400`, `stall` or a plain answer as the test sets
 * with `setSwitch`, anything else answers a fixed text. It speaks the real protocol, unary and SSE.
 */
export async function startFakeUpstream() {
  const calls: string[] = [];
  /** The request bodies, as the upstream received them. */
  const bodies: Record<string, unknown>[] = [];
  let stallsClosed = 0;
  const closeWaiters: { count: number; resolve: () => void }[] = [];
  const onStallClosed = () => {
    stallsClosed++;
    for (const w of closeWaiters.filter((w) => stallsClosed >= w.count)) {
      closeWaiters.splice(closeWaiters.indexOf(w), 1);
      w.resolve();
    }
  };
  const sseChunk = (model: string, delta: object, finishReason: string | null) =>
    `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', model, choices: [{ index: 0, delta, finish_reason: finishReason }] })}\n\n`;
  let switchMode: 'fail-500' | 'fail-400' | 'stall' | 'answer' = 'answer';
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const payload = JSON.parse(body) as {
        model: string;
        stream?: boolean;
        messages: { role: string; content: string }[];
      };
      calls.push(payload.model);
      bodies.push(payload);
      const last = payload.messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
      const behaviour = payload.model === 'switch' ? switchMode : payload.model;
      if (behaviour === 'fail-500') {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'upstream broke', type: 'server_error' } }));
        return;
      }
      if (behaviour === 'fail-400') {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ error: { message: `this prompt is not accepted: ${last}`, type: 'invalid_request_error' } }),
        );
        return;
      }
      if (behaviour === 'stall' && payload.stream) {
        res.on('close', onStallClosed);
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(sseChunk(payload.model, { content: 'Let me ' }, null));
        res.write(sseChunk(payload.model, { content: 'think. ' }, null));
        return;
      }
      const text = payload.model === 'echo' ? `You said: ${last}` : 'Here is an answer.\n\n```js\nconst x = 1;\n```';
      if (payload.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const events = text
          .split(/(?<= )/)
          .map((w) => sseChunk(payload.model, { content: w }, null))
          .concat(sseChunk(payload.model, {}, payload.model === 'odd-finish' ? 'pause_turn' : 'stop'));
        if (payload.model !== 'no-usage')
          events.push(
            `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', model: payload.model, choices: [], usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 } })}\n\n`,
          );
        events.push('data: [DONE]\n\n');
        if (payload.model === 'burst') res.end(events.join(''));
        else {
          for (const e of events.slice(0, -1)) res.write(e);
          res.end(events.at(-1));
        }
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'c',
          object: 'chat.completion',
          model: payload.model,
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: text },
              finish_reason: payload.model === 'odd-finish' ? 'pause_turn' : 'stop',
            },
          ],
          ...(payload.model === 'no-usage'
            ? {}
            : { usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 } }),
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return {
    url,
    calls,
    bodies,
    /** Resolves once `count` streams of `stall` have been closed by their client, in all. */
    stallsClosed: (count: number) =>
      new Promise<void>((resolve) => {
        if (stallsClosed >= count) resolve();
        else closeWaiters.push({ count, resolve });
      }),
    /** How the `switch` model answers from now on. */
    setSwitch: (mode: typeof switchMode) => {
      switchMode = mode;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const common = {
  contextWindow: 8000,
  maxOutputTokens: 2000,
  capabilities: ['chat', 'streaming'],
  typicalLatencyMs: 500,
};

/** A catalog entry for a model of the fake upstream (`providerModel` chooses its behaviour). */
export function upstreamModel(upstreamUrl: string, id: string, providerModel: string, quality: number, price: number) {
  return {
    id,
    provider: 'openai',
    providerName: `local-${id}`,
    providerModel,
    baseUrl: upstreamUrl,
    pricing: { inputPerMTok: price, outputPerMTok: price * 2 },
    priorQuality: { code_algorithm: quality, conversation: quality, factual: quality, creative: quality },
    ...common,
  };
}

/**
 * Catalog used by router tests: two simulated models and three upstream models with scripted behaviour, plus
 * `extra` entries for the tests that need more.
 */
export function testCatalogJson(upstreamUrl: string, extra: ReturnType<typeof upstreamModel>[] = []) {
  const upstream = (id: string, providerModel: string, quality: number, price: number) =>
    upstreamModel(upstreamUrl, id, providerModel, quality, price);
  return {
    models: [
      ...extra,
      upstream('broken-large', 'fail-500', 0.99, 20),
      upstream('echo-small', 'echo', 0.6, 0.5),
      upstream('steady', 'steady', 0.7, 1),
      {
        id: 'sim-tiny',
        provider: 'simulator',
        pricing: { inputPerMTok: 0.1, outputPerMTok: 0.2 },
        priorQuality: { code_algorithm: 0.3 },
        simulated: { quality: { code_algorithm: 0.3 }, defaultQuality: 0.4, ttftMs: 0, outputTokensPerSecond: 1000 },
        ...common,
        contextWindow: 50,
        maxOutputTokens: 40,
      },
    ],
  };
}

export const TEST_KEY = 'rpx_' + 'T'.repeat(32);

export async function startTestRouter(options: {
  upstreamUrl: string;
  logLines?: string[];
  store?: Store;
  seed?: number;
  extraModels?: ReturnType<typeof upstreamModel>[];
  /** Consecutive failures that open a model's breaker (default: high enough never to open). */
  breakerFailures?: number;
  callTimeoutMs?: number;
}) {
  const logLines = options.logLines ?? [];
  const logger = createLogger({
    name: 'router-test',
    level: 'debug',
    destination: { write: (line: string) => void logLines.push(line) },
  });
  const store = options.store ?? (await openStore({ batch: { maxDelayMs: 5 } }));
  const account = await store.createAccount('router-test');
  const { key } = await store.createApiKey(account.id);
  const other = await store.createAccount('router-test-other');
  const otherKey = (await store.createApiKey(other.id)).key;
  const catalog = loadCatalog({
    json: testCatalogJson(options.upstreamUrl, options.extraModels),
    env: {},
    latencyScale: 0,
    http: { timeoutMs: 2000, retry: { maxAttempts: 1 } },
  });
  const authenticator = new Authenticator({ accountClaim: 'sub', apiKeyCacheMs: 0 }, (hash) =>
    store.findAccountByKeyHash(hash),
  );
  const service = await startRouterService({
    store,
    catalog,
    authenticator,
    logger,
    host: '127.0.0.1',
    port: 0,
    scoring: makeScoringConfig({ anonymityK: 1 }),
    hmacSecret: 'h'.repeat(32),
    enhancementHoldout: 0.2,
    maxAttempts: 3,
    callTimeoutMs: options.callTimeoutMs ?? 5000,
    breaker: { failureThreshold: options.breakerFailures ?? 1000, coolDownMs: 1000 },
    seed: options.seed ?? 7,
  });
  const client = new routerV1.RouterServiceClient(`127.0.0.1:${service.port}`, credentials.createInsecure());
  const md = (k: string | undefined) => {
    const m = new Metadata();
    if (k) m.set('authorization', `Bearer ${k}`);
    return m;
  };
  const unary =
    <Req, Res>(
      method: (req: Req, md: Metadata, cb: (err: ServiceError | null, res: Res) => void) => unknown,
      fromPartial: (p: never) => Req,
    ) =>
    (req: unknown, k?: string | null) =>
      new Promise<Res>((resolve, reject) =>
        method.call(client, fromPartial(req as never), md(k === null ? undefined : (k ?? key)), (err, res) =>
          err ? reject(err) : resolve(res),
        ),
      );
  type Partial<T> = routerV1.DeepPartial<T>;
  return {
    store,
    account,
    key,
    other,
    otherKey,
    client,
    logLines,
    catalog,
    service,
    complete: unary<routerV1.CreateChatCompletionRequest, routerV1.CreateChatCompletionResponse>(
      client.createChatCompletion as never,
      routerV1.CreateChatCompletionRequest.fromPartial,
    ) as (
      req: Partial<routerV1.CreateChatCompletionRequest>,
      k?: string | null,
    ) => Promise<routerV1.CreateChatCompletionResponse>,
    select: unary<routerV1.SelectModelRequest, routerV1.SelectModelResponse>(
      client.selectModel as never,
      routerV1.SelectModelRequest.fromPartial,
    ) as (req: Partial<routerV1.SelectModelRequest>, k?: string | null) => Promise<routerV1.SelectModelResponse>,
    listModels: unary<routerV1.ListModelsRequest, routerV1.ListModelsResponse>(
      client.listModels as never,
      routerV1.ListModelsRequest.fromPartial,
    ) as (req: Partial<routerV1.ListModelsRequest>, k?: string | null) => Promise<routerV1.ListModelsResponse>,
    getModel: unary<routerV1.GetModelRequest, routerV1.GetModelResponse>(
      client.getModel as never,
      routerV1.GetModelRequest.fromPartial,
    ) as (req: Partial<routerV1.GetModelRequest>, k?: string | null) => Promise<routerV1.GetModelResponse>,
    stream(req: routerV1.DeepPartial<routerV1.StreamChatCompletionRequest>, k: string = key) {
      return new Promise<routerV1.StreamChatCompletionResponse[]>((resolve, reject) => {
        const out: routerV1.StreamChatCompletionResponse[] = [];
        const call = client.streamChatCompletion(routerV1.StreamChatCompletionRequest.fromPartial(req), md(k));
        call.on('data', (m: routerV1.StreamChatCompletionResponse) => out.push(m));
        call.on('error', reject);
        call.on('end', () => resolve(out));
      });
    },
    /** A stream's messages and how it ended (an error, or undefined when it ended normally). */
    streamOutcome(req: routerV1.DeepPartial<routerV1.StreamChatCompletionRequest>, k: string = key) {
      return new Promise<{ chunks: routerV1.StreamChatCompletionResponse[]; error: ServiceError | undefined }>(
        (resolve) => {
          const chunks: routerV1.StreamChatCompletionResponse[] = [];
          const call = client.streamChatCompletion(routerV1.StreamChatCompletionRequest.fromPartial(req), md(k));
          call.on('data', (m: routerV1.StreamChatCompletionResponse) => chunks.push(m));
          call.on('error', (error: ServiceError) => resolve({ chunks, error }));
          call.on('end', () => resolve({ chunks, error: undefined }));
        },
      );
    },
    async close() {
      client.close();
      await service.close();
      if (!options.store) await store.close();
      await Promise.all(catalog.providers().map((p) => p.close()));
    },
  };
}

export async function grpcError(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('expected the call to fail');
}

export const silentLogger = createLogger({ name: 'test', level: 'silent' });

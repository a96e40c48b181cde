import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEmbeddedConfig, startEmbedded, type Embedded } from '@routeplex/cli';
import { createLogger } from '@routeplex/platform';
import { makeScoringConfig, type ScoringConfig } from '@routeplex/scoring';

export interface TestStack extends Embedded {
  store: Embedded['store'];
  /** Calls the REST facade; returns status and parsed JSON. */
  rest(method: string, path: string, key: string, body?: unknown): Promise<{ status: number; json: any }>;
  newAccount(name: string): Promise<{ id: string; key: string }>;
  stop(): Promise<void>;
}

/**
 * The embedded default with free ports, the simulator at full speed and (by default) greedy choices, so that
 * cross-service tests are deterministic.
 */
export async function startTestStack(
  options: { scoring?: ScoringConfig; databaseUrl?: string; env?: Record<string, string> } = {},
): Promise<TestStack> {
  const dataDir = await mkdtemp(join(tmpdir(), 'rpx-stack-'));
  const config = loadEmbeddedConfig({
    ROUTEPLEX_DATA_DIR: dataDir,
    ROUTER_GRPC_PORT: '0',
    FEEDBACK_GRPC_PORT: '0',
    INSIGHTS_GRPC_PORT: '0',
    GATEWAY_PORT: '0',
    ROUTEPLEX_SIM_LATENCY_SCALE: '0',
    ROUTEPLEX_BATCH_MAX_DELAY_MS: '5',
    ROUTEPLEX_GATEWAY_MODE: 'inline',
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
    ...options.env,
  });
  const embedded = await startEmbedded({
    config,
    env: {},
    inMemory: !options.databaseUrl,
    scoring: options.scoring ?? makeScoringConfig({ exploration: { scale: 0 } }),
    logger: createLogger({ name: 'stack', level: 'silent' }),
    seed: 1,
  });
  return {
    ...embedded,
    async rest(method, path, key, body) {
      const res = await fetch(embedded.gatewayUrl + path, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : undefined };
    },
    async newAccount(name) {
      const account = await embedded.store.createAccount(name);
      const { key } = await embedded.store.createApiKey(account.id);
      return { id: account.id, key };
    },
    async stop() {
      await embedded.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

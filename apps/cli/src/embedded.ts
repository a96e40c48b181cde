import { fork } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  Authenticator,
  authConfigFrom,
  createLogger,
  exitOnFatal,
  forgetKeysOnChange,
  listenOn,
  StartupError,
  type Logger,
} from '@routeplex/platform';
import { hashApiKey as hashKey, openStore, type Store } from '@routeplex/store';
import { loadCatalog } from '@routeplex/providers';
import { classify, defaultScoringConfig, type ScoringConfig } from '@routeplex/scoring';
import { startRouterService } from '@routeplex/router';
import { startFeedbackService } from '@routeplex/feedback';
import { startInsightsService } from '@routeplex/insights';
import { createGateway, DASHBOARD_DIR, DASHBOARD_PREFIX } from '@routeplex/gateway';

const GATEWAY_MAIN = fileURLToPath(import.meta.resolve('@routeplex/gateway/main'));
const OTEL_HOOK = import.meta.resolve('@routeplex/platform/otel-hook');
// Resolved here rather than by the child: a bare `--import tsx` is looked up from the working directory,
// which need not be the repository when the installed command runs.
const TSX = import.meta.resolve('tsx');
import type { EmbeddedConfig } from './config.js';

export interface EmbeddedSecrets {
  hmacSecret: string;
  jwtSecret: string;
}

/**
 * Secrets of an embedded install: from the environment, else generated once and kept in the data folder
 * (only the generated ones: a secret given in the environment is never copied to disk). A file that exists
 * but cannot be read is an error, not a first start: new secrets would silently invalidate every issued
 * development JWT and every message hash.
 */
export async function embeddedSecrets(
  config: Pick<EmbeddedConfig, 'ROUTEPLEX_DATA_DIR' | 'ROUTEPLEX_HMAC_SECRET' | 'ROUTEPLEX_JWT_SECRET'>,
): Promise<EmbeddedSecrets> {
  const file = secretsFile(config.ROUTEPLEX_DATA_DIR);
  const saved = await savedSecrets(config.ROUTEPLEX_DATA_DIR);
  // What is saved stays saved, also while the environment overrides it: a start with one secret set must
  // not cost the next plain start the secret it generated earlier.
  const kept: Partial<EmbeddedSecrets> = { ...saved };
  if (config.ROUTEPLEX_HMAC_SECRET === undefined) kept.hmacSecret ??= randomBytes(32).toString('hex');
  if (config.ROUTEPLEX_JWT_SECRET === undefined) kept.jwtSecret ??= randomBytes(32).toString('hex');
  if (kept.hmacSecret !== saved.hmacSecret || kept.jwtSecret !== saved.jwtSecret) {
    await writeFile(file, JSON.stringify(kept), { mode: 0o600 });
    await chmod(file, 0o600);
  }
  return {
    hmacSecret: config.ROUTEPLEX_HMAC_SECRET ?? kept.hmacSecret!,
    jwtSecret: config.ROUTEPLEX_JWT_SECRET ?? kept.jwtSecret!,
  };
}

function secretsFile(dataDir: string): string {
  return join(dataDir, 'secrets.json');
}

/** The secrets an embedded start generated in `dataDir`; none before the first start. */
export async function savedSecrets(dataDir: string): Promise<Partial<EmbeddedSecrets>> {
  const file = secretsFile(dataDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw unreadableSecrets(file, error);
  }
  try {
    return JSON.parse(text) as Partial<EmbeddedSecrets>;
  } catch (error) {
    throw unreadableSecrets(file, error);
  }
}

function unreadableSecrets(file: string, cause: unknown): Error {
  return new Error(
    `${file} exists but cannot be read as the install's secrets: restore it, or delete it to generate new ones (development JWTs and message hashes made with the old ones will no longer match)`,
    { cause },
  );
}

export interface Embedded {
  store: Store;
  logger: Logger;
  secrets: EmbeddedSecrets;
  gatewayUrl: string;
  ports: { router: number; feedback: number; insights: number; gateway: number };
  /** A development API key (created on first start and kept in the data folder). */
  devApiKey: string;
  close(): Promise<void>;
}

export interface EmbeddedOptions {
  config: EmbeddedConfig;
  /** The environment, for the catalog's API key variables. */
  env: Record<string, string | undefined>;
  scoring?: ScoringConfig;
  /** Keep PGlite in memory instead of the data folder (tests). */
  inMemory?: boolean;
  logger?: Logger;
  seed?: number;
}

/**
 * The embedded default: one process, every service on its own gRPC port, the REST facade in front, one
 * shared store (PGlite allows one process per folder; with DATABASE_URL it is PostgreSQL).
 */
export async function startEmbedded(options: EmbeddedOptions): Promise<Embedded> {
  const { config } = options;
  const logger = options.logger ?? createLogger({ name: 'routeplex', level: config.ROUTEPLEX_LOG_LEVEL });
  await mkdir(config.ROUTEPLEX_DATA_DIR, { recursive: true });
  const secrets = await embeddedSecrets(config);
  const scoring = options.scoring ?? defaultScoringConfig;
  const catalog = loadCatalog({
    ...(config.ROUTEPLEX_CATALOG ? { path: resolve(config.ROUTEPLEX_CATALOG) } : {}),
    env: options.env,
    latencyScale: config.ROUTEPLEX_SIM_LATENCY_SCALE,
    // Simulated models judge a request's type the way the router does.
    classify: (messages) => classify(messages).queryType,
  });
  const store = await openStore({
    ...(config.DATABASE_URL
      ? { databaseUrl: config.DATABASE_URL }
      : options.inMemory
        ? {}
        : { pgliteDir: join(config.ROUTEPLEX_DATA_DIR, 'pglite') }),
    batch: {
      maxEntries: config.ROUTEPLEX_BATCH_MAX_ENTRIES,
      maxDelayMs: config.ROUTEPLEX_BATCH_MAX_DELAY_MS ?? (config.DATABASE_URL ? 20 : 200),
    },
    logger,
    onFatal: exitOnFatal(logger, 'the embedded database stopped'),
  });
  const authenticator = new Authenticator({ ...authConfigFrom(config), jwtSecret: secrets.jwtSecret }, (hash) =>
    store.findAccountByKeyHash(hash),
  );
  forgetKeysOnChange(authenticator, store);
  const devApiKey = await ensureDevKey(store, config.ROUTEPLEX_DATA_DIR);
  const host = config.GRPC_HOST;
  const shared = { store, authenticator, logger, host, scoring };
  const router = await listenOn({ variable: 'ROUTER_GRPC_PORT', host, port: config.ROUTER_GRPC_PORT }, () =>
    startRouterService({
      ...shared,
      port: config.ROUTER_GRPC_PORT,
      catalog,
      hmacSecret: secrets.hmacSecret,
      enhancementHoldout: config.ROUTEPLEX_ENHANCEMENT_HOLDOUT,
      maxAttempts: config.ROUTEPLEX_MAX_ATTEMPTS,
      callTimeoutMs: config.ROUTEPLEX_CALL_TIMEOUT_MS,
      breaker: { failureThreshold: 5, coolDownMs: 30_000 },
      ...(options.seed === undefined ? {} : { seed: options.seed }),
    }),
  );
  const feedback = await listenOn({ variable: 'FEEDBACK_GRPC_PORT', host, port: config.FEEDBACK_GRPC_PORT }, () =>
    startFeedbackService({
      ...shared,
      port: config.FEEDBACK_GRPC_PORT,
      retentionDays: config.ROUTEPLEX_RATING_RETENTION_DAYS,
    }),
  );
  const insights = await listenOn({ variable: 'INSIGHTS_GRPC_PORT', host, port: config.INSIGHTS_GRPC_PORT }, () =>
    startInsightsService({ ...shared, port: config.INSIGHTS_GRPC_PORT, catalog }),
  );
  const backends = {
    'routeplex.router.v1.RouterService': `${host}:${router.port}`,
    'routeplex.feedback.v1.FeedbackService': `${host}:${feedback.port}`,
    'routeplex.insights.v1.InsightsService': `${host}:${insights.port}`,
  };
  const gateway =
    config.ROUTEPLEX_GATEWAY_MODE === 'inline'
      ? await listenOn({ variable: 'GATEWAY_PORT', host: config.GATEWAY_HOST, port: config.GATEWAY_PORT }, () =>
          createGateway({
            host: config.GATEWAY_HOST,
            port: config.GATEWAY_PORT,
            backends,
            bodyLimitBytes: config.GATEWAY_BODY_LIMIT_BYTES,
            corsOrigins: config.GATEWAY_CORS_ORIGINS,
            staticDir: DASHBOARD_DIR,
            staticPrefix: DASHBOARD_PREFIX,
            logger,
          }),
        )
      : await spawnGateway(config, backends);
  let closed = false;
  return {
    store,
    logger,
    secrets,
    devApiKey,
    gatewayUrl: gateway.url,
    ports: { router: router.port, feedback: feedback.port, insights: insights.port, gateway: gateway.port },
    async close() {
      if (closed) return;
      closed = true;
      await gateway.close();
      await Promise.all([router.close(), feedback.close(), insights.close()]);
      await store.close(); // flushes pending entries first
      await Promise.all(catalog.providers().map((p) => p.close()));
    },
  };
}

/**
 * The facade in a child process: it needs no store, and HTTP parsing and JSON transcoding then run on a
 * second core instead of competing with routing and the embedded database.
 */
async function spawnGateway(config: EmbeddedConfig, backends: Record<string, string>) {
  const child = fork(GATEWAY_MAIN, [], {
    // With tracing on, the facade's gRPC client calls are traced only with the hook loaded first.
    execArgv: ['--import', TSX, ...(config.ROUTEPLEX_TRACES === 'none' ? [] : ['--import', OTEL_HOOK])],
    env: {
      ...process.env,
      GATEWAY_HOST: config.GATEWAY_HOST,
      GATEWAY_PORT: String(config.GATEWAY_PORT),
      GATEWAY_BODY_LIMIT_BYTES: String(config.GATEWAY_BODY_LIMIT_BYTES),
      GATEWAY_CORS_ORIGINS: config.GATEWAY_CORS_ORIGINS.join(','),
      ROUTER_ADDRESS: backends['routeplex.router.v1.RouterService'],
      FEEDBACK_ADDRESS: backends['routeplex.feedback.v1.FeedbackService'],
      INSIGHTS_ADDRESS: backends['routeplex.insights.v1.InsightsService'],
      ROUTEPLEX_LOG_LEVEL: config.ROUTEPLEX_LOG_LEVEL,
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    // A facade that cannot start sends why (a busy GATEWAY_PORT, ...) and exits; one that dies without a
    // word has printed what it could on the shared stderr. 'close', unlike 'exit', comes after its last message.
    child.once('message', (m: { listening?: string; failed?: string }) =>
      m.listening ? resolve(m.listening) : reject(new StartupError(m.failed ?? 'the REST facade failed to start')),
    );
    child.once('close', (code) =>
      reject(new StartupError(`the REST facade exited with code ${code} before listening; its output above says why`)),
    );
  });
  return {
    url,
    port: Number(new URL(url).port),
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function ensureDevKey(store: Store, dataDir: string): Promise<string> {
  const file = join(dataDir, 'dev-api-key');
  try {
    const key = (await readFile(file, 'utf8')).trim();
    if (await store.findAccountByKeyHash(hashKey(key))) return key;
  } catch {
    // none yet
  }
  const account = await store.createAccount('development');
  const { key } = await store.createApiKey(account.id);
  await writeFile(file, key + '\n', { mode: 0o600 });
  return key;
}

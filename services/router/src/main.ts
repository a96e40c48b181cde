// RouterService as its own process (production): configuration from the environment, read once.
import { z } from 'zod';
import {
  Authenticator,
  forgetKeysOnChange,
  authConfigFrom,
  commonEnv,
  createLogger,
  exitOnFailure,
  exitOnFatal,
  listenOn,
  loadConfig,
  startTelemetry,
  telemetryConfigFrom,
  stopOnSignals,
  vars,
} from '@routeplex/platform';
import { loadCatalog } from '@routeplex/providers';
import { classify, defaultScoringConfig } from '@routeplex/scoring';
import { openStore, storeLocation } from '@routeplex/store';
import { startRouterService } from './index.js';

const env = {
  ...commonEnv,
  ROUTER_GRPC_PORT: vars.port(50051),
  ROUTEPLEX_HMAC_SECRET: vars.secret(32),
  ROUTEPLEX_CATALOG: z.string().optional(),
  ROUTEPLEX_SIM_LATENCY_SCALE: z.coerce.number().min(0).max(100).default(1),
  ROUTEPLEX_ENHANCEMENT_HOLDOUT: vars.fraction(0.2),
  ROUTEPLEX_MAX_ATTEMPTS: vars.positiveInt(3),
  ROUTEPLEX_CALL_TIMEOUT_MS: vars.positiveInt(60_000),
  ROUTEPLEX_BREAKER_FAILURES: vars.positiveInt(5),
  ROUTEPLEX_BREAKER_COOLDOWN_MS: vars.positiveInt(30_000),
  ROUTEPLEX_BATCH_MAX_ENTRIES: vars.positiveInt(500),
  // Unset: 20 ms on PostgreSQL, 200 ms on PGlite (a fixed ~15 ms of CPU per transaction, on its own thread).
  ROUTEPLEX_BATCH_MAX_DELAY_MS: z.coerce.number().int().positive().optional(),
};

async function main(): Promise<void> {
  const config = loadConfig(env, process.env);

  const telemetry = startTelemetry(telemetryConfigFrom(config, 'routeplex-router'));
  const logger = createLogger({ name: 'router', level: config.ROUTEPLEX_LOG_LEVEL });
  const catalog = loadCatalog({
    ...(config.ROUTEPLEX_CATALOG ? { path: config.ROUTEPLEX_CATALOG } : {}),
    env: process.env,
    latencyScale: config.ROUTEPLEX_SIM_LATENCY_SCALE,
    classify: (messages) => classify(messages).queryType,
  });
  const store = await openStore({
    ...storeLocation({ databaseUrl: config.DATABASE_URL, dataDir: config.ROUTEPLEX_DATA_DIR }),
    batch: {
      maxEntries: config.ROUTEPLEX_BATCH_MAX_ENTRIES,
      maxDelayMs: config.ROUTEPLEX_BATCH_MAX_DELAY_MS ?? (config.DATABASE_URL ? 20 : 200),
    },
    logger,
    onFatal: exitOnFatal(logger, 'the embedded database stopped'),
  });
  const authenticator = new Authenticator(authConfigFrom(config), (hash) => store.findAccountByKeyHash(hash));
  forgetKeysOnChange(authenticator, store);
  const service = await listenOn(
    { variable: 'ROUTER_GRPC_PORT', host: config.GRPC_HOST, port: config.ROUTER_GRPC_PORT },
    () =>
      startRouterService({
        store,
        catalog,
        authenticator,
        logger,
        host: config.GRPC_HOST,
        port: config.ROUTER_GRPC_PORT,
        scoring: defaultScoringConfig,
        hmacSecret: config.ROUTEPLEX_HMAC_SECRET,
        enhancementHoldout: config.ROUTEPLEX_ENHANCEMENT_HOLDOUT,
        maxAttempts: config.ROUTEPLEX_MAX_ATTEMPTS,
        callTimeoutMs: config.ROUTEPLEX_CALL_TIMEOUT_MS,
        breaker: {
          failureThreshold: config.ROUTEPLEX_BREAKER_FAILURES,
          coolDownMs: config.ROUTEPLEX_BREAKER_COOLDOWN_MS,
        },
      }),
  );
  logger.info({ port: service.port, models: catalog.models().length }, 'RouterService listening');

  stopOnSignals(logger, 'RouterService', [
    () => service.close(),
    () => store.close(), // flushes every acknowledged entry
    () => Promise.all(catalog.providers().map((p) => p.close())),
    () => telemetry.shutdown(),
  ]);
}

main().catch(exitOnFailure(process.env));

// Production entry of InsightsService: one process, PostgreSQL via DATABASE_URL (or PGlite in
// ROUTEPLEX_DATA_DIR), configuration read from the environment once, here and nowhere else.
import { resolve } from 'node:path';
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
import { defaultScoringConfig } from '@routeplex/scoring';
import { openStore, storeLocation } from '@routeplex/store';
import { startInsightsService } from './index.js';

const env = {
  ...commonEnv,
  INSIGHTS_GRPC_PORT: vars.port(50053),
  /** The model catalog, read only for the provider of each model (the shipped default when unset). */
  ROUTEPLEX_CATALOG: z.string().optional(),
};

async function main(): Promise<void> {
  const config = loadConfig(env, process.env);
  const telemetry = startTelemetry(telemetryConfigFrom(config, 'routeplex-insights'));
  const logger = createLogger({ name: 'insights', level: config.ROUTEPLEX_LOG_LEVEL });
  // Only model metadata is read: no provider is called, so no API key is passed.
  const catalog = loadCatalog({
    ...(config.ROUTEPLEX_CATALOG ? { path: resolve(config.ROUTEPLEX_CATALOG) } : {}),
    env: {},
  });
  const store = await openStore({
    ...storeLocation({ databaseUrl: config.DATABASE_URL, dataDir: config.ROUTEPLEX_DATA_DIR }),
    logger,
    onFatal: exitOnFatal(logger, 'the embedded database stopped'),
  });
  const authenticator = new Authenticator(authConfigFrom(config), (hash) => store.findAccountByKeyHash(hash));
  forgetKeysOnChange(authenticator, store);
  const service = await listenOn(
    { variable: 'INSIGHTS_GRPC_PORT', host: config.GRPC_HOST, port: config.INSIGHTS_GRPC_PORT },
    () =>
      startInsightsService({
        store,
        authenticator,
        logger,
        host: config.GRPC_HOST,
        port: config.INSIGHTS_GRPC_PORT,
        scoring: defaultScoringConfig,
        catalog,
      }),
  );
  logger.info({ host: config.GRPC_HOST, port: service.port }, 'InsightsService listening');
  stopOnSignals(logger, 'InsightsService', [
    () => service.close(),
    () => store.close(),
    () => catalog.close(),
    () => telemetry.shutdown(),
  ]);
}

main().catch(exitOnFailure(process.env));

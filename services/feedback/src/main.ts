// Production entry of FeedbackService: one process, PostgreSQL via DATABASE_URL (or PGlite in
// ROUTEPLEX_DATA_DIR), configuration read from the environment once, here and nowhere else.
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
import { defaultScoringConfig } from '@routeplex/scoring';
import { openStore, storeLocation } from '@routeplex/store';
import { startFeedbackService } from './index.js';

const env = {
  ...commonEnv,
  FEEDBACK_GRPC_PORT: vars.port(50052),
  ROUTEPLEX_RATING_RETENTION_DAYS: vars.positiveInt(30),
  // Ratings are committed in batches: at most this many per transaction, gathered for at most this long.
  FEEDBACK_BATCH_MAX_RATINGS: vars.positiveInt(200),
  FEEDBACK_BATCH_DELAY_MS: vars.positiveInt(1),
};

async function main(): Promise<void> {
  const config = loadConfig(env, process.env);
  const telemetry = startTelemetry(telemetryConfigFrom(config, 'routeplex-feedback'));
  const logger = createLogger({ name: 'feedback', level: config.ROUTEPLEX_LOG_LEVEL });
  const store = await openStore({
    ...storeLocation({ databaseUrl: config.DATABASE_URL, dataDir: config.ROUTEPLEX_DATA_DIR }),
    // Ratings are written by their own (batched) transactions; the change feed is for revoked API keys.
    logger,
    onFatal: exitOnFatal(logger, 'the embedded database stopped'),
  });
  const authenticator = new Authenticator(authConfigFrom(config), (hash) => store.findAccountByKeyHash(hash));
  forgetKeysOnChange(authenticator, store);
  const service = await listenOn(
    { variable: 'FEEDBACK_GRPC_PORT', host: config.GRPC_HOST, port: config.FEEDBACK_GRPC_PORT },
    () =>
      startFeedbackService({
        store,
        authenticator,
        logger,
        host: config.GRPC_HOST,
        port: config.FEEDBACK_GRPC_PORT,
        scoring: defaultScoringConfig,
        retentionDays: config.ROUTEPLEX_RATING_RETENTION_DAYS,
        batch: { maxItems: config.FEEDBACK_BATCH_MAX_RATINGS, maxDelayMs: config.FEEDBACK_BATCH_DELAY_MS },
      }),
  );
  logger.info({ host: config.GRPC_HOST, port: service.port }, 'FeedbackService listening');
  stopOnSignals(logger, 'FeedbackService', [() => service.close(), () => store.close(), () => telemetry.shutdown()]);
}

main().catch(exitOnFailure(process.env));

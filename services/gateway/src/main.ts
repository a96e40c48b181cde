// The REST facade as its own process (production): configuration from the environment, read once.
import { z } from 'zod';
import {
  createLogger,
  exitOnFailure,
  failureText,
  listenOn,
  loadConfig,
  startTelemetry,
  telemetryConfigFrom,
  vars,
} from '@routeplex/platform';
import { createGateway } from './index.js';
import { DASHBOARD_DIR, DASHBOARD_PREFIX } from './dashboard.js';

const env = {
  GATEWAY_HOST: vars.host(),
  GATEWAY_PORT: vars.port(8080),
  GATEWAY_BODY_LIMIT_BYTES: vars.positiveInt(4 * 1024 * 1024),
  ROUTER_ADDRESS: vars.address('127.0.0.1:50051'),
  FEEDBACK_ADDRESS: vars.address('127.0.0.1:50052'),
  INSIGHTS_ADDRESS: vars.address('127.0.0.1:50053'),
  GATEWAY_DASHBOARD: vars.bool(true),
  GATEWAY_CORS_ORIGINS: vars.origins(),
  ROUTEPLEX_LOG_LEVEL: vars.logLevel(),
  ROUTEPLEX_TRACES: z.enum(['none', 'console', 'otlp']).default('none'),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: vars.url(),
};

async function main(): Promise<void> {
  const config = loadConfig(env, process.env);

  const telemetry = startTelemetry(telemetryConfigFrom(config, 'routeplex-gateway'));
  const logger = createLogger({ name: 'gateway', level: config.ROUTEPLEX_LOG_LEVEL });
  const gateway = await listenOn(
    { variable: 'GATEWAY_PORT', host: config.GATEWAY_HOST, port: config.GATEWAY_PORT },
    () =>
      createGateway({
        host: config.GATEWAY_HOST,
        port: config.GATEWAY_PORT,
        backends: {
          'routeplex.router.v1.RouterService': config.ROUTER_ADDRESS,
          'routeplex.feedback.v1.FeedbackService': config.FEEDBACK_ADDRESS,
          'routeplex.insights.v1.InsightsService': config.INSIGHTS_ADDRESS,
        },
        bodyLimitBytes: config.GATEWAY_BODY_LIMIT_BYTES,
        corsOrigins: config.GATEWAY_CORS_ORIGINS,
        ...(config.GATEWAY_DASHBOARD ? { staticDir: DASHBOARD_DIR, staticPrefix: DASHBOARD_PREFIX } : {}),
        logger,
      }),
  );
  logger.info({ url: gateway.url }, 'REST facade listening');
  const shutdown = async () => {
    await gateway.close();
    await telemetry.shutdown();
    process.exit(0);
  };
  // Started by the embedded command as a child process: tell the parent where it listens, and stop with it.
  if (process.send) {
    process.send({ listening: gateway.url });
    process.once('disconnect', () => void shutdown());
  }
  process.once('SIGTERM', () => void shutdown());
  process.once('SIGINT', () => void shutdown());
}

main().catch((err: unknown) => {
  // Started by the embedded command: the parent prints why, once, among its own output.
  if (process.send) process.send({ failed: failureText(err, process.env) }, () => process.exit(1));
  else exitOnFailure(process.env)(err);
});

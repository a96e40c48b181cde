import { z } from 'zod';
import { commonEnv, loadConfig, vars } from '@routeplex/platform';

/** Everything the all-in-one embedded start reads from the environment. */
export const embeddedEnv = {
  ...commonEnv,
  ROUTEPLEX_DATA_DIR: z.string().min(1).default('.data'),
  ROUTEPLEX_CATALOG: z.string().optional(),
  ROUTEPLEX_HMAC_SECRET: vars.secret(32).optional(),
  ROUTER_GRPC_PORT: vars.port(50051),
  FEEDBACK_GRPC_PORT: vars.port(50052),
  INSIGHTS_GRPC_PORT: vars.port(50053),
  GATEWAY_HOST: vars.host(),
  GATEWAY_PORT: vars.port(8080),
  GATEWAY_BODY_LIMIT_BYTES: vars.positiveInt(4 * 1024 * 1024),
  GATEWAY_CORS_ORIGINS: vars.origins(),
  /** `process`: the facade runs in a child process of its own (a second core); `inline`: in this process. */
  ROUTEPLEX_GATEWAY_MODE: z.enum(['process', 'inline']).default('process'),
  ROUTEPLEX_SIM_LATENCY_SCALE: z.coerce.number().min(0).max(100).default(1),
  ROUTEPLEX_ENHANCEMENT_HOLDOUT: vars.fraction(0.2),
  ROUTEPLEX_MAX_ATTEMPTS: vars.positiveInt(3),
  ROUTEPLEX_CALL_TIMEOUT_MS: vars.positiveInt(60_000),
  ROUTEPLEX_RATING_RETENTION_DAYS: vars.positiveInt(30),
  ROUTEPLEX_BATCH_MAX_ENTRIES: vars.positiveInt(500),
  /**
   * How long metadata writes gather before one transaction commits them. Unset: 20 ms on PostgreSQL, 200 ms
   * on the embedded PGlite, whose fixed cost per transaction (~15 ms of CPU, on its own thread) is then paid
   * a few times a second rather than per request. Requests never wait for it; SIGTERM flushes.
   */
  ROUTEPLEX_BATCH_MAX_DELAY_MS: z.coerce.number().int().positive().optional(),
};

export type EmbeddedConfig = ReturnType<typeof loadEmbeddedConfig>;

export function loadEmbeddedConfig(env: Record<string, string | undefined>) {
  return loadConfig(embeddedEnv, env);
}

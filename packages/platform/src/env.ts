import { z } from 'zod';
import { ConfigError, vars } from './config.js';
import type { AuthConfig } from './auth.js';
import type { TelemetryOptions } from './telemetry.js';

/**
 * Variables every service reads the same way. A service's main spreads this into its own shape and calls
 * loadConfig(shape, process.env) once.
 */
export const commonEnv = {
  /** PostgreSQL in production; unset means the embedded PGlite store. */
  DATABASE_URL: vars.databaseUrl(),
  /** Folder of the embedded PGlite store (unset: in memory). */
  ROUTEPLEX_DATA_DIR: z.string().optional(),
  GRPC_HOST: vars.host(),
  ROUTEPLEX_JWT_SECRET: vars.secret(32).optional(),
  ROUTEPLEX_JWKS_URL: vars.url(),
  ROUTEPLEX_JWT_ACCOUNT_CLAIM: z.string().min(1).default('sub'),
  ROUTEPLEX_JWT_ISSUER: z.string().optional(),
  ROUTEPLEX_JWT_AUDIENCE: z.string().optional(),
  ROUTEPLEX_API_KEY_CACHE_MS: z.coerce.number().int().min(0).default(30_000),
  ROUTEPLEX_LOG_LEVEL: vars.logLevel(),
  ROUTEPLEX_TRACES: z.enum(['none', 'console', 'otlp']).default('none'),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: vars.url(),
};

export type CommonConfig = Readonly<z.infer<z.ZodObject<typeof commonEnv>>>;

export function authConfigFrom(c: CommonConfig): AuthConfig {
  // A JWKS is usually an identity provider's, shared by every application it serves: without an audience
  // a token that provider issued for any other application would open an account here.
  if (c.ROUTEPLEX_JWKS_URL && !c.ROUTEPLEX_JWT_AUDIENCE)
    throw new ConfigError([
      'ROUTEPLEX_JWT_AUDIENCE (unset): required with ROUTEPLEX_JWKS_URL; set it to the audience your identity provider puts in tokens for routeplex',
    ]);
  return {
    jwtSecret: c.ROUTEPLEX_JWT_SECRET,
    jwksUrl: c.ROUTEPLEX_JWKS_URL,
    accountClaim: c.ROUTEPLEX_JWT_ACCOUNT_CLAIM,
    issuer: c.ROUTEPLEX_JWT_ISSUER,
    audience: c.ROUTEPLEX_JWT_AUDIENCE,
    apiKeyCacheMs: c.ROUTEPLEX_API_KEY_CACHE_MS,
  };
}

/** The tracing a service's environment asks for (ROUTEPLEX_TRACES, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT). */
export function telemetryConfigFrom(
  c: Pick<CommonConfig, 'ROUTEPLEX_TRACES' | 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'>,
  serviceName: string,
): TelemetryOptions {
  return { serviceName, exporter: c.ROUTEPLEX_TRACES, otlpEndpoint: c.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT };
}

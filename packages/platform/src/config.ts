import { z } from 'zod';

/** Raised at start-up when the environment is invalid; lists every problem, naming the variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'INVALID_ARGUMENT';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

type Env = Record<string, string | undefined>;

/**
 * Reads one validated, typed, frozen config object. `shape` maps environment variable names to zod schemas
 * (which coerce and default); every problem is reported at once, each naming its variable.
 */
export function loadConfig<S extends z.ZodRawShape>(shape: S, env: Env): Readonly<z.infer<z.ZodObject<S>>> {
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(shape)) {
    const value = env[key];
    // Blank is unset: zod would read "  " as the number 0 (a random port, a disabled cache).
    input[key] = value === undefined || value.trim() === '' ? undefined : value;
  }
  const result = z.object(shape).safeParse(input);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? '(config)');
        const given = env[name];
        const shown =
          given === undefined ? 'unset' : /SECRET|PASSWORD|KEY|URL/.test(name) ? 'given' : JSON.stringify(given);
        return `${name} (${shown}): ${issue.message}`;
      }),
    );
  }
  return deepFreeze(result.data);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

/** Reusable variable schemas, so that every service reads the same names the same way. */
export const vars = {
  // Decimal digits only: Number() would also read "0x1F90" and "1e3".
  port: (fallback: number) =>
    z
      .string()
      .regex(/^[0-9]{1,5}$/, 'must be a port number from 0 to 65535, in decimal digits')
      .transform(Number)
      .refine((n) => n <= 65535, 'must be a port number from 0 to 65535, in decimal digits')
      .default(fallback),
  host: () => z.string().min(1).default('127.0.0.1'),
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  positiveNumber: (fallback: number) => z.coerce.number().positive().default(fallback),
  fraction: (fallback: number) => z.coerce.number().min(0).max(1).default(fallback),
  databaseUrl: () =>
    z
      .string()
      .refine((v) => {
        try {
          const u = new URL(v);
          return u.protocol === 'postgres:' || u.protocol === 'postgresql:';
        } catch {
          return false;
        }
      }, 'must be a postgres:// URL such as postgres://user:password@host:5432/dbname')
      .optional(),
  secret: (minLength: number) => z.string().min(minLength, `must be at least ${minLength} characters`),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  address: (fallback: string) =>
    z
      .string()
      .regex(/^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]]+):([0-9]{1,5})$/, 'must be host:port, e.g. router:50051 or [::1]:50051')
      .refine((v) => {
        const port = Number(v.slice(v.lastIndexOf(':') + 1));
        return port >= 1 && port <= 65535;
      }, 'must be host:port with a port from 1 to 65535')
      .default(fallback),
  // http(s) only: "localhost:4318" parses as a URL of scheme "localhost:" and would fail only when used.
  url: () => z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  /**
   * Browser origins, comma-separated: `*` or exact origins such as `https://app.example.com` (scheme, host and
   * port; no path). Empty (the default): none.
   */
  origins: () =>
    z
      .string()
      .default('')
      .transform((v) =>
        v
          .split(',')
          .map((o) => o.trim())
          .filter((o) => o !== ''),
      )
      .pipe(
        z.array(
          z
            .string()
            .regex(
              /^(\*|https?:\/\/[^\s/?#]+)$/,
              'must be * or origins such as https://app.example.com (scheme and host, no path), comma-separated',
            ),
        ),
      ),
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
};

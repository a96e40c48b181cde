/**
 * Typed errors of the store. `code` is the name of the gRPC status code that a service should answer
 * with; `reason` is a stable machine-readable identifier (in the spirit of google.rpc.ErrorInfo).
 * Messages say what went wrong and how to fix it, and never contain a password or any user text.
 */
export type StoreErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'RESOURCE_EXHAUSTED'
  | 'ABORTED'
  | 'UNAVAILABLE'
  | 'INTERNAL';

export type StoreErrorReason =
  | 'DATABASE_URL_MALFORMED'
  | 'DATABASE_UNREACHABLE'
  | 'DATABASE_AUTH_FAILED'
  | 'DATABASE_MISSING'
  | 'EMBEDDED_DATABASE_UNAVAILABLE'
  | 'MIGRATION_FAILED'
  | 'MIGRATION_LOCKED'
  | 'INVALID_OPTION'
  | 'INVALID_WRITE'
  | 'INVALID_PAGE_TOKEN'
  | 'DUPLICATE_REQUEST_ID'
  | 'ENTRY_NOT_FOUND'
  | 'ACCOUNT_NOT_FOUND'
  | 'API_KEY_NOT_FOUND'
  | 'RATING_REFUSED'
  | 'QUEUE_FULL'
  | 'STORE_CLOSED'
  | 'WRITE_FAILED'
  | 'QUERY_FAILED';

export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code: StoreErrorCode;
  readonly reason: StoreErrorReason;

  constructor(code: StoreErrorCode, reason: StoreErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.reason = reason;
  }

  static invalid(message: string, reason: StoreErrorReason = 'INVALID_WRITE'): StoreError {
    return new StoreError('INVALID_ARGUMENT', reason, message);
  }
}

/** Replaces the password of a connection URL so that the URL can appear in a message or a log line. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable URL>';
  }
}

/** SQLSTATE and Node socket codes that mean "try again later", not "this write is wrong". */
const TRANSIENT_SQLSTATES = new Set([
  '40001',
  '40P01',
  '55P03',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '08000',
  '08003',
  '08006',
  '08001',
  '08004',
]);
const TRANSIENT_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

export function errorCodeOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

export function isTransientDatabaseError(error: unknown): boolean {
  if (error instanceof StoreError) return error.code === 'UNAVAILABLE' || error.code === 'ABORTED';
  const code = errorCodeOf(error);
  if (code !== undefined && (TRANSIENT_SQLSTATES.has(code) || TRANSIENT_NODE_CODES.has(code))) return true;
  const message = error instanceof Error ? error.message : '';
  // knex reports pool exhaustion and dropped connections with messages only.
  return /Knex: Timeout acquiring a connection|Connection terminated|connection terminated unexpectedly/i.test(message);
}

/** The database's own message, trimmed; database messages carry no secret (they never echo the URL). */
export function describeCause(error: unknown): string {
  const code = errorCodeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  const short = message.length > 300 ? `${message.slice(0, 300)}...` : message;
  return code === undefined ? short : `${short} (${code})`;
}

/**
 * Wraps an unexpected failure of a query in a StoreError, keeping the original as `cause` for logs. The
 * message reaches API clients, so it says what happened without the database's own text, which names
 * hosts, ports, tables and constraints (the server boundary logs the cause).
 */
export function wrapQueryError(error: unknown, what: string): StoreError {
  if (error instanceof StoreError) return error;
  if (isTransientDatabaseError(error)) {
    return new StoreError(
      'UNAVAILABLE',
      'QUERY_FAILED',
      `${what} failed because the database is not reachable right now; retry later`,
      { cause: error },
    );
  }
  return new StoreError('INTERNAL', 'QUERY_FAILED', `${what} failed because of a database error`, { cause: error });
}

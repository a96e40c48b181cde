// knex is CommonJS: its default export is the factory under every ESM loader (named exports are not).
import createKnex from 'knex';
import type { Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import pg from 'pg';
import { StoreError, describeCause, errorCodeOf, redactDatabaseUrl } from './errors.js';
import { lockFolder } from './folder-lock.js';
import { PGLITE_PARSERS, PgliteThread, type EmbeddedDatabase } from './pglite-thread.js';
import type { StoreLogger } from './types.js';

/**
 * Opens knex on PostgreSQL or PGlite and absorbs their differences: both backends return int8, count(*)
 * and numeric as JS numbers (pg returns strings by default, PGlite returns numeric as a string).
 */

const INT8_OID = 20;
const NUMERIC_OID = 1700;

const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID) return (value: string) => Number(value);
    if (oid === NUMERIC_OID) return (value: string) => Number.parseFloat(value);
    return pg.types.getTypeParser(oid, format);
  },
};

export interface ParsedDatabaseUrl {
  connectionString: string;
  host: string;
  port: number;
  database: string;
  user: string;
  /** The URL with the password replaced, safe for messages. */
  redacted: string;
}

const URL_SHAPE = 'postgres://USER:PASSWORD@HOST:5432/DATABASE';

/** Validates a DATABASE_URL without ever echoing its password. */
export function parseDatabaseUrl(url: string): ParsedDatabaseUrl {
  const malformed = (why: string) =>
    new StoreError(
      'INVALID_ARGUMENT',
      'DATABASE_URL_MALFORMED',
      `DATABASE_URL is malformed: ${why}; write it as ${URL_SHAPE}`,
    );
  if (typeof url !== 'string' || url.trim() === '') throw malformed('it is empty');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // The URL parser's own message repeats the input, password included: do not keep it.
    throw malformed('it cannot be parsed as a URL (a password with special characters must be percent-encoded)');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw malformed(`the scheme is "${parsed.protocol.replace(/:$/, '')}", expected "postgres" or "postgresql"`);
  }
  const socketHost = parsed.searchParams.get('host');
  if (parsed.hostname === '' && (socketHost === null || socketHost === '')) throw malformed('it names no host');
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (database === '' || database.includes('/')) throw malformed('it names no database (the path after the host)');
  return {
    connectionString: url,
    host: parsed.hostname || socketHost || '',
    port: parsed.port === '' ? 5432 : Number(parsed.port),
    database,
    user: decodeURIComponent(parsed.username) || 'the current OS user',
    redacted: redactDatabaseUrl(url),
  };
}

/** Turns a failure to reach PostgreSQL into an error that says what to fix. */
export function connectionError(error: unknown, target: ParsedDatabaseUrl): StoreError {
  const code = errorCodeOf(error) ?? nestedCode(error);
  const where = `${target.host}:${target.port}`;
  const cause = describeCause(error);
  switch (code) {
    case '28P01':
      return new StoreError(
        'UNAVAILABLE',
        'DATABASE_AUTH_FAILED',
        `PostgreSQL rejected the password of user "${target.user}" at ${where}: fix the password in DATABASE_URL`,
        { cause: error },
      );
    case '28000':
      return new StoreError(
        'UNAVAILABLE',
        'DATABASE_AUTH_FAILED',
        `PostgreSQL at ${where} refused user "${target.user}" (${cause}): create the role or fix the user in DATABASE_URL`,
        { cause: error },
      );
    case '3D000':
      return new StoreError(
        'UNAVAILABLE',
        'DATABASE_MISSING',
        `database "${target.database}" does not exist at ${where}: create it (createdb ${target.database}) or fix the database name in DATABASE_URL`,
        { cause: error },
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new StoreError(
        'UNAVAILABLE',
        'DATABASE_UNREACHABLE',
        `the host "${target.host}" of DATABASE_URL cannot be resolved: fix the host name`,
        { cause: error },
      );
    case 'ECONNREFUSED':
      return new StoreError(
        'UNAVAILABLE',
        'DATABASE_UNREACHABLE',
        `nothing accepts connections at ${where}: start PostgreSQL there or fix the host and port in DATABASE_URL`,
        { cause: error },
      );
    default:
      return new StoreError(
        'UNAVAILABLE',
        'DATABASE_UNREACHABLE',
        `cannot connect to PostgreSQL at ${where} (${cause}): check that it is running and reachable, and that DATABASE_URL is right`,
        { cause: error },
      );
  }
}

function nestedCode(error: unknown): string | undefined {
  // Node reports a refused dual-stack connection as an AggregateError whose parts carry the code.
  if (error instanceof AggregateError) {
    for (const part of error.errors) {
      const code = errorCodeOf(part);
      if (code !== undefined) return code;
    }
  }
  return undefined;
}

type PgliteQueryObject = { sql?: string; bindings?: unknown[]; options?: Record<string, unknown>; response?: unknown };
type PgliteClientBase = new (config: Knex.Config) => {
  _query(connection: EmbeddedDatabase, obj: PgliteQueryObject): Promise<PgliteQueryObject>;
  destroyRawConnection(connection: EmbeddedDatabase): Promise<void>;
};

/**
 * knex-pglite's client, with our type parsers on every query (so they also apply to an instance that was
 * opened elsewhere) and, for an instance the store does not own, a destroy that leaves it open.
 */
function pgliteClient(ownsInstance: boolean): typeof Knex.Client {
  const Base = ClientPgLite as unknown as PgliteClientBase;
  class StorePgliteClient extends Base {
    override async _query(connection: EmbeddedDatabase, obj: PgliteQueryObject): Promise<PgliteQueryObject> {
      if (!obj.sql) throw new Error('The query is empty');
      obj.response = await connection.query(obj.sql, obj.bindings, { ...obj.options, parsers: PGLITE_PARSERS });
      return obj;
    }
    override async destroyRawConnection(connection: EmbeddedDatabase): Promise<void> {
      if (ownsInstance) await connection.close();
    }
  }
  return StorePgliteClient as unknown as typeof Knex.Client;
}

export interface DatabaseHandle {
  knex: Knex;
  backend: 'postgres' | 'pglite';
  /** Connection settings for a dedicated LISTEN client (PostgreSQL only). */
  pgClientConfig?: pg.ClientConfig;
  pglite?: EmbeddedDatabase;
  /** Safe description for logs: the redacted URL or the PGlite location. */
  description: string;
}

/** knex prints pool and driver warnings to the console by default; they go to the store's logger instead. */
function knexLog(logger: StoreLogger | undefined): Knex.Config['log'] {
  const forward = (level: 'warn' | 'error' | 'debug') => (message: unknown) => {
    const text = String(message instanceof Error ? `${message.name}: ${message.message}` : message).slice(0, 300);
    if (level === 'debug') logger?.debug?.({ source: 'knex' }, text);
    else logger?.[level]({ source: 'knex' }, text);
  };
  return { warn: forward('warn'), error: forward('error'), deprecate: forward('warn'), debug: forward('debug') };
}

export interface PostgresConnectOptions {
  logger?: StoreLogger;
  databaseUrl: string;
  poolMax: number;
  connectTimeoutMs: number;
}

export async function openPostgres(options: PostgresConnectOptions): Promise<DatabaseHandle> {
  const target = parseDatabaseUrl(options.databaseUrl);
  const pgClientConfig: pg.ClientConfig = {
    connectionString: target.connectionString,
    connectionTimeoutMillis: options.connectTimeoutMs,
    application_name: 'routeplex-store',
    types: pgTypes as pg.CustomTypesConfig,
  };
  const knex = createKnex({
    client: 'pg',
    connection: pgClientConfig as Knex.PgConnectionConfig,
    pool: { min: 0, max: options.poolMax },
    acquireConnectionTimeout: options.connectTimeoutMs + 1000,
    log: knexLog(options.logger),
  });
  try {
    await knex.raw('select 1');
  } catch (error) {
    await knex.destroy().catch(() => undefined);
    throw connectionError(error, target);
  }
  return { knex, backend: 'postgres', pgClientConfig, description: target.redacted };
}

export interface PgliteConnectOptions {
  logger?: StoreLogger;
  /** Folder of the database; undefined keeps it in memory. */
  dir?: string;
  /** See OpenStoreOptions.onFatal. */
  onFatal?: ((error: Error) => void) | undefined;
  /** An instance opened by the caller (PGlite itself or a PgliteThread); the store then never closes it. */
  instance?: EmbeddedDatabase;
}

export async function openPglite(options: PgliteConnectOptions): Promise<DatabaseHandle> {
  const description =
    options.instance !== undefined
      ? 'PGlite (shared instance)'
      : options.dir === undefined
        ? 'PGlite (in memory)'
        : `PGlite at ${options.dir}`;
  let pglite: EmbeddedDatabase | undefined;
  // A folder the store opens itself is its process's alone until the store closes (see folder-lock.ts).
  const release = options.instance === undefined && options.dir !== undefined ? lockFolder(options.dir) : () => {};
  try {
    // A database the store opens itself runs on a worker thread (see pglite-thread.ts).
    pglite = options.instance ?? new PgliteThread(options.dir, { onFailure: options.onFatal, onClosed: release });
    await pglite.waitReady;
  } catch (error) {
    if (options.instance === undefined) await pglite?.close().catch(() => undefined);
    release();
    throw new StoreError(
      'UNAVAILABLE',
      'EMBEDDED_DATABASE_UNAVAILABLE',
      `cannot open the embedded database (${description}): ${describeCause(error)}; make sure the folder is writable, holds a PGlite database (or is empty) and is not open in another process`,
      { cause: error },
    );
  }
  const knex = createKnex({
    client: pgliteClient(options.instance === undefined),
    connection: () => ({ pglite }),
  } as unknown as Knex.Config);
  return { knex, backend: 'pglite', pglite, description };
}

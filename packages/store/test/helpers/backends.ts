import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { PgliteThread, openStore, type OpenStoreOptions, type Store } from '../../src/index.js';

/**
 * The backends every store suite runs against: PGlite in memory always (one instance per test run, since
 * starting PGlite takes seconds; on a worker thread, as the store opens it in production; the services'
 * suites open PGlite in process), PostgreSQL when DATABASE_URL is set (a fresh database per run, dropped
 * at the end).
 */
export interface Backend {
  name: 'pglite' | 'postgres';
  /** The suite's store, opened once. */
  store(): Promise<Store>;
  /** Opens another store on the same database. On PGlite, close it before the suite's store is used again. */
  open(options?: Partial<OpenStoreOptions>): Promise<Store>;
  /** Empties every table, after flushing the suite store's pending writes. */
  reset(): Promise<void>;
  /** Runs one SQL statement directly on the database (call it while the stores are idle). */
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Connection URL of the per-run database (PostgreSQL only). */
  databaseUrl?: string;
}

let pglite: PgliteThread | undefined;
let pgliteStore: Promise<Store> | undefined;

function sharedPglite(): PgliteThread {
  pglite ??= new PgliteThread();
  return pglite;
}

const pgliteBackend: Backend = {
  name: 'pglite',
  store() {
    pgliteStore ??= openStore({ pglite: sharedPglite() });
    return pgliteStore;
  },
  async open(options = {}) {
    await this.store();
    return openStore({ pglite: sharedPglite(), ...options });
  },
  async reset() {
    const store = await this.store();
    await store.flush();
    // The suite's store is idle after flush, so the shared connection is free for a direct statement.
    await sharedPglite().exec(`truncate ${TABLES}`);
  },
  async query(sql, params = []) {
    await this.store();
    return (await sharedPglite().query<Record<string, unknown>>(sql, params)).rows;
  },
};

const TABLES = 'accounts, api_keys, request_entries, ratings, account_cells, global_cells, account_counters';

/** Runs one statement on PostgreSQL through a short-lived connection of its own. */
export async function postgresQuery(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}

export function sharedPgliteInstance(): PgliteThread {
  return sharedPglite();
}

/** Creates a uniquely named scratch database next to the one DATABASE_URL names. */
export async function createScratchDatabase(
  baseUrl: string,
  label: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `rpx_store_${label}_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: baseUrl });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

let postgresRun: Promise<{ url: string; drop(): Promise<void> }> | undefined;
let postgresStore: Promise<Store> | undefined;
const openedPostgresStores: Store[] = [];

function postgresBackend(baseUrl: string): Backend {
  const backend: Backend = {
    name: 'postgres',
    async store() {
      postgresRun ??= createScratchDatabase(baseUrl, 'test');
      const run = await postgresRun;
      backend.databaseUrl = run.url;
      postgresStore ??= openStore({ databaseUrl: run.url }).then((store) => {
        openedPostgresStores.push(store);
        return store;
      });
      return postgresStore;
    },
    async open(options = {}) {
      await backend.store();
      const store = await openStore({ databaseUrl: backend.databaseUrl, ...options });
      openedPostgresStores.push(store);
      return store;
    },
    async reset() {
      const store = await backend.store();
      await store.flush();
      await postgresQuery(backend.databaseUrl as string, `truncate ${TABLES}`);
    },
    async query(sql, params = []) {
      await backend.store();
      return postgresQuery(backend.databaseUrl as string, sql, params);
    },
  };
  return backend;
}

export const BACKENDS: Backend[] = [
  pgliteBackend,
  ...(process.env.DATABASE_URL ? [postgresBackend(process.env.DATABASE_URL)] : []),
];

// Root hook: registered once, when the first suite imports this module.
after(async function () {
  this.timeout(30_000);
  for (const store of openedPostgresStores) await store.close().catch(() => undefined);
  if (postgresRun !== undefined) await (await postgresRun).drop();
});

// Test support shared by the services' suites: a real store on PGlite (and on PostgreSQL when DATABASE_URL
// is set), real gRPC clients, and entries written the way the router writes them.
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Authenticator, createLogger } from '@routeplex/platform';
import { defaultScoringConfig, requestCell, type ScoringConfig } from '@routeplex/scoring';
import { newRequestId, openStore, type EntryWrite, type RequestEntry, type Store } from '@routeplex/store';

/**
 * Real stores for the service suites: PGlite in memory always, and PostgreSQL in a scratch database when
 * DATABASE_URL is set. Each backend opens one store per test file (PGlite takes seconds to start).
 */
export interface TestBackend {
  name: 'pglite' | 'postgres';
  open(): Promise<Store>;
  /** Closes the store and drops the scratch database. */
  close(): Promise<void>;
}

/** The backends a service suite runs on; `label` names the scratch PostgreSQL database. */
export function backends(label: string): TestBackend[] {
  const list: TestBackend[] = [pgliteBackend()];
  if (process.env.DATABASE_URL) list.push(postgresBackend(process.env.DATABASE_URL, label));
  return list;
}

function pgliteBackend(): TestBackend {
  let store: Store | undefined;
  return {
    name: 'pglite',
    async open() {
      store = await openStore({ pglite: new PGlite(), batch: { maxDelayMs: 5 } });
      return store;
    },
    async close() {
      await store?.close();
    },
  };
}

/** A scratch PostgreSQL database on the server of `baseUrl`, for a suite that needs one of its own. */
export async function scratchDatabase(baseUrl: string, label: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `rpx_${label}_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: baseUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`create database ${name}`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`drop database if exists ${name} with (force)`) };
}

function postgresBackend(baseUrl: string, label: string): TestBackend {
  let store: Store | undefined;
  let database: Awaited<ReturnType<typeof scratchDatabase>> | undefined;
  return {
    name: 'postgres',
    async open() {
      database = await scratchDatabase(baseUrl, label);
      store = await openStore({ databaseUrl: database.url, batch: { maxDelayMs: 5 } });
      return store;
    },
    async close() {
      await store?.close();
      await database?.drop();
    },
  };
}

export const scoring: ScoringConfig = defaultScoringConfig;
export const silentLogger = createLogger({ name: 'test', level: 'silent' });

export function authenticatorFor(store: Store): Authenticator {
  return new Authenticator({ accountClaim: 'sub', apiKeyCacheMs: 0 }, (hash) => store.findAccountByKeyHash(hash));
}

/** An account and an API key for it. */
export async function account(store: Store, name: string): Promise<{ id: string; key: string }> {
  const created = await store.createAccount(name);
  const { key } = await store.createApiKey(created.id);
  return { id: created.id, key };
}

export function bearer(key: string): Metadata {
  const md = new Metadata();
  md.set('authorization', `Bearer ${key}`);
  return md;
}

export const insecure = credentials.createInsecure();

/** Promisifies one unary call of a generated grpc-js client. */
export function unary<Req, Res>(client: object, method: string, request: Req, metadata: Metadata): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = (client as Record<string, (r: Req, m: Metadata, cb: (e: ServiceError | null, v: Res) => void) => void>)[
      method
    ]!;
    fn.call(client, request, metadata, (err, value) => (err ? reject(err) : resolve(value)));
  });
}

/** Resolves to the error of a call that must fail. */
export async function failure(call: Promise<unknown>): Promise<ServiceError> {
  try {
    await call;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('the call succeeded but was expected to fail');
}

export function completion(accountId: string, overrides: Partial<RequestEntry> = {}): RequestEntry {
  return {
    id: newRequestId(),
    accountId,
    createdAt: new Date(Date.now() - 3600_000),
    kind: 'completion',
    queryType: 'code_debug',
    complexity: 'medium',
    model: 'model-a',
    provider: 'sim',
    stage: 'cold_start',
    personalWeight: 0,
    changedByPersonal: false,
    autoRouted: true,
    enhanced: false,
    preference: 'balanced',
    status: 'ok',
    heuristicQuality: 0.6,
    signals: { length: 0.5 },
    latencyMs: 900,
    promptTokens: 100,
    completionTokens: 200,
    costUsd: 0.0004,
    messageHmac: null,
    ...overrides,
  };
}

/** The write the router makes for an entry: its heuristic contribution to the cells, and its counters. */
export function routerWrite(entry: RequestEntry, cfg: ScoringConfig = scoring): EntryWrite {
  const measured = entry.kind === 'completion' && entry.heuristicQuality !== null;
  const q = entry.heuristicQuality ?? 0;
  return {
    entry,
    cellDeltas: measured
      ? [
          {
            accountId: entry.accountId,
            queryType: entry.queryType,
            model: entry.model,
            delta: requestCell(
              {
                heuristicQuality: q,
                latencyMs: entry.latencyMs,
                costUsd: entry.costUsd,
                atMs: entry.createdAt.getTime(),
              },
              cfg,
            ),
          },
        ]
      : [],
    counterDelta: {
      accountId: entry.accountId,
      queryType: entry.queryType,
      requests: 1,
      autoRouted: entry.autoRouted ? 1 : 0,
      changedByPersonal: entry.changedByPersonal ? 1 : 0,
      coldStart: entry.stage === 'cold_start' ? 1 : 0,
      warmUp: entry.stage === 'warm_up' ? 1 : 0,
      established: entry.stage === 'established' ? 1 : 0,
      ...(measured && entry.autoRouted && entry.enhanced ? { enhancedN: 1, enhancedQ: q, enhancedQ2: q * q } : {}),
      ...(measured && entry.autoRouted && !entry.enhanced ? { plainN: 1, plainQ: q, plainQ2: q * q } : {}),
    },
  };
}

/** Writes entries through the store the way the router does, and waits for the batch to commit. */
export async function record(store: Store, entries: RequestEntry[]): Promise<void> {
  await Promise.all(entries.map((e) => store.enqueue(routerWrite(e))));
  await store.flush();
}

/**
 * Runs a service's production entry as its own process (`nodeArgs` before the entry, e.g. an --import);
 * `listening` resolves with the port it logs in the line that contains `readyMessage`, and rejects if the
 * process exits first.
 */
export function runServiceMain(
  mainPath: string,
  env: Record<string, string>,
  readyMessage: string,
  nodeArgs: readonly string[] = [],
) {
  const child = spawn(process.execPath, ['--import', 'tsx', ...nodeArgs, mainPath], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const listening = new Promise<number>((resolve, reject) => {
    child.stdout.on('data', () => {
      const line = out.split('\n').find((l) => l.includes(readyMessage));
      if (line) resolve((JSON.parse(line) as { port: number }).port);
    });
    void exited.then((code) => reject(new Error(`exited with ${code}: ${err}`)));
  });
  return { child, listening, exited, stderr: () => err };
}

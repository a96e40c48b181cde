// Benchmark fixtures: a scratch database (PostgreSQL when DATABASE_URL is set, else PGlite in a temporary
// folder), bulk-inserted request entries with the cells and counters that exactly those entries produce,
// and a service process started from its production entry.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { LATENCY_BUCKETS, QUERY_TYPES, defaultScoringConfig, epochScale, latencyBucket } from '@routeplex/scoring';
import { STAGES, openStore } from '@routeplex/store';

export const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const BENCH_MODELS = ['bench-model-0', 'bench-model-1', 'bench-model-2', 'bench-model-3', 'bench-model-4'];
export const JWT_SECRET = 'bench-secret-bench-secret-bench-secret';

export interface BenchDb {
  kind: 'postgres' | 'pglite';
  /** Environment for a service process opening this database. */
  env: Record<string, string>;
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Releases the connection (PGlite: a folder can be open in one process only). */
  release(): Promise<void>;
  /** Drops the scratch database or folder. */
  drop(): Promise<void>;
}

export async function openBenchDb(): Promise<BenchDb> {
  const base = process.env.DATABASE_URL;
  if (base) {
    const name = `rpx_bench_${process.pid}_${randomBytes(4).toString('hex')}`;
    const admin = async (sql: string) => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      try {
        await c.query(sql);
      } finally {
        await c.end();
      }
    };
    await admin(`create database ${name}`);
    const url = new URL(base);
    url.pathname = `/${name}`;
    let client: pg.Client | undefined;
    const release = async () => {
      await client?.end();
      client = undefined;
    };
    const connect = async () => {
      if (!client) {
        client = new pg.Client({ connectionString: url.toString() });
        await client.connect();
      }
      return client;
    };
    return {
      kind: 'postgres',
      env: { DATABASE_URL: url.toString() },
      async query(sql, params = []) {
        return (await (await connect()).query(sql, params)).rows as Record<string, unknown>[];
      },
      release,
      async drop() {
        await release();
        await admin(`drop database if exists ${name} with (force)`);
      },
    };
  }
  const dir = await mkdtemp(join(tmpdir(), 'rpx-insights-bench-'));
  let db: PGlite | undefined;
  const release = async () => {
    await db?.close();
    db = undefined;
  };
  const open = async () => {
    db ??= new PGlite(dir);
    await db.waitReady;
    return db;
  };
  return {
    kind: 'pglite',
    env: { ROUTEPLEX_DATA_DIR: dir },
    async query(sql, params = []) {
      return (await (await open()).query<Record<string, unknown>>(sql, params)).rows;
    },
    release,
    async drop() {
      await release();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The schema is created by the store's migrations: run them by opening the store once. */
export async function migrate(db: BenchDb): Promise<void> {
  await db.release();
  const store = await openStore(
    db.kind === 'postgres'
      ? { databaseUrl: db.env.DATABASE_URL!, listen: false }
      : { pgliteDir: db.env.ROUTEPLEX_DATA_DIR!, listen: false },
  );
  await store.close();
}

export interface SeedOptions {
  accountId: string;
  /** Suffix that makes request ids unique per account (letters and digits). */
  tag: string;
  count: number;
  /** Time of the newest entry (ms) and spacing between entries. */
  newestMs: number;
  stepMs: number;
}

/** The deterministic entry i (1-based) of a seeded account, as the SQL below writes it. */
export function seededEntry(i: number, o: SeedOptions) {
  return {
    id: `req_${String(i).padStart(12, '0')}${o.tag}`,
    queryType: QUERY_TYPES[i % 12]!,
    model: BENCH_MODELS[i % 5]!,
    atMs: o.newestMs - i * o.stepMs,
    quality: ((i * 7919) % 1000) / 1000,
    latencyMs: 200 + ((i * 31) % 5000),
    costUsd: (1 + (i % 5)) / 10_000,
    enhanced: i % 4 === 0,
    changed: i % 7 === 0,
    stage: STAGES[i % 3]!,
  };
}

const ENTRY_SQL = `
insert into request_entries (account_id, id, created_at, kind, query_type, complexity, model, provider, stage, personal_weight,
  changed_by_personal, auto_routed, enhanced, preference, status, heuristic_quality, signals, latency_ms, prompt_tokens,
  completion_tokens, cost_usd, message_hmac)
select $1, 'req_' || lpad(i::text, 12, '0') || $2, to_timestamp(($3::float8 - i * $4::float8) / 1000), 'completion',
  ($5::text[])[(1 + i % 12)::int], 'medium', ($6::text[])[(1 + i % 5)::int], 'bench', ($7::text[])[(1 + i % 3)::int], 0.5,
  i % 7 = 0, true, i % 4 = 0, 'balanced', 'ok', ((i * 7919) % 1000) / 1000.0, '{}', 200 + (i * 31) % 5000, 100, 200,
  (1 + i % 5) / 10000.0, null
from generate_series($8::bigint, $9::bigint) as i`;

/**
 * Inserts `count` entries for an account with one SQL statement per chunk, then the account's cells and
 * counters computed from exactly those entries (the router's heuristic contributions), added to the global
 * cells as the store would.
 */
export async function seedAccount(db: BenchDb, o: SeedOptions, onProgress?: (done: number) => void): Promise<void> {
  await db.query('insert into accounts (id, name) values ($1, $2) on conflict do nothing', [o.accountId, 'bench']);
  const chunk = 100_000;
  for (let from = 1; from <= o.count; from += chunk) {
    const to = Math.min(o.count, from + chunk - 1);
    await db.query(ENTRY_SQL, [
      o.accountId,
      o.tag,
      o.newestMs,
      o.stepMs,
      [...QUERY_TYPES],
      BENCH_MODELS,
      [...STAGES],
      from,
      to,
    ]);
    onProgress?.(to);
  }
  type Sums = { n: number; q: number; q2: number; latencyMs: number; costUsd: number; hist: number[] };
  const cells = new Map<string, Sums>();
  const counters = new Map<string, number[]>();
  for (let i = 1; i <= o.count; i++) {
    const e = seededEntry(i, o);
    const s = epochScale(e.atMs, defaultScoringConfig);
    const key = `${e.queryType}|${e.model}`;
    let c = cells.get(key);
    if (!c)
      cells.set(
        key,
        (c = { n: 0, q: 0, q2: 0, latencyMs: 0, costUsd: 0, hist: new Array<number>(LATENCY_BUCKETS).fill(0) }),
      );
    c.n += s;
    c.q += s * e.quality;
    c.q2 += s * e.quality * e.quality;
    c.latencyMs += s * e.latencyMs;
    c.costUsd += s * e.costUsd;
    c.hist[latencyBucket(e.latencyMs)]! += s;
    let k = counters.get(e.queryType);
    if (!k) counters.set(e.queryType, (k = new Array<number>(12).fill(0)));
    k[0]! += 1;
    k[1]! += 1;
    k[2]! += e.changed ? 1 : 0;
    k[3 + STAGES.indexOf(e.stage)]! += 1;
    const q = e.quality;
    if (e.enhanced) {
      k[6]! += 1;
      k[7]! += q;
      k[8]! += q * q;
    } else {
      k[9]! += 1;
      k[10]! += q;
      k[11]! += q * q;
    }
  }
  for (const [key, c] of cells) {
    const [queryType, model] = key.split('|');
    const values = [queryType, model, c.n, c.q, c.q2, c.n, 0, 0, c.latencyMs, c.costUsd, c.hist];
    await db.query(
      `insert into account_cells (account_id, query_type, model, n, q, q2, requests, ratings, failures, latency_ms, cost_usd, latency_hist)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::float8[])`,
      [o.accountId, ...values],
    );
    await db.query(
      `insert into global_cells (query_type, model, n, q, q2, requests, ratings, failures, latency_ms, cost_usd, latency_hist, contributors)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::float8[], 1)
       on conflict (query_type, model) do update set n = global_cells.n + excluded.n, q = global_cells.q + excluded.q,
         q2 = global_cells.q2 + excluded.q2, requests = global_cells.requests + excluded.requests,
         latency_ms = global_cells.latency_ms + excluded.latency_ms, cost_usd = global_cells.cost_usd + excluded.cost_usd,
         latency_hist = rpx_float8_array_add(global_cells.latency_hist, excluded.latency_hist),
         contributors = global_cells.contributors + 1`,
      values,
    );
  }
  for (const [queryType, k] of counters) {
    await db.query(
      `insert into account_counters (account_id, query_type, requests, auto_routed, changed_by_personal, cold_start, warm_up, established,
         enhanced_n, enhanced_q, enhanced_q2, plain_n, plain_q, plain_q2)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      [o.accountId, queryType, ...k],
    );
  }
}

/** Starts a service from its production entry and resolves once it logs that it listens. */
export function startService(script: string, env: Record<string, string>): Promise<ChildProcess> {
  const extraNodeArgs = (process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter(Boolean); // e.g. --cpu-prof
  const child = spawn(process.execPath, [...extraNodeArgs, '--import', 'tsx', join(ROOT, script)], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...env,
      ROUTEPLEX_JWT_SECRET: JWT_SECRET,
      GRPC_HOST: '127.0.0.1',
      ROUTEPLEX_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      const text = d.toString();
      if (/listening/.test(text)) resolve(child);
      if (/"level":(50|60)/.test(text)) process.stderr.write(text);
    });
    child.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}

export function stopService(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** CPU time (user + system, ms) a process has used so far, from /proc (Linux). */
export async function cpuMsOf(pid: number | undefined): Promise<number> {
  if (pid === undefined) return Number.NaN;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the line, in clock ticks (100 per second on Linux).
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

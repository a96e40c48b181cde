/**
 * Batched ratings straight through the store (no gRPC, no service): `rateRequests` with batches of a given
 * size, one batch after another, each rating replacing its request's heuristic contribution in the account
 * and global cells and the counters, as FeedbackService does. Afterwards the ratings are counted back and
 * the cells' rating counts checked: the script fails if one is missing.
 *
 *   pnpm exec tsx packages/store/bench/rate-requests.ts [ratings=6400] [batch sizes=1,32,200] [postgres|pglite|both]
 *
 * PostgreSQL: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) names the server; the
 * benchmark runs in a scratch database it creates and drops. PGlite runs in memory.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import pg from 'pg';
import {
  QUERY_TYPES,
  newRequestId,
  openStore,
  type EntryWrite,
  type Rating,
  type RatingRequest,
  type RequestEntry,
  type Store,
} from '../src/index.js';

const total = Number(process.argv[2] ?? 6400);
const sizes = (process.argv[3] ?? '1,32,200').split(',').map(Number);
const which = process.argv[4] ?? 'both';
const baseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const ACCOUNTS = 32;
const MODELS = ['model-a', 'model-b', 'model-c', 'model-d', 'model-e'];
const RATING_WEIGHT = 3;

function write(i: number, now: number): EntryWrite {
  const accountId = `acc_rate${i % ACCOUNTS}`;
  const queryType = QUERY_TYPES[i % QUERY_TYPES.length] as string;
  const model = MODELS[(i * 7) % MODELS.length] as string;
  const quality = ((i * 37) % 100) / 100;
  const hist = new Array<number>(24).fill(0);
  hist[i % 24] = 1;
  const entry: RequestEntry = {
    id: newRequestId(),
    accountId,
    createdAt: new Date(now - i * 1000),
    kind: 'completion',
    queryType,
    complexity: 'medium',
    model,
    provider: 'simulator',
    stage: 'warm_up',
    personalWeight: 0.4,
    changedByPersonal: false,
    autoRouted: true,
    enhanced: i % 3 === 0,
    preference: 'balanced',
    status: 'ok',
    heuristicQuality: quality,
    signals: { length: 0.5 },
    latencyMs: 300 + (i % 2000),
    promptTokens: 100,
    completionTokens: 200,
    costUsd: 0.0004,
    messageHmac: null,
  };
  return {
    entry,
    cellDeltas: [
      {
        accountId,
        queryType,
        model,
        delta: {
          n: 1,
          q: quality,
          q2: quality * quality,
          requests: 1,
          ratings: 0,
          failures: 0,
          latencyMs: entry.latencyMs,
          costUsd: entry.costUsd,
          latencyHist: hist,
        },
      },
    ],
    counterDelta: { accountId, queryType, requests: 1, autoRouted: 1, plainN: 1, plainQ: quality },
  };
}

/** Replaces the heuristic (or earlier rating's) contribution by a rating of weight RATING_WEIGHT. */
function rating(entry: RequestEntry, score: number): RatingRequest {
  const quality = (score - 1) / 4;
  return {
    accountId: entry.accountId,
    requestId: entry.id,
    compute: (e: RequestEntry, previous: Rating | null) => {
      const oldWeight = previous === null ? 1 : RATING_WEIGHT;
      const oldQuality = previous?.quality ?? (e.heuristicQuality as number);
      const hist = new Array<number>(24).fill(0);
      return {
        rating: { score, isHelpful: null, quality },
        cellDelta: {
          n: RATING_WEIGHT - oldWeight,
          q: RATING_WEIGHT * quality - oldWeight * oldQuality,
          q2: RATING_WEIGHT * quality ** 2 - oldWeight * oldQuality ** 2,
          requests: 0,
          ratings: previous === null ? 1 : 0,
          failures: 0,
          latencyMs: 0,
          costUsd: 0,
          latencyHist: hist,
        },
        counterDelta: { plainQ: quality - oldQuality, plainQ2: quality ** 2 - oldQuality ** 2 },
      };
    },
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;
}

async function run(store: Store, backend: string, batchSize: number): Promise<void> {
  const now = Date.now();
  const entries: RequestEntry[] = [];
  for (let i = 0; i < total; i++) {
    const w = write(i, now);
    entries.push(w.entry);
    void store.enqueue(w);
  }
  await store.flush();
  // Batches take requests of every account in turn, as concurrent callers would send them.
  const times: number[] = [];
  let failed = 0;
  const started = performance.now();
  for (let from = 0; from < total; from += batchSize) {
    const items = entries.slice(from, from + batchSize).map((e, k) => rating(e, 1 + ((from + k) % 5)));
    const t = performance.now();
    const outcomes = await store.rateRequests(items);
    times.push(performance.now() - t);
    failed += outcomes.filter((o) => o instanceof Error).length;
  }
  const seconds = (performance.now() - started) / 1000;
  const ratings = (await store.dumpAll()).ratings.length;
  let cellRatings = 0;
  for (let a = 0; a < ACCOUNTS; a++)
    for (const cell of await store.loadAccountCells(`acc_rate${a}`)) cellRatings += cell.ratings;
  times.sort((x, y) => x - y);
  console.log(
    JSON.stringify({
      backend,
      batchSize,
      ratings: total,
      failed,
      storedRatings: ratings,
      cellRatings,
      ratingsPerSecond: Math.round(total / seconds),
      batchP50Ms: percentile(times, 0.5).toFixed(2),
      batchP99Ms: percentile(times, 0.99).toFixed(2),
      loadAverage: os.loadavg()[0]?.toFixed(1),
      cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown'}`,
      node: process.version,
    }),
  );
  if (failed > 0 || ratings !== total || cellRatings !== total) process.exitCode = 1;
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: baseUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

for (const batchSize of sizes) {
  if (which === 'postgres' || which === 'both') {
    const name = `rpx_rate_bench_${process.pid}_${randomBytes(4).toString('hex')}`;
    await admin(`create database ${name}`);
    const url = new URL(baseUrl);
    url.pathname = `/${name}`;
    try {
      const store = await openStore({ databaseUrl: url.toString(), listen: false });
      try {
        await run(store, 'postgres', batchSize);
      } finally {
        await store.close();
      }
    } finally {
      await admin(`drop database if exists ${name} with (force)`);
    }
  }
  if (which === 'pglite' || which === 'both') {
    const store = await openStore({ listen: false });
    try {
      await run(store, 'pglite', batchSize);
    } finally {
      await store.close();
    }
  }
}

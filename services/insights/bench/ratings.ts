// Ratings throughput: 32 concurrent callers submit ratings through gRPC to FeedbackService started from its
// production entry (its own process); each rating replaces its request's heuristic contribution in the
// account and global cells in one transaction. Afterwards the service is stopped and the ratings are
// counted in the database: every acknowledged rating must be there.
// usage: pnpm exec tsx services/insights/bench/ratings.ts [--concurrency 32] [--accounts 32] [--per-caller 400]
//        (DATABASE_URL selects PostgreSQL, a scratch database per run; otherwise PGlite in a temporary folder)
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { credentials, Metadata } from '@grpc/grpc-js';
import { feedbackV1 } from '@routeplex/contracts';
import { mintJwt } from '@routeplex/platform';
import {
  JWT_SECRET,
  cpuMsOf,
  migrate,
  openBenchDb,
  percentile,
  seedAccount,
  seededEntry,
  startService,
  stopService,
  type SeedOptions,
} from './seed.js';

const { values } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '32' },
    accounts: { type: 'string', default: '32' },
    'per-caller': { type: 'string', default: '400' },
  },
});
const concurrency = Number(values.concurrency);
const accountCount = Number(values.accounts);
const perCaller = Number(values['per-caller']);
const PORT = 50394;

const db = await openBenchDb();
try {
  await migrate(db);
  const now = Date.now();
  // Callers share the accounts round-robin; each caller rates its own slice of its account's entries.
  const callersPerAccount = Math.ceil(concurrency / accountCount);
  const seeds: SeedOptions[] = [];
  for (let a = 0; a < accountCount; a++) {
    const seed = {
      accountId: `acc_rate${a}`,
      tag: `R${a}`,
      count: callersPerAccount * perCaller,
      newestMs: now - 1000,
      stepMs: 30_000,
    };
    seeds.push(seed);
    await seedAccount(db, seed);
  }
  await db.release();

  const service = await startService('services/feedback/src/main.ts', { ...db.env, FEEDBACK_GRPC_PORT: String(PORT) });
  const client = new feedbackV1.FeedbackServiceClient(`127.0.0.1:${PORT}`, credentials.createInsecure());
  const tokens = await Promise.all(
    seeds.map((s) => mintJwt({ secret: JWT_SECRET, accountId: s.accountId, ttlSeconds: 3600 })),
  );
  const latencies: number[] = [];
  let acknowledged = 0;
  let failed = 0;
  try {
    const caller = async (c: number) => {
      const a = c % accountCount;
      const slot = Math.floor(c / accountCount);
      const md = new Metadata();
      md.set('authorization', `Bearer ${tokens[a]}`);
      for (let k = 0; k < perCaller; k++) {
        const entry = seededEntry(1 + slot * perCaller + k, seeds[a]!);
        const t = process.hrtime.bigint();
        await new Promise<void>((resolve) =>
          client.submitFeedback({ requestId: entry.id, score: 1 + (k % 5) }, md, (err) => {
            if (err) {
              failed++;
              if (failed <= 3) console.error(`rating failed: ${err.code} ${err.details}`);
            } else acknowledged++;
            resolve();
          }),
        );
        latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    };
    const cpuBefore = await cpuMsOf(service.pid);
    const started = process.hrtime.bigint();
    await Promise.all(Array.from({ length: concurrency }, (_, c) => caller(c)));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const serviceCpuMs = (await cpuMsOf(service.pid)) - cpuBefore;
    client.close();
    await stopService(service);

    const [row] = (await db.query('select count(*)::bigint as count from ratings')) as [{ count: unknown }];
    const stored = Number(row.count);
    const [cells] = (await db.query('select coalesce(sum(ratings), 0) as r from account_cells')) as [{ r: unknown }];
    latencies.sort((x, y) => x - y);
    console.log(
      JSON.stringify({
        backend: db.kind,
        concurrency,
        accounts: accountCount,
        submitted: concurrency * perCaller,
        acknowledged,
        failed,
        storedRatings: stored,
        lost: acknowledged - stored,
        ratedCellsPositive: Number(cells.r) > 0,
        ratingsPerSecond: Math.round(acknowledged / seconds),
        seconds: seconds.toFixed(2),
        p50Ms: percentile(latencies, 0.5).toFixed(2),
        p99Ms: percentile(latencies, 0.99).toFixed(2),
        serviceCpuMsPerRating: (serviceCpuMs / acknowledged).toFixed(3),
        serviceCpuShare: (serviceCpuMs / 1000 / seconds).toFixed(2),
        loadAverage: loadavg()[0]!.toFixed(1),
        cpus: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
        node: process.version,
      }),
    );
    if (acknowledged !== stored) process.exitCode = 1;
  } finally {
    client.close();
    if (service.exitCode === null) await stopService(service);
  }
} finally {
  await db.drop();
}

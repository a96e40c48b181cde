// GetLearningDashboard latency for an account with many metadata entries (default 1,000,000), through gRPC,
// against InsightsService started from its production entry (its own process). The account's entries are
// bulk-inserted with the cells and counters they produce; 20 other accounts give global cells above K.
// usage: pnpm exec tsx services/insights/bench/dashboard.ts [--entries 1000000] [--calls 2000] [--window-calls 10]
//        (DATABASE_URL selects PostgreSQL, a scratch database per run; otherwise PGlite in a temporary folder)
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { credentials, Metadata } from '@grpc/grpc-js';
import { insightsV1 } from '@routeplex/contracts';
import { mintJwt } from '@routeplex/platform';
import { JWT_SECRET, migrate, openBenchDb, percentile, seedAccount, startService, stopService } from './seed.js';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '1000000' },
    calls: { type: 'string', default: '2000' },
    'window-calls': { type: 'string', default: '10' },
  },
});
const entries = Number(values.entries);
const calls = Number(values.calls);
const windowCalls = Number(values['window-calls']);
const PORT = 50393;

const db = await openBenchDb();
try {
  await migrate(db);
  const now = Date.now();
  const started = Date.now();
  // 26.7 days of history at one request every 2.4 s.
  await seedAccount(
    db,
    { accountId: 'acc_bench_big', tag: 'B', count: entries, newestMs: now - 1000, stepMs: 2400 },
    (done) => process.stderr.write(`\rseeded ${done} entries`),
  );
  for (let a = 0; a < 20; a++)
    await seedAccount(db, {
      accountId: `acc_bench_other${a}`,
      tag: `O${a}`,
      count: 600,
      newestMs: now - 1000,
      stepMs: 60_000,
    });
  const [{ count }] = (await db.query(
    "select count(*)::bigint as count from request_entries where account_id = 'acc_bench_big'",
  )) as [{ count: unknown }];
  process.stderr.write(
    `\nseeded ${String(count)} entries for the measured account in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
  await db.release();

  const service = await startService('services/insights/src/main.ts', { ...db.env, INSIGHTS_GRPC_PORT: String(PORT) });
  const client = new insightsV1.InsightsServiceClient(`127.0.0.1:${PORT}`, credentials.createInsecure());
  const md = new Metadata();
  md.set(
    'authorization',
    `Bearer ${await mintJwt({ secret: JWT_SECRET, accountId: 'acc_bench_big', ttlSeconds: 3600 })}`,
  );
  const once = () =>
    new Promise<insightsV1.GetLearningDashboardResponse>((resolve, reject) =>
      client.getLearningDashboard({}, md, (err, res) => (err ? reject(err) : resolve(res))),
    );
  try {
    const first = await once();
    if (first.modelStats.length !== 60 || first.routingInfluence?.totalRequests !== String(entries))
      throw new Error(
        `unexpected dashboard: ${first.modelStats.length} rows, ${first.routingInfluence?.totalRequests} requests`,
      );
    for (let i = 0; i < 100; i++) await once(); // warm-up
    const times: number[] = [];
    for (let i = 0; i < calls; i++) {
      const t = process.hrtime.bigint();
      await once();
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    times.sort((a, b) => a - b);
    const f = (v: number) => v.toFixed(2);
    // ListModelStats over a time window is exact: the store aggregates the window's entries in one query.
    // Each window is called `windowCalls` times after one warm-up call; the median and the slowest are kept.
    const windowed: Record<string, string> = {};
    const listWindow = (days: number) =>
      new Promise<insightsV1.ListModelStatsResponse>((resolve, reject) =>
        client.listModelStats(
          { queryType: 0, timeWindow: { seconds: String(days * 86400), nanos: 0 } },
          md,
          (err, r) => (err ? reject(err) : resolve(r)),
        ),
      );
    for (const days of [1, 7, 30]) {
      const res = await listWindow(days);
      const counted = res.modelStats.reduce((n, r) => n + Number(r.requestCount), 0);
      // The history spans 26.7 days: the 30-day window holds every entry (shorter ones drift by the seeding time).
      if (res.modelStats.length !== 60 || (days === 30 && counted !== entries))
        throw new Error(`${days}-day window: ${counted} requests in ${res.modelStats.length} rows`);
      const t: number[] = [];
      for (let i = 0; i < windowCalls; i++) {
        const start = process.hrtime.bigint();
        await listWindow(days);
        t.push(Number(process.hrtime.bigint() - start) / 1e6);
      }
      t.sort((a, b) => a - b);
      windowed[`listModelStats${days}d`] =
        `${counted} entries, p50 ${f(percentile(t, 0.5))} ms, max ${f(t[t.length - 1]!)} ms`;
    }
    console.log(
      JSON.stringify({
        backend: db.kind,
        entries,
        calls,
        modelStatsRows: first.modelStats.length,
        recommendations: first.recommendations.length,
        p50Ms: f(percentile(times, 0.5)),
        p95Ms: f(percentile(times, 0.95)),
        p99Ms: f(percentile(times, 0.99)),
        maxMs: f(times[times.length - 1]!),
        ...windowed,
        loadAverage: loadavg()[0]!.toFixed(1),
        cpus: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
        node: process.version,
      }),
    );
  } finally {
    client.close();
    await stopService(service);
  }
} finally {
  await db.drop();
}

// Router overhead benchmark: RouterService (its own process) in front of the fake OpenAI-compatible upstream
// of ../shared/bench, `routeplex-ai` with every request recorded. Measures, in one run:
//   sequential p50/p99 of the upstream alone (HTTP) and of the router (gRPC), i.e. the router's added latency;
//   requests/s at 32 concurrent gRPC calls; then stops the router (SIGTERM flushes) and reads the count back.
// usage: pnpm exec tsx services/router/bench/router-load.ts [--warmup 3000] [--seq 2000] [--duration 8] [--concurrency 32]
//        (DATABASE_URL selects PostgreSQL; otherwise PGlite in a temporary folder)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { credentials, Metadata } from '@grpc/grpc-js';
import { request } from 'undici';
import { routerV1 } from '@routeplex/contracts';
import { mintJwt } from '@routeplex/platform';
import { openStore } from '@routeplex/store';

const { values } = parseArgs({
  options: {
    seq: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '3000' },
    duration: { type: 'string', default: '8' },
    concurrency: { type: 'string', default: '32' },
  },
});
const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '../../..');
const UPSTREAM_PORT = 9311;
const ROUTER_PORT = 50391;
const secret = 'bench-secret-bench-secret-bench-secret';
const dataDir = await mkdtemp(join(tmpdir(), 'rpx-bench-'));

function waitForLine(child: ChildProcess, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      const text = d.toString();
      if (pattern.test(text)) resolve();
      if (/"level":(50|60)/.test(text)) process.stderr.write(text);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => process.stderr.write(d));
    child.once('exit', (code) => reject(new Error(`process exited with ${code}`)));
  });
}

const upstream = spawn(process.execPath, [join(root, '../shared/bench/fake-openai.mjs')], {
  env: { ...process.env, PORT: String(UPSTREAM_PORT) },
  stdio: ['ignore', 'pipe', 'pipe'],
});
await waitForLine(upstream, /fake-openai on/);
const extraNodeArgs = (process.env.BENCH_ROUTER_NODE_ARGS ?? '').split(' ').filter(Boolean); // e.g. --cpu-prof
const router = spawn(
  process.execPath,
  // The Dockerfile's entry point flags (the young-generation size, see scripts/start).
  [...extraNodeArgs, '--max-semi-space-size=32', '--import', 'tsx', join(root, 'services/router/src/main.ts')],
  {
    cwd: root,
    env: {
      ...process.env,
      ROUTER_GRPC_PORT: String(ROUTER_PORT),
      ROUTEPLEX_HMAC_SECRET: secret,
      ROUTEPLEX_JWT_SECRET: secret,
      ROUTEPLEX_CATALOG: join(here, 'bench-catalog.json'),
      BENCH_UPSTREAM_URL: `http://127.0.0.1:${UPSTREAM_PORT}/v1`,
      ROUTEPLEX_LOG_LEVEL: 'info',
      ...(process.env.DATABASE_URL ? {} : { ROUTEPLEX_DATA_DIR: join(dataDir, 'pglite') }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  },
);
await waitForLine(router, /RouterService listening/);

const accountId = `bench-${Date.now()}`;
const token = await mintJwt({ secret, accountId, ttlSeconds: 3600 });
const md = new Metadata();
md.set('authorization', `Bearer ${token}`);
const client = new routerV1.RouterServiceClient(`127.0.0.1:${ROUTER_PORT}`, credentials.createInsecure());
const req = routerV1.CreateChatCompletionRequest.fromPartial({
  model: 'routeplex-ai',
  messages: [{ role: 'user', content: 'Write a function that reverses a linked list in place.' }],
});
const viaRouter = () =>
  new Promise<void>((resolve, reject) =>
    client.createChatCompletion(req, md, (err) => (err ? reject(err) : resolve())),
  );
const upstreamBody = JSON.stringify({ model: 'gpt-4o-mini', messages: req.messages });
const viaUpstream = async () => {
  const r = await request(`http://127.0.0.1:${UPSTREAM_PORT}/v1/chat/completions`, {
    method: 'POST',
    body: upstreamBody,
    headers: { 'content-type': 'application/json' },
  });
  await r.body.text();
};

const q = (a: number[], p: number) => a[Math.min(a.length - 1, Math.floor(p * a.length))]!;
async function sequential(name: string, fn: () => Promise<void>, n: number) {
  const lat: number[] = [];
  for (let i = 0; i < n + 200; i++) {
    const t = process.hrtime.bigint();
    await fn();
    if (i >= 200) lat.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  lat.sort((a, b) => a - b);
  return { name, p50_us: Math.round(q(lat, 0.5)), p99_us: Math.round(q(lat, 0.99)) };
}

const n = Number(values.seq);
// Steady state: let the JIT and the caches warm up before measuring (the upstream alone needs none).
for (let i = 0; i < Number(values.warmup); i++) await viaRouter();
const rows = [
  await sequential('upstream (HTTP)', viaUpstream, n),
  await sequential('router (gRPC, routeplex-ai)', viaRouter, n),
];
console.log('== sequential');
console.table(rows);
console.log(`added p50: ${((rows[1]!.p50_us - rows[0]!.p50_us) / 1000).toFixed(3)} ms`);

const concurrency = Number(values.concurrency);
const durationMs = Number(values.duration) * 1000;
let done = 0;
let failed = 0;
const lat: number[] = [];
const until = Date.now() + durationMs;
const t0 = Date.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (Date.now() < until) {
      const t = process.hrtime.bigint();
      try {
        await viaRouter();
        done++;
        lat.push(Number(process.hrtime.bigint() - t) / 1e6);
      } catch {
        failed++;
      }
    }
  }),
);
const elapsed = (Date.now() - t0) / 1000;
lat.sort((a, b) => a - b);
console.log(`== load (${concurrency} concurrent calls, ${values.duration} s)`);
console.table([
  {
    rps: Math.round(done / elapsed),
    p50_ms: q(lat, 0.5).toFixed(2),
    p99_ms: q(lat, 0.99).toFixed(2),
    ok: done,
    failed,
  },
]);

client.close();
const sent = Number(values.warmup) + n + 200 + done; // successful router calls: warm-up, sequential, load
router.kill('SIGTERM');
await new Promise((r) => router.once('exit', r));
upstream.kill('SIGTERM');
const store = await openStore(
  process.env.DATABASE_URL
    ? { databaseUrl: process.env.DATABASE_URL, listen: false }
    : { pgliteDir: join(dataDir, 'pglite'), listen: false },
);
const recorded = await store.countEntries(accountId);
await store.close();
console.log(`== recorded: ${sent} successful router calls, entries of the bench account in the store: ${recorded}`);

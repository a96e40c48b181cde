// Adapter overhead: the OpenAI-compatible adapter against a bare keep-alive undici request to the same fake upstream,
// sequential latency and throughput at 32 concurrent calls; and the simulator at latencyScale 0.
// Run: pnpm exec tsx packages/providers/bench/adapters.bench.ts
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { Pool } from 'undici';
import { OpenAICompatibleProvider, SimulatorProvider, loadCatalog, type ChatCall } from '../src/index.js';

const FAKE_UPSTREAM = process.env.FAKE_OPENAI ?? '/work/shared/bench/fake-openai.mjs';
const SEQUENTIAL = 5_000;
const CONCURRENT_TOTAL = 10_000;
const ROUNDS = 5;
const CONCURRENCY = 32;

const call: ChatCall = {
  model: 'bench-model',
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Write a function that reverses a string, with a short explanation.' },
  ],
  maxTokens: 256,
};

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Sequential latency of several variants, interleaved call by call so that load from other processes on the machine
 * hits every variant alike.
 */
async function sequential(
  variants: Record<string, () => Promise<unknown>>,
): Promise<Record<string, { p50: number; p99: number }>> {
  const names = Object.keys(variants);
  for (let i = 0; i < 500; i++) for (const name of names) await variants[name]!(); // warm-up: JIT and connections
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 0; i < SEQUENTIAL; i++) {
    for (const name of names) {
      const t = process.hrtime.bigint();
      await variants[name]!();
      samples[name]!.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  }
  const results: Record<string, { p50: number; p99: number }> = {};
  for (const name of names) {
    const sorted = samples[name]!.sort((a, b) => a - b);
    results[name] = { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
    console.log(
      `${name.padEnd(38)} sequential p50 ${results[name].p50.toFixed(3)} ms  p99 ${results[name].p99.toFixed(3)} ms`,
    );
  }
  return results;
}

/** Calls per second at CONCURRENCY, median of ROUNDS rounds interleaved across variants. */
async function throughput(variants: Record<string, () => Promise<unknown>>): Promise<void> {
  const rates: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((n) => [n, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, fn] of Object.entries(variants)) {
      let next = 0;
      const started = process.hrtime.bigint();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next++ < CONCURRENT_TOTAL) await fn();
        }),
      );
      rates[name]!.push(CONCURRENT_TOTAL / (Number(process.hrtime.bigint() - started) / 1e9));
    }
  }
  for (const [name, list] of Object.entries(rates)) {
    const sorted = list.sort((a, b) => a - b);
    console.log(
      `${name.padEnd(38)} ${CONCURRENCY} concurrent: median ${Math.round(percentile(sorted, 50))} calls/s ` +
        `(rounds: ${list.map(Math.round).join(', ')})`,
    );
  }
}

// A free loopback port for the fake upstream.
const probe = createServer().listen(0, '127.0.0.1');
await once(probe, 'listening');
const PORT = (probe.address() as { port: number }).port;
probe.close();

const upstream = spawn(process.execPath, [FAKE_UPSTREAM], {
  env: { ...process.env, PORT: String(PORT) },
  stdio: ['ignore', 'pipe', 'inherit'],
});
await once(upstream.stdout!, 'data');
try {
  const baseUrl = `http://127.0.0.1:${PORT}/v1`;
  const pool = new Pool(`http://127.0.0.1:${PORT}`, { connections: 256 });
  const bare = async () => {
    // The same request body work as the adapter: serialise per call.
    const body = JSON.stringify({ model: call.model, messages: call.messages, max_tokens: call.maxTokens });
    const res = await pool.request({
      path: '/v1/chat/completions',
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    return JSON.parse(await res.body.text());
  };
  const adapter = new OpenAICompatibleProvider({ baseUrl, apiKey: 'sk-bench' });
  const viaAdapter = () => adapter.complete(call);
  const simulator = new SimulatorProvider({
    models: Object.fromEntries(
      loadCatalog({ env: {} })
        .models()
        .filter((m) => m.simulation)
        .map((m) => [m.providerModel, m.simulation!]),
    ),
    latencyScale: 0,
  });
  let i = 0;
  const viaSimulator = () =>
    simulator.complete({
      model: 'sim-coder',
      messages: [{ role: 'user', content: `Implement binary search, variant ${i++}` }],
    });

  console.log(
    `node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const variants = {
    'bare undici request + JSON.parse': bare,
    'OpenAICompatibleProvider.complete': viaAdapter,
  };
  const seq = await sequential(variants);
  const a = seq['OpenAICompatibleProvider.complete']!;
  const b = seq['bare undici request + JSON.parse']!;
  console.log(
    `adapter overhead over bare request: p50 ${(a.p50 - b.p50).toFixed(3)} ms, p99 ${(a.p99 - b.p99).toFixed(3)} ms`,
  );
  await sequential({ 'SimulatorProvider.complete (scale 0)': viaSimulator });
  await throughput({ ...variants, 'SimulatorProvider.complete (scale 0)': viaSimulator });
  await adapter.close();
  await pool.close();
} finally {
  upstream.kill('SIGTERM');
}

/**
 * Decision micro-benchmark: decide() over 15 candidates with personal, global and pooled (account and global) cells
 * (classification excluded), the cells built in one object layout as the router's cache builds them (globalCell).
 * Prints p50/p99/mean in microseconds over many timed calls after warm-up: on the same cells, and with the
 * cells of one model replaced before each call, as a request routed to it replaces them in the router.
 * Also prints the memory a decision allocates: the median growth of the heap over blocks of calls
 * (a block in which the young generation was collected shrinks the heap and falls below the median).
 * Last, how often the machine itself stalls this process: a loop that only reads the clock for a second
 * counts the gaps between two reads. A call of d us meets a gap over 20 us with a chance of about
 * d x (gaps a us), and once that is more than 1% the p99 is the machine's, not the decision's.
 * Run: pnpm exec tsx packages/scoring/bench/decide.bench.ts
 */
import { getHeapStatistics } from 'node:v8';
import type { CandidateModel, CellSums, GlobalCellSums } from '../src/index.js';
import {
  addCells,
  contributionCell,
  decide,
  defaultScoringConfig as cfg,
  emptyCell,
  globalCell,
  mulberry32,
  withContributors,
} from '../src/index.js';

const NOW = Date.UTC(2026, 6, 1);
const rng = mulberry32(1);
const candidates: CandidateModel[] = Array.from({ length: 15 }, (_, i) => ({
  id: `model-${i}`,
  provider: `provider-${i % 5}`,
  inputPerMTok: 0.1 * (i + 1) ** 1.5,
  outputPerMTok: 0.3 * (i + 1) ** 1.5,
  contextWindow: 32_000 + i * 8000,
  capabilities: i % 2 ? ['tools'] : ['tools', 'vision'],
  priorQuality: { code_algorithm: 0.4 + i * 0.03 },
  typicalLatencyMs: 500 + i * 200,
}));

function cell(n: number): CellSums {
  let c = emptyCell();
  for (let i = 0; i < n; i++)
    c = addCells(
      c,
      contributionCell(
        { quality: rng(), atMs: NOW - i * 3_600_000, latencyMs: 200 + rng() * 5000, costUsd: rng() * 0.01 },
        cfg,
      ),
    );
  return c;
}
const personal = new Map(candidates.map((c) => [c.id, cell(20)]));
const global = new Map<string, GlobalCellSums>(candidates.map((c) => [c.id, globalCell(cell(50), 12)]));
const pooledGlobal = new Map<string, GlobalCellSums>(candidates.map((c) => [c.id, globalCell(cell(80), 40)]));
const pooledPersonal = new Map(candidates.map((c) => [c.id, cell(30)]));
const input = {
  candidates,
  queryType: 'code_algorithm' as const,
  promptTokens: 800,
  preference: 'balanced' as const,
  constraints: { requiredCapabilities: ['tools'], maxCostUsd: 1, unhealthy: new Set<string>() },
  personal,
  global,
  pooled: { personal: pooledPersonal, global: pooledGlobal },
  config: cfg,
  nowMs: NOW,
  rng,
};

const WARMUP = 20_000;
const RUNS = 200_000;
let sink = 0;

/**
 * Times RUNS decisions; `between` runs before each one, untimed. In the router a request changes the
 * four cells of the model it was routed to (the account's and the global cell, of its type and over
 * all types), so the decision after it reads those as new objects.
 */
function measure(label: string, between: (i: number) => void): void {
  for (let i = 0; i < WARMUP; i++) {
    between(i);
    sink += decide(input).personalWeight;
  }
  const times = new Float64Array(RUNS);
  for (let i = 0; i < RUNS; i++) {
    between(i);
    const t0 = process.hrtime.bigint();
    sink += decide(input).personalWeight;
    times[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  times.sort();
  const q = (p: number) => times[Math.min(RUNS - 1, Math.floor(p * RUNS))]!;
  const mean = times.reduce((s, v) => s + v, 0) / RUNS;
  console.log(
    `decide(), 15 candidates, ${RUNS} calls${label}: p50 ${q(0.5).toFixed(1)} us, p99 ${q(0.99).toFixed(1)} us, p99.9 ${q(0.999).toFixed(1)} us, mean ${mean.toFixed(1)} us (checksum ${sink.toFixed(0)})`,
  );
}

measure('', () => {});

const answer = contributionCell({ quality: 0.7, atMs: NOW, latencyMs: 1200, costUsd: 0.004 }, cfg);
measure(', the four cells of one model new before each', (i) => {
  const id = candidates[i % candidates.length]!.id;
  personal.set(id, addCells(personal.get(id)!, answer));
  pooledPersonal.set(id, addCells(pooledPersonal.get(id)!, answer));
  global.set(id, withContributors(addCells(global.get(id)!, answer), 12));
  pooledGlobal.set(id, withContributors(addCells(pooledGlobal.get(id)!, answer), 40));
});

const BLOCK = 100;
const growth: number[] = [];
for (let b = 0; b < 101; b++) {
  const before = getHeapStatistics().used_heap_size;
  for (let i = 0; i < BLOCK; i++) sink += decide(input).personalWeight;
  growth.push((getHeapStatistics().used_heap_size - before) / BLOCK);
}
growth.sort((a, b) => a - b);
console.log(
  `allocated about ${(growth[50]! / 1024).toFixed(1)} KB a decision (median heap growth over 101 blocks of ${BLOCK} calls; checksum ${sink.toFixed(0)})`,
);

const STALL_MS = 1000;
const start = process.hrtime.bigint();
let prev = start;
let over20 = 0;
let over50 = 0;
for (;;) {
  const now = process.hrtime.bigint();
  const gap = Number(now - prev) / 1000;
  if (gap > 20) over20++;
  if (gap > 50) over50++;
  prev = now;
  if (Number(now - start) / 1e6 >= STALL_MS) break;
}
console.log(
  `the machine: gaps over 20 us between two clock reads ${(over20 / STALL_MS).toFixed(2)} a ms, over 50 us ${(over50 / STALL_MS).toFixed(2)} a ms (a loop that only reads the clock for ${STALL_MS / 1000} s)`,
);

/**
 * Classifier throughput on one core: classify() over the labelled prompts (own, mt-bench and
 * arena-bench-v1 texts, as real requests), repeated. Prints prompts/s and per-call p50/p99.
 * Run: pnpm exec tsx packages/scoring/bench/classify.bench.ts
 */
import { readFileSync } from 'node:fs';
import type { ChatMessage } from '../src/index.js';
import { classify } from '../src/index.js';

const here = new URL('.', import.meta.url).pathname;
const prompts: ChatMessage[][] = [];
for (const line of readFileSync(`${here}../../replay/data/classifier/prompts.jsonl`, 'utf8').split('\n')) {
  if (line.trim()) prompts.push([{ role: 'user', content: (JSON.parse(line) as { prompt: string }).prompt }]);
}
for (const line of readFileSync(`${here}../../../../shared/data/arena-bench-v1/replay.jsonl`, 'utf8').split('\n')) {
  if (line.trim()) prompts.push((JSON.parse(line) as { messages: ChatMessage[] }).messages);
}
const avgChars = prompts.reduce((s, m) => s + m[m.length - 1]!.content.length, 0) / prompts.length;

for (let i = 0; i < 3; i++) for (const p of prompts) classify(p);
const ROUNDS = 30;
const times = new Float64Array(ROUNDS * prompts.length);
let k = 0;
const t0 = process.hrtime.bigint();
for (let r = 0; r < ROUNDS; r++) {
  for (const p of prompts) {
    const s = process.hrtime.bigint();
    classify(p);
    times[k++] = Number(process.hrtime.bigint() - s) / 1000;
  }
}
const totalS = Number(process.hrtime.bigint() - t0) / 1e9;
times.sort();
const q = (p: number) => times[Math.floor(p * (times.length - 1))]!;
console.log(
  `classify(): ${times.length} calls over ${prompts.length} prompts (mean ${avgChars.toFixed(0)} chars): ${(times.length / totalS).toFixed(0)} prompts/s, p50 ${q(0.5).toFixed(1)} us, p99 ${q(0.99).toFixed(1)} us`,
);

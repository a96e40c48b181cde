/**
 * Classifier throughput on one core: classify() over real prompt sets, repeated. Prints, per set,
 * prompts/s and per-call p50/p99. Sets: our labelled prompts (short, everyday asks) and the
 * arena-bench-v1 prompts (real Chatbot Arena prompts, longer).
 * Run: pnpm exec tsx packages/scoring/bench/classify.bench.ts
 */
import { readFileSync } from 'node:fs';
import type { ChatMessage } from '../src/index.js';
import { classify } from '../src/index.js';

const here = new URL('.', import.meta.url).pathname;
const own: ChatMessage[][] = [];
for (const line of readFileSync(`${here}../../replay/data/classifier/prompts.jsonl`, 'utf8').split('\n')) {
  if (line.trim()) own.push([{ role: 'user', content: (JSON.parse(line) as { prompt: string }).prompt }]);
}
const arena: ChatMessage[][] = [];
for (const line of readFileSync(`${here}../../../../shared/data/arena-bench-v1/replay.jsonl`, 'utf8').split('\n')) {
  if (line.trim()) arena.push((JSON.parse(line) as { messages: ChatMessage[] }).messages);
}

function run(name: string, prompts: ChatMessage[][], rounds: number): void {
  const avgChars = prompts.reduce((s, m) => s + m[m.length - 1]!.content.length, 0) / prompts.length;
  for (let i = 0; i < 3; i++) for (const p of prompts) classify(p);
  // Throughput without per-call timers, then per-call latencies in a separate pass.
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) for (const p of prompts) classify(p);
  const perSecond = (rounds * prompts.length) / (Number(process.hrtime.bigint() - t0) / 1e9);
  const times = new Float64Array(rounds * prompts.length);
  let k = 0;
  for (let r = 0; r < rounds; r++) {
    for (const p of prompts) {
      const s = process.hrtime.bigint();
      classify(p);
      times[k++] = Number(process.hrtime.bigint() - s) / 1000;
    }
  }
  times.sort();
  const q = (p: number) => times[Math.floor(p * (times.length - 1))]!;
  console.log(
    `classify() on ${name} (${prompts.length} prompts, mean ${avgChars.toFixed(0)} chars, ${rounds} rounds): ${perSecond.toFixed(0)} prompts/s, p50 ${q(0.5).toFixed(1)} us, p99 ${q(0.99).toFixed(1)} us`,
  );
}

run('own labelled prompts', own, 40);
run('arena-bench-v1 prompts', arena, 100);

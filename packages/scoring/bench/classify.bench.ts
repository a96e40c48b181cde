/**
 * Classifier throughput on one core: classify() over real prompt sets, repeated. Prints, per set,
 * prompts/s and per-call p50/p99. Sets: our labelled prompts (short, everyday asks) and the
 * arena-bench-v1 prompts (real Chatbot Arena prompts, longer). Then the weight lookups alone on the
 * arena prompts, the committed int8 table against a float32 copy of it, interleaved in one process so
 * that the machine's slow and fast phases fall on both alike.
 * Run: pnpm exec tsx packages/scoring/bench/classify.bench.ts
 */
import { readFileSync } from 'node:fs';
import type { ChatMessage, DenseClassifier } from '../src/index.js';
import { FeatureBuffer, classify, denseFromSerialized, extractFeatures, logits } from '../src/index.js';
import { CLASSIFIER_WEIGHTS } from '../src/classifier/weights.generated.js';

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

function lookups(prompts: ChatMessage[][]): void {
  const buffers = prompts.map((m) => {
    const b = new FeatureBuffer();
    extractFeatures(m, b);
    return b;
  });
  const int8 = denseFromSerialized(CLASSIFIER_WEIGHTS);
  const float32: DenseClassifier = {
    ...int8,
    weights: Float32Array.from(int8.weights, (w) => w * int8.scale!),
    scale: 1,
  };
  const out = new Float64Array(int8.classes.length);
  let sink = 0;
  const nsPerPrompt = (model: DenseClassifier) => {
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < 20; r++) for (const b of buffers) sink += logits(model, b, out)[0]!;
    return Number(process.hrtime.bigint() - t0) / (20 * buffers.length);
  };
  for (let i = 0; i < 5; i++) {
    nsPerPrompt(float32);
    nsPerPrompt(int8);
  }
  const f: number[] = [];
  const q: number[] = [];
  const ratio: number[] = [];
  for (let i = 0; i < 40; i++) {
    f.push(nsPerPrompt(float32));
    q.push(nsPerPrompt(int8));
    ratio.push(f[i]! / q[i]!);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const features = buffers.reduce((s, b) => s + b.length, 0) / buffers.length;
  console.log(
    `weight lookups on arena-bench-v1 prompts (${features.toFixed(0)} features a prompt, 40 interleaved blocks): int8 ${(median(q) / 1000).toFixed(1)} us, float32 ${(median(f) / 1000).toFixed(1)} us a prompt, median ratio ${median(ratio).toFixed(2)}x (checksum ${sink.toFixed(0)})`,
  );
}

lookups(arena);

import type { DenseClassifier, QueryType } from '@routeplex/scoring';
import { FEATURE_DIM, FeatureBuffer, QUERY_TYPES, extractFeatures } from '@routeplex/scoring';
import type { LabelledExample } from './dataset.js';

export interface TrainOptions {
  epochs: number;
  learningRate: number;
  l2: number;
  /** Drop features seen in fewer training examples (keeps the committed model small, reduces noise). */
  minDocFreq: number;
  /** Class weights (N / (K n_c))^balance: 0 = none, 1 = fully balanced. */
  balance: number;
  seed: number;
  /** Train this many models on differently shuffled orders (seeds seed, seed+1000, ...) and average their weights. */
  averageOf: number;
}

export const DEFAULT_TRAIN_OPTIONS: TrainOptions = {
  epochs: 60,
  learningRate: 0.3,
  l2: 1e-4,
  minDocFreq: 2,
  balance: 0.5,
  seed: 7,
  averageOf: 5,
};

interface SparseExample {
  idx: Int32Array;
  val: Float64Array;
  y: number;
  weight: number;
}

function toSparse(e: LabelledExample, buf: FeatureBuffer): { idx: Int32Array; val: Float64Array } {
  extractFeatures(e.messages, buf);
  const counts = new Map<number, number>();
  for (let i = 0; i < buf.length; i++) counts.set(buf.indices[i]!, (counts.get(buf.indices[i]!) ?? 0) + 1);
  const norm = buf.length > 0 ? 1 / Math.sqrt(buf.length) : 0;
  const idx = new Int32Array(counts.size);
  const val = new Float64Array(counts.size);
  let j = 0;
  for (const [k, v] of counts) {
    idx[j] = k;
    val[j] = v * norm;
    j++;
  }
  return { idx, val };
}

/**
 * Multinomial logistic regression with AdaGrad and L2, over the same hashed features as inference
 * (the scorer sums weights per feature occurrence and scales by 1/sqrt(count), which equals the dot
 * product with these count/sqrt(total) values).
 */
export function trainClassifier(
  examples: readonly LabelledExample[],
  options: Partial<TrainOptions> = {},
): DenseClassifier {
  const opt = { ...DEFAULT_TRAIN_OPTIONS, ...options };
  if (opt.averageOf > 1) {
    const models = Array.from({ length: opt.averageOf }, (_, i) =>
      trainClassifier(examples, { ...opt, averageOf: 1, seed: opt.seed + 1000 * i }),
    );
    const first = models[0]!;
    const weights = new Float32Array(first.weights.length);
    const bias = new Float64Array(first.bias.length);
    for (const m of models) {
      for (let i = 0; i < weights.length; i++) weights[i]! += m.weights[i]! / models.length;
      for (let i = 0; i < bias.length; i++) bias[i]! += m.bias[i]! / models.length;
    }
    return { ...first, bias, weights };
  }
  const K = QUERY_TYPES.length;
  const buf = new FeatureBuffer();
  const classIndex = new Map<QueryType, number>(QUERY_TYPES.map((t, i) => [t, i]));
  const raw = examples.map((e) => ({ ...toSparse(e, buf), y: classIndex.get(e.expected)! }));
  const df = new Uint32Array(FEATURE_DIM);
  for (const r of raw) for (const i of r.idx) df[i]!++;
  const classCount = new Array<number>(K).fill(0);
  for (const r of raw) classCount[r.y]!++;
  const data: SparseExample[] = raw.map((r) => {
    const keep: number[] = [];
    for (let j = 0; j < r.idx.length; j++) if (df[r.idx[j]!]! >= opt.minDocFreq) keep.push(j);
    const weight = Math.pow(raw.length / (K * Math.max(1, classCount[r.y]!)), opt.balance);
    return {
      idx: Int32Array.from(keep, (j) => r.idx[j]!),
      val: Float64Array.from(keep, (j) => r.val[j]!),
      y: r.y,
      weight,
    };
  });

  const W = new Float32Array(FEATURE_DIM * K);
  const G = new Float32Array(FEATURE_DIM * K);
  const bias = new Float64Array(K);
  const gBias = new Float64Array(K);
  const z = new Float64Array(K);
  let state = opt.seed >>> 0 || 1;
  const rand = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const order = data.map((_, i) => i);
  for (let epoch = 0; epoch < opt.epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (const n of order) {
      const ex = data[n]!;
      for (let c = 0; c < K; c++) z[c] = bias[c]!;
      for (let j = 0; j < ex.idx.length; j++) {
        const base = ex.idx[j]! * K;
        const v = ex.val[j]!;
        for (let c = 0; c < K; c++) z[c]! += W[base + c]! * v;
      }
      let max = -Infinity;
      for (let c = 0; c < K; c++) max = Math.max(max, z[c]!);
      let s = 0;
      for (let c = 0; c < K; c++) {
        z[c] = Math.exp(z[c]! - max);
        s += z[c]!;
      }
      for (let c = 0; c < K; c++) {
        const g = ex.weight * (z[c]! / s - (c === ex.y ? 1 : 0));
        gBias[c]! += g * g;
        bias[c]! -= (opt.learningRate * g) / Math.sqrt(gBias[c]! + 1e-8);
        for (let j = 0; j < ex.idx.length; j++) {
          const k = ex.idx[j]! * K + c;
          const gw = g * ex.val[j]! + opt.l2 * W[k]!;
          G[k]! += gw * gw;
          W[k]! -= (opt.learningRate * gw) / Math.sqrt(G[k]! + 1e-8);
        }
      }
    }
  }
  return { dim: FEATURE_DIM, classes: QUERY_TYPES, bias, weights: W };
}

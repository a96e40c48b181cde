import type { ChatMessage, Complexity, QueryType } from '../types.js';
import { FeatureBuffer, extractFeatures } from './features.js';
import type { DenseClassifier, SerializedClassifier } from './model.js';
import { denseFromSerialized } from './model.js';
import { CLASSIFIER_WEIGHTS } from './weights.generated.js';

export interface Classification {
  queryType: QueryType;
  complexity: Complexity;
  /** Probability the model gives its chosen type, in (0, 1]. */
  confidence: number;
}

/** Class logits of a feature vector (feature weights summed, scaled by scale/sqrt(count), plus bias). */
export function logits(
  model: DenseClassifier,
  features: FeatureBuffer,
  out: Float64Array = new Float64Array(model.classes.length),
): Float64Array {
  const k = model.classes.length;
  const w = model.weights;
  const idx = features.indices;
  const n = features.length;
  if (k === 12) {
    // The hot loop, unrolled for the 12 query types: twelve running sums stay in registers.
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0, s8 = 0, s9 = 0, s10 = 0, s11 = 0; // prettier-ignore
    for (let i = 0; i < n; i++) {
      const b = idx[i]! * 12;
      s0 += w[b]!;
      s1 += w[b + 1]!;
      s2 += w[b + 2]!;
      s3 += w[b + 3]!;
      s4 += w[b + 4]!;
      s5 += w[b + 5]!;
      s6 += w[b + 6]!;
      s7 += w[b + 7]!;
      s8 += w[b + 8]!;
      s9 += w[b + 9]!;
      s10 += w[b + 10]!;
      s11 += w[b + 11]!;
    }
    out[0] = s0;
    out[1] = s1;
    out[2] = s2;
    out[3] = s3;
    out[4] = s4;
    out[5] = s5;
    out[6] = s6;
    out[7] = s7;
    out[8] = s8;
    out[9] = s9;
    out[10] = s10;
    out[11] = s11;
  } else {
    for (let c = 0; c < k; c++) out[c] = 0;
    for (let i = 0; i < n; i++) {
      const base = idx[i]! * k;
      for (let c = 0; c < k; c++) out[c]! += w[base + c]!;
    }
  }
  const norm = n > 0 ? (model.scale ?? 1) / Math.sqrt(n) : 0;
  for (let c = 0; c < k; c++) out[c] = out[c]! * norm + model.bias[c]!;
  return out;
}

export interface Classifier {
  classify(messages: readonly ChatMessage[]): Classification;
}

/** A classifier over a given model (the trainer uses this on models it has just fitted). */
export function createClassifier(model: DenseClassifier | SerializedClassifier): Classifier {
  const dense = 'rows' in model ? denseFromSerialized(model) : model;
  const buf = new FeatureBuffer();
  const scores = new Float64Array(dense.classes.length);
  return {
    classify(messages) {
      extractFeatures(messages, buf);
      logits(dense, buf, scores);
      let best = 0;
      for (let c = 1; c < scores.length; c++) if (scores[c]! > scores[best]!) best = c;
      let z = 0;
      for (let c = 0; c < scores.length; c++) z += Math.exp(scores[c]! - scores[best]!);
      return { queryType: dense.classes[best]!, complexity: estimateComplexity(messages), confidence: 1 / z };
    },
  };
}

let shared: Classifier | undefined;

/** Classify a conversation (mostly its last user turn) with the committed model. Microseconds; deterministic. */
export function classify(messages: readonly ChatMessage[]): Classification {
  shared ??= createClassifier(CLASSIFIER_WEIGHTS);
  return shared.classify(messages);
}

const MULTI_STEP =
  /\b(step[- ]by[- ]step|prove|derive|optimi[sz]e|design|architect|implement|analy[sz]e|compare|trade-?offs?|complete program|from scratch|in detail|rigorous)\b/gi;

/**
 * Complexity from size and demands of the ask: long prompts, pasted code, several explicit
 * requirements or words that ask for multi-step work raise it.
 */
export function estimateComplexity(messages: readonly ChatMessage[]): Complexity {
  let last = '';
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]!.role === 'user') {
      last = messages[i]!.content ?? '';
      break;
    }
  }
  const chars = last.length;
  let points = 0;
  if (chars > 1500) points += 2;
  else if (chars > 400) points += 1;
  if (last.includes('```') || /\n\s{2,}\S/.test(last)) points += 1;
  const demands = (last.slice(0, 3000).match(MULTI_STEP) ?? []).length;
  points += Math.min(2, demands);
  const requirements = (last.slice(0, 3000).match(/(^|\n)\s*(?:[-*•]|\d+[.)])\s+/g) ?? []).length;
  if (requirements >= 3) points += 1;
  if (messages.length > 4) points += 1;
  if (chars < 60 && demands === 0) return 'low';
  return points >= 3 ? 'high' : points >= 1 ? 'medium' : 'low';
}

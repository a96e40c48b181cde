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

/** Class logits of a feature vector (feature weights averaged by 1/sqrt(count), plus bias). */
export function logits(
  model: DenseClassifier,
  features: FeatureBuffer,
  out: Float64Array = new Float64Array(model.classes.length),
): Float64Array {
  const k = model.classes.length;
  for (let c = 0; c < k; c++) out[c] = 0;
  const w = model.weights;
  const idx = features.indices;
  for (let i = 0; i < features.length; i++) {
    const base = idx[i]! * k;
    for (let c = 0; c < k; c++) out[c]! += w[base + c]!;
  }
  const norm = features.length > 0 ? 1 / Math.sqrt(features.length) : 0;
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

import type { QueryType } from '../types.js';
import { QUERY_TYPES } from '../types.js';
import { base64Decode, base64Encode } from './codec.js';
import { ScoringError } from '../errors.js';
import { FEATURE_DIM } from './features.js';

/**
 * A multinomial logistic regression over hashed features, as committed to the repository: only the
 * rows (feature indices) that carry weight, quantised to int8 with one scale. Pure data.
 */
export interface SerializedClassifier {
  version: number;
  dim: number;
  classes: readonly string[];
  bias: readonly number[];
  scale: number;
  /** base64 of little-endian uint32 row indices, delta-encoded. */
  rows: string;
  /** base64 of int8 weights, row-major (rows x classes). */
  weights: string;
  /** Where the training data came from and held-out accuracy, for provenance. */
  provenance: string;
}

export interface DenseClassifier {
  dim: number;
  classes: readonly QueryType[];
  bias: Float64Array;
  /**
   * dim x classes, row-major, each weight times `scale`: float weights from the trainer, or the
   * committed int8 weights as they are (a quarter of the memory, so more of the table stays in the
   * CPU caches: the lookups are most of a classification).
   */
  weights: Float32Array | Int8Array;
  /** Factor of every weight; 1 when absent. */
  scale?: number;
}

export function denseFromSerialized(m: SerializedClassifier): DenseClassifier {
  if (m.dim !== FEATURE_DIM)
    throw new ScoringError(
      'FAILED_PRECONDITION',
      `Classifier model has dim ${m.dim}, features use ${FEATURE_DIM}; retrain it with the training script.`,
    );
  const classes = m.classes as QueryType[];
  for (const c of classes)
    if (!QUERY_TYPES.includes(c))
      throw new ScoringError(
        'FAILED_PRECONDITION',
        `Classifier model has unknown class ${c}; retrain it with the current query types.`,
      );
  const k = classes.length;
  const rowBytes = base64Decode(m.rows);
  const wBytes = base64Decode(m.weights);
  const nRows = rowBytes.length / 4;
  const weights = new Int8Array(m.dim * k);
  const signed = new Int8Array(wBytes.buffer, wBytes.byteOffset, wBytes.length);
  let idx = 0;
  for (let r = 0; r < nRows; r++) {
    const delta =
      (rowBytes[4 * r]! | (rowBytes[4 * r + 1]! << 8) | (rowBytes[4 * r + 2]! << 16) | (rowBytes[4 * r + 3]! << 24)) >>>
      0;
    idx += delta;
    weights.set(signed.subarray(r * k, r * k + k), idx * k);
  }
  return { dim: m.dim, classes, bias: Float64Array.from(m.bias), weights, scale: m.scale };
}

/** Quantise a dense model (rows with all-zero weights dropped). */
export function serializeDense(d: DenseClassifier, provenance: string, dropBelow = 0): SerializedClassifier {
  const k = d.classes.length;
  const f = d.scale ?? 1;
  let maxAbs = 0;
  for (const w of d.weights) maxAbs = Math.max(maxAbs, Math.abs(w * f));
  const scale = maxAbs / 127 || 1;
  const rows: number[] = [];
  for (let i = 0; i < d.dim; i++) {
    let keep = false;
    for (let c = 0; c < k; c++) if (Math.abs(d.weights[i * k + c]! * f) > Math.max(dropBelow, scale / 2)) keep = true;
    if (keep) rows.push(i);
  }
  const rowBytes = new Uint8Array(rows.length * 4);
  const wBytes = new Uint8Array(rows.length * k);
  let prev = 0;
  rows.forEach((row, r) => {
    const delta = row - prev;
    prev = row;
    rowBytes[4 * r] = delta & 0xff;
    rowBytes[4 * r + 1] = (delta >> 8) & 0xff;
    rowBytes[4 * r + 2] = (delta >> 16) & 0xff;
    rowBytes[4 * r + 3] = (delta >>> 24) & 0xff;
    for (let c = 0; c < k; c++) {
      const q = Math.max(-127, Math.min(127, Math.round((d.weights[row * k + c]! * f) / scale)));
      wBytes[r * k + c] = q < 0 ? q + 256 : q;
    }
  });
  return {
    version: 1,
    dim: d.dim,
    classes: d.classes,
    bias: Array.from(d.bias, (b) => Math.round(b * 1e4) / 1e4),
    scale,
    rows: base64Encode(rowBytes),
    weights: base64Encode(wBytes),
    provenance,
  };
}

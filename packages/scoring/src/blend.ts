import type { CellSums, CellView, GlobalCellSums } from './cells.js';
import { isGlobalCellUsable, readCell } from './cells.js';
import type { ScoringConfig } from './config.js';
import type { Stage } from './types.js';

/** The stage for a personal weight w = n_a / (n_a + k). */
export function stageFor(personalWeight: number, cfg: Pick<ScoringConfig, 'stageThresholds'>): Stage {
  if (personalWeight >= cfg.stageThresholds.established) return 'established';
  if (personalWeight >= cfg.stageThresholds.warmUp) return 'warm_up';
  return 'cold_start';
}

export function personalWeight(nPersonal: number, cfg: Pick<ScoringConfig, 'priorStrength'>): number {
  const n = Math.max(0, nPersonal);
  return n / (n + cfg.priorStrength);
}

export interface QualityEstimate {
  /** Blended mean quality: personal -> global -> all-types pool -> catalog prior. */
  mean: number;
  /** Posterior variance of the mean (used by Thompson sampling). */
  variance: number;
  /** Effective evidence behind `mean`. */
  evidence: number;
  /** The same blend with personal data ignored (for "changed by personal"). */
  globalMean: number;
  globalVariance: number;
  personalWeight: number;
  nPersonal: number;
  nGlobal: number;
}

/**
 * Hierarchical shrinkage, broadest level first: the catalog prior (worth k0 = globalPriorStrength
 * observations); the model's cell pooled over all query types (optional: borrows strength across
 * types, worth at most typePoolStrength observations to the per-type estimate); the global cell of
 * this type; the personal cell of this type (mu = (n_a mu_a + k mu_g) / (n_a + k), k = priorStrength).
 *
 * At each level mu = (n mean + k mu_parent) / (n + k), and the level's evidence is
 * max(evidence_parent, n + min(k, evidence_parent)): it borrows at most what the parent has, never
 * drops below the parent (so the first personal observation cannot make the estimate less certain)
 * and grows monotonically with evidence at any level. The observation variance sigma^2 blends the same
 * way as the mean, so the posterior variance sigma^2 / evidence can still grow: an account whose answers
 * vary more than everyone's is less predictable, and the decision explores its choices more.
 */
export function blendQuality(
  prior: number,
  personal: CellView | undefined,
  global: CellView | undefined,
  cfg: BlendConfig,
  pooled?: CellView | undefined,
): QualityEstimate {
  const src = new Float64Array(EVIDENCE_SIZE);
  putEvidence(src, EVIDENCE_PERSONAL, personal);
  putEvidence(src, EVIDENCE_GLOBAL, global);
  putEvidence(src, EVIDENCE_POOLED, pooled);
  const out = new Float64Array(ESTIMATE_SIZE);
  blendInto(out, 0, prior, src, 0, true, true, cfg, 0);
  return {
    mean: out[EST_MEAN]!,
    variance: out[EST_VARIANCE]!,
    evidence: out[EST_EVIDENCE]!,
    globalMean: out[EST_GLOBAL_MEAN]!,
    globalVariance: out[EST_GLOBAL_VARIANCE]!,
    personalWeight: out[EST_PERSONAL_WEIGHT]!,
    nPersonal: out[EST_N_PERSONAL]!,
    nGlobal: out[EST_N_GLOBAL]!,
  };
}

/** A cell's quality evidence into `src` at `at`; no cell, or one without quality evidence, reads as absent. */
function putEvidence(src: Float64Array, at: number, view: CellView | undefined): void {
  src[at] = view === undefined ? 0 : view.n;
  src[at + 1] = view?.mean ?? Number.NaN;
  src[at + 2] = view?.variance ?? Number.NaN;
}

type BlendConfig = Pick<ScoringConfig, 'priorStrength' | 'globalPriorStrength' | 'typePoolStrength' | 'exploration'>;

/**
 * The evidence blendInto reads: (n, mean, variance) of the personal cell, the global cell and the
 * pooled (all-types) cell, in this order from its offset; an absent level has mean NaN.
 */
export const EVIDENCE_PERSONAL = 0;
export const EVIDENCE_GLOBAL = 3;
export const EVIDENCE_POOLED = 6;
export const EVIDENCE_SIZE = 9;

/** Offsets of a QualityEstimate's fields in the arrays blendInto writes. */
export const EST_MEAN = 0;
export const EST_VARIANCE = 1;
export const EST_EVIDENCE = 2;
export const EST_GLOBAL_MEAN = 3;
export const EST_GLOBAL_VARIANCE = 4;
export const EST_PERSONAL_WEIGHT = 5;
export const EST_N_PERSONAL = 6;
export const EST_N_GLOBAL = 7;
export const ESTIMATE_SIZE = 8;

/**
 * The blend on arrays: evidence from `src` at `from` (see EVIDENCE_*), the estimate into `out` at `at`
 * (see EST_*), leaving out the personal or the pooled level on request. `taste` (an account's taste
 * for the model: decide's tasteGap) shifts the everyone-level estimate before the account's own cell of
 * this type is blended in; the global-only figures leave it out. The decision's form, which allocates
 * nothing; the one implementation of the blend (blendQuality is its form on cell views).
 */
export function blendInto(
  out: Float64Array,
  at: number,
  prior: number,
  src: Float64Array,
  from: number,
  withPersonal: boolean,
  withPooled: boolean,
  cfg: BlendConfig,
  taste: number,
): void {
  const k = cfg.priorStrength;
  const k0 = cfg.globalPriorStrength;
  const kt = cfg.typePoolStrength;
  let mean = prior;
  let sigma2 = Math.max(cfg.exploration.priorVariance, cfg.exploration.minVariance);
  let evidence = k0;
  // Level 1: the model over all query types (mean === mean: not NaN).
  const x = from + EVIDENCE_POOLED;
  const meanX = src[x + 1]!;
  const nX = withPooled && meanX === meanX ? src[x]! : 0;
  if (nX > 0) {
    const borrowed = Math.min(k0, evidence);
    const v = pooledVariance(src[x + 2]!, nX, cfg);
    mean = (nX * meanX + k0 * mean) / (nX + k0);
    sigma2 = (nX * v + borrowed * sigma2) / (nX + borrowed);
    evidence = Math.max(evidence, nX + borrowed);
  }
  // The per-type level gives the pooled estimate at most typePoolStrength observations of weight.
  evidence = Math.min(evidence, kt);
  // Level 2: everyone, this query type.
  const g = from + EVIDENCE_GLOBAL;
  const meanG = src[g + 1]!;
  const nG = meanG === meanG ? src[g]! : 0;
  if (nG > 0) {
    const borrowed = Math.min(kt, evidence);
    const v = pooledVariance(src[g + 2]!, nG, cfg);
    // The parent is the model's all-types record (worth typePoolStrength), else the catalog prior (worth k0).
    const kParent = nX > 0 ? kt : k0;
    mean = (nG * meanG + kParent * mean) / (nG + kParent);
    sigma2 = (nG * v + borrowed * sigma2) / (nG + borrowed);
    evidence = Math.max(evidence, nG + borrowed);
  }
  out[at + EST_GLOBAL_MEAN] = mean;
  out[at + EST_GLOBAL_VARIANCE] = sigma2 / evidence;
  if (taste !== 0) {
    const tasted = mean + taste;
    mean = tasted < 0 ? 0 : tasted > 1 ? 1 : tasted;
  }
  // Level 3: this account, this query type.
  const a = from + EVIDENCE_PERSONAL;
  const meanA = src[a + 1]!;
  const nA = withPersonal && meanA === meanA ? src[a]! : 0;
  if (nA > 0) {
    const borrowed = Math.min(k, evidence);
    const v = pooledVariance(src[a + 2]!, nA, cfg);
    mean = (nA * meanA + k * mean) / (nA + k);
    sigma2 = (nA * v + borrowed * sigma2) / (nA + borrowed);
    evidence = Math.max(evidence, nA + borrowed);
  }
  out[at + EST_MEAN] = mean;
  out[at + EST_VARIANCE] = sigma2 / evidence;
  out[at + EST_EVIDENCE] = evidence;
  out[at + EST_PERSONAL_WEIGHT] = nA / (nA + k);
  out[at + EST_N_PERSONAL] = nA;
  out[at + EST_N_GLOBAL] = nG;
}

/** Sample variance shrunk toward the prior variance (k0 pseudo-observations), floored. */
function pooledVariance(v: number, n: number, cfg: Pick<ScoringConfig, 'globalPriorStrength' | 'exploration'>): number {
  const prior = cfg.exploration.priorVariance;
  const pooled = n > 0 && v === v ? (n * v + cfg.globalPriorStrength * prior) / (n + cfg.globalPriorStrength) : prior;
  return Math.max(pooled, cfg.exploration.minVariance);
}

/** Read a personal and a global cell (gated by K-anonymity: K accounts besides the personal cell's) and blend them with the prior. */
export function estimateQuality(
  prior: number,
  personal: CellSums | undefined,
  global: GlobalCellSums | undefined,
  nowMs: number,
  cfg: ScoringConfig,
  pooled?: CellSums | undefined,
): QualityEstimate {
  const p = personal ? readCell(personal, nowMs, cfg) : undefined;
  const g = global && isGlobalCellUsable(global, cfg, personal) ? readCell(global, nowMs, cfg) : undefined;
  return blendQuality(prior, p, g, cfg, pooled ? readCell(pooled, nowMs, cfg) : undefined);
}

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
  /** Blended mean quality: personal -> global -> catalog prior. */
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
 * Shrinkage blend. Global: mu_g = (n_g mean_g + k0 prior) / (n_g + k0). Personal:
 * mu = (n_a mean_a + k mu_g) / (n_a + k). The personal blend borrows at most the evidence the global
 * estimate actually has (min(k, n_g + k0)), so the posterior variance sigma^2 / evidence shrinks
 * monotonically as either personal or global evidence grows.
 */
export function blendQuality(
  prior: number,
  personal: CellView | undefined,
  global: CellView | undefined,
  cfg: Pick<ScoringConfig, 'priorStrength' | 'globalPriorStrength' | 'exploration'>,
): QualityEstimate {
  const k0 = cfg.globalPriorStrength;
  const k = cfg.priorStrength;
  const nG = global && global.mean !== undefined ? global.n : 0;
  const nA = personal && personal.mean !== undefined ? personal.n : 0;
  const muG = nG > 0 ? (nG * global!.mean! + k0 * prior) / (nG + k0) : prior;
  const evG = nG + k0;
  const varG = pooledVariance(global, nG, cfg);
  const mu = nA > 0 ? (nA * personal!.mean! + k * muG) / (nA + k) : muG;
  const borrowed = Math.min(k, evG);
  const ev = nA + borrowed;
  const varA = nA > 0 ? pooledVariance(personal, nA, cfg) : varG;
  // The variance of quality itself blends the same way as the mean.
  const sigma2 = nA > 0 ? (nA * varA + borrowed * varG) / ev : varG;
  return {
    mean: mu,
    variance: sigma2 / ev,
    evidence: ev,
    globalMean: muG,
    globalVariance: varG / Math.min(k, evG),
    personalWeight: nA / (nA + k),
    nPersonal: nA,
    nGlobal: nG,
  };
}

/** Sample variance shrunk toward the prior variance (k0 pseudo-observations), floored. */
function pooledVariance(
  view: CellView | undefined,
  n: number,
  cfg: Pick<ScoringConfig, 'globalPriorStrength' | 'exploration'>,
): number {
  const prior = cfg.exploration.priorVariance;
  const v = view?.variance;
  const pooled =
    n > 0 && v !== undefined ? (n * v + cfg.globalPriorStrength * prior) / (n + cfg.globalPriorStrength) : prior;
  return Math.max(pooled, cfg.exploration.minVariance);
}

/** Read a personal and a (K-anonymity gated) global cell and blend them with the prior. */
export function estimateQuality(
  prior: number,
  personal: CellSums | undefined,
  global: GlobalCellSums | undefined,
  nowMs: number,
  cfg: ScoringConfig,
): QualityEstimate {
  const p = personal ? readCell(personal, nowMs, cfg) : undefined;
  const g = global && isGlobalCellUsable(global, cfg) ? readCell(global, nowMs, cfg) : undefined;
  return blendQuality(prior, p, g, cfg);
}

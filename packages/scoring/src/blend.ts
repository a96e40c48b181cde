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

interface Level {
  mean: number;
  /** Variance of single observations at this level. */
  sigma2: number;
  evidence: number;
}

/**
 * One step of hierarchical shrinkage: mu = (n mean + k mu_parent) / (n + k). The child's evidence is
 * max(evidence_parent, n + min(k, evidence_parent)): it borrows at most what the parent has, never
 * drops below the parent (so the first personal observation cannot make the estimate less certain),
 * and grows monotonically with evidence at any level, so the posterior variance sigma^2 / evidence
 * only shrinks.
 */
/**
 * The quality evidence of one cell, all doubles (NaN when absent) so that the decision path keeps
 * them unboxed.
 */
export interface QualityEvidence {
  n: number;
  mean: number;
  variance: number;
}

export function evidenceOf(view: CellView | undefined): QualityEvidence | undefined {
  if (!view || view.mean === undefined) return undefined;
  return { n: view.n, mean: view.mean, variance: view.variance ?? Number.NaN };
}

function shrink(
  parent: Level,
  view: QualityEvidence | undefined,
  k: number,
  cfg: Pick<ScoringConfig, 'globalPriorStrength' | 'exploration'>,
): Level {
  const n = view !== undefined && view.mean === view.mean ? view.n : 0; // mean === mean: not NaN
  if (!(n > 0)) return parent;
  const borrowed = Math.min(k, parent.evidence);
  const v = pooledVariance(view!.variance, n, cfg);
  return {
    mean: (n * view!.mean + k * parent.mean) / (n + k),
    sigma2: (n * v + borrowed * parent.sigma2) / (n + borrowed),
    evidence: Math.max(parent.evidence, n + borrowed),
  };
}

/**
 * Shrinkage blend, broadest level first: the catalog prior (worth k0 = globalPriorStrength
 * observations); the model's cell pooled over all query types (optional: borrows strength across
 * types, worth at most typePoolStrength observations to the per-type estimate); the global cell of
 * this type; the personal cell of this type (mu = (n_a mu_a + k mu_g) / (n_a + k), k = priorStrength).
 */
export function blendQuality(
  prior: number,
  personal: CellView | undefined,
  global: CellView | undefined,
  cfg: Pick<ScoringConfig, 'priorStrength' | 'globalPriorStrength' | 'typePoolStrength' | 'exploration'>,
  pooled?: CellView | undefined,
): QualityEstimate {
  return blendEvidence(prior, evidenceOf(personal), evidenceOf(global), cfg, evidenceOf(pooled));
}

/** blendQuality on quality evidence (the decision path's allocation-light form). */
export function blendEvidence(
  prior: number,
  personal: QualityEvidence | undefined,
  global: QualityEvidence | undefined,
  cfg: Pick<ScoringConfig, 'priorStrength' | 'globalPriorStrength' | 'typePoolStrength' | 'exploration'>,
  pooled?: QualityEvidence | undefined,
): QualityEstimate {
  const k = cfg.priorStrength;
  const root: Level = {
    mean: prior,
    sigma2: Math.max(cfg.exploration.priorVariance, cfg.exploration.minVariance),
    evidence: cfg.globalPriorStrength,
  };
  const pool = shrink(root, pooled, cfg.globalPriorStrength, cfg);
  // The per-type level gives the pooled estimate at most typePoolStrength observations of weight.
  const poolAsParent: Level = {
    mean: pool.mean,
    sigma2: pool.sigma2,
    evidence: Math.min(pool.evidence, cfg.typePoolStrength),
  };
  const g = shrink(poolAsParent, global, cfg.typePoolStrength, cfg);
  const a = shrink(g, personal, k, cfg);
  const nG = global !== undefined && global.mean === global.mean ? global.n : 0;
  const nA = personal !== undefined && personal.mean === personal.mean ? personal.n : 0;
  return {
    mean: a.mean,
    variance: a.sigma2 / a.evidence,
    evidence: a.evidence,
    globalMean: g.mean,
    globalVariance: g.sigma2 / g.evidence,
    personalWeight: nA / (nA + k),
    nPersonal: nA,
    nGlobal: nG,
  };
}

/** Sample variance shrunk toward the prior variance (k0 pseudo-observations), floored. */
function pooledVariance(v: number, n: number, cfg: Pick<ScoringConfig, 'globalPriorStrength' | 'exploration'>): number {
  const prior = cfg.exploration.priorVariance;
  const pooled = n > 0 && v === v ? (n * v + cfg.globalPriorStrength * prior) / (n + cfg.globalPriorStrength) : prior;
  return Math.max(pooled, cfg.exploration.minVariance);
}

/** Read a personal and a (K-anonymity gated) global cell and blend them with the prior. */
export function estimateQuality(
  prior: number,
  personal: CellSums | undefined,
  global: GlobalCellSums | undefined,
  nowMs: number,
  cfg: ScoringConfig,
  pooled?: CellSums | undefined,
): QualityEstimate {
  const p = personal ? readCell(personal, nowMs, cfg) : undefined;
  const g = global && isGlobalCellUsable(global, cfg) ? readCell(global, nowMs, cfg) : undefined;
  return blendQuality(prior, p, g, cfg, pooled ? readCell(pooled, nowMs, cfg) : undefined);
}

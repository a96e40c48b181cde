import { ScoringError } from './errors.js';
import type { Preference } from './types.js';

/** Penalty weights of one preference: utility = quality - cost * normCost - latency * normLatency - failure * failureRate. */
export interface PreferenceLambdas {
  cost: number;
  latency: number;
  failure: number;
}

export interface ScoringConfig {
  /** Decay epoch (ms since 1970). Contributions are scaled by 2^((t - epochMs) / halfLifeMs). */
  epochMs: number;
  /** Half-life of every statistic (ms). */
  halfLifeMs: number;
  /** k: pseudo-observations of the global estimate when blending a personal cell (mu = (n_a mu_a + k mu_g) / (n_a + k)). */
  priorStrength: number;
  /** k0: pseudo-observations of the catalog prior when blending a global (or all-types pooled) cell. */
  globalPriorStrength: number;
  /** Pseudo-observations the model's all-types estimate is worth to a per-type estimate (borrowing across types). */
  typePoolStrength: number;
  /** Stage boundaries on the personal weight w = n_a / (n_a + k): cold start below warmUp, established from established. */
  stageThresholds: { warmUp: number; established: number };
  /** Weight of a rating relative to one heuristic signal (> 1). */
  ratingWeight: number;
  /** A global cell counts only with at least this many distinct contributing accounts. */
  anonymityK: number;
  exploration: {
    /** Multiplier of the posterior standard deviation used by Thompson sampling (0 = greedy). */
    scale: number;
    /** Quality variance assumed before any observation (prior sd 0.25). */
    priorVariance: number;
    /** Floor on the quality variance, so that a run of identical scores cannot freeze exploration. */
    minVariance: number;
  };
  /**
   * Per preference penalty weights. Cost is normalised to [0, 1] as a share of the dearest eligible
   * candidate's estimated cost, latency on a log scale across the eligible candidates.
   */
  lambdas: Record<Preference, PreferenceLambdas>;
  /** Pseudo-requests given to the catalog's price/latency estimate when blending with observed averages. */
  catalogCostStrength: number;
}

/**
 * Defaults, and why:
 * - half-life 30 days: model versions and prompts drift on a scale of weeks; a month keeps ~3 months of useful memory.
 *   The scaled sums stay finite until 2103 with it (scaleHorizonMs); the shortest half-life accepted is about
 *   5.7 days (15 years).
 * - k = 30: thirty heuristic observations (about ten ratings) of an account (or of one query type, when
 *   the parent is the model's all-types record) weigh as much as the parent estimate. A single
 *   answer's score is noisy (sd ~0.25 for ratings; the heuristic is a weak proxy), so ten observations
 *   let one unlucky streak flip a cell; with 30 a cell follows its parent until it has real evidence.
 * - k0 = 5: the catalog prior is a guess; five observations from real traffic outweigh it.
 * - type pool 10: a model's record over all query types is a good first guess for a type it has
 *   seen little of (most of a model's quality is shared across types), worth ten observations.
 * - stages at w = 0.2 and 0.6: cold start below n_a = 7.5, established from n_a = 45 (with k = 30).
 * - exploration scale 0.35: Thompson sampling with the full posterior width keeps sampling a model
 *   that is a few points worse for as long as the posteriors overlap, which with scores this noisy is
 *   hundreds of requests; a narrowed posterior (a common practical form of Thompson sampling) still
 *   tries every model the evidence cannot rule out, and spends far fewer requests on near-ties.
 * - rating weight 3: a rating is an explicit judgement, the heuristic is a noisy proxy.
 * - anonymity K = 3.
 * - cost weights: the quality an answer may lose for costing as much as the dearest candidate instead
 *   of nothing: 0.02 (quality), 0.2 (balanced), 0.6 (cost), 0.05 (speed). Balanced at 0.2 moves a
 *   query type to a model at a tenth of the price when it is at most ~0.18 worse there.
 */
export const defaultScoringConfig: ScoringConfig = Object.freeze({
  epochMs: 1735689600000, // 2025-01-01T00:00:00Z
  halfLifeMs: 30 * 24 * 3600 * 1000,
  priorStrength: 30,
  globalPriorStrength: 5,
  typePoolStrength: 10,
  stageThresholds: Object.freeze({ warmUp: 0.2, established: 0.6 }),
  ratingWeight: 3,
  anonymityK: 3,
  exploration: Object.freeze({ scale: 0.35, priorVariance: 0.0625, minVariance: 0.01 }),
  lambdas: Object.freeze({
    quality: Object.freeze({ cost: 0.02, latency: 0.01, failure: 0.5 }),
    balanced: Object.freeze({ cost: 0.2, latency: 0.05, failure: 0.5 }),
    cost: Object.freeze({ cost: 0.6, latency: 0.02, failure: 0.5 }),
    speed: Object.freeze({ cost: 0.05, latency: 0.4, failure: 0.5 }),
  }),
  catalogCostStrength: 3,
}) as ScoringConfig;

/** Override some defaults; nested groups are merged one level deep. Validates the result. */
export function makeScoringConfig(overrides: DeepPartial<ScoringConfig> = {}): ScoringConfig {
  const d = defaultScoringConfig;
  const cfg: ScoringConfig = {
    ...d,
    ...(overrides as Partial<ScoringConfig>),
    stageThresholds: { ...d.stageThresholds, ...overrides.stageThresholds },
    exploration: { ...d.exploration, ...overrides.exploration },
    lambdas: {
      quality: { ...d.lambdas.quality, ...overrides.lambdas?.quality },
      balanced: { ...d.lambdas.balanced, ...overrides.lambdas?.balanced },
      cost: { ...d.lambdas.cost, ...overrides.lambdas?.cost },
      speed: { ...d.lambdas.speed, ...overrides.lambdas?.speed },
    },
  };
  validateScoringConfig(cfg);
  return cfg;
}

/**
 * The largest power of two a contribution's scale 2^((t - epochMs) / halfLifeMs) may reach: sums of a
 * billion contributions of up to two minutes' latency (2^30 x 2^17 x 2^960 < 2^1008) stay finite as
 * doubles, in memory and in PostgreSQL's float8 columns. Cells are never re-expressed against a later
 * epoch, so the half-life fixes how long the statistics stay usable.
 */
export const MAX_SCALE_EXPONENT = 960;

/** How long after the epoch the statistics must stay finite for a configuration to be accepted. */
export const MIN_SCALE_HORIZON_YEARS = 15;

const YEAR_MS = 365.25 * 24 * 3600 * 1000;

/** Until when (ms since 1970) scaled statistics stay finite: MAX_SCALE_EXPONENT half-lives after the epoch. */
export function scaleHorizonMs(cfg: Pick<ScoringConfig, 'epochMs' | 'halfLifeMs'>): number {
  return cfg.epochMs + MAX_SCALE_EXPONENT * cfg.halfLifeMs;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export function validateScoringConfig(cfg: ScoringConfig): void {
  const fail = (field: string, want: string, got: unknown): never => {
    throw new ScoringError('INVALID_ARGUMENT', `Scoring config field ${field} must be ${want}; got ${String(got)}.`);
  };
  if (!(cfg.halfLifeMs > 0)) fail('halfLifeMs', 'a positive number of milliseconds', cfg.halfLifeMs);
  if (!Number.isFinite(cfg.epochMs)) fail('epochMs', 'a finite timestamp in ms', cfg.epochMs);
  const minHalfLifeMs = (MIN_SCALE_HORIZON_YEARS * YEAR_MS) / MAX_SCALE_EXPONENT;
  if (!(cfg.halfLifeMs >= minHalfLifeMs))
    fail(
      'halfLifeMs',
      `at least ${Math.ceil(minHalfLifeMs / 3_600_000)} hours (statistics are scaled by 2^(time since epochMs / halfLifeMs) and must stay finite for ${MIN_SCALE_HORIZON_YEARS} years)`,
      cfg.halfLifeMs,
    );
  if (!(cfg.priorStrength > 0)) fail('priorStrength', 'positive', cfg.priorStrength);
  if (!(cfg.globalPriorStrength > 0)) fail('globalPriorStrength', 'positive', cfg.globalPriorStrength);
  if (!(cfg.typePoolStrength > 0)) fail('typePoolStrength', 'positive', cfg.typePoolStrength);
  const { warmUp, established } = cfg.stageThresholds;
  if (!(warmUp > 0 && warmUp < established && established < 1))
    fail('stageThresholds', 'two weights with 0 < warmUp < established < 1', `${warmUp}/${established}`);
  if (!(cfg.ratingWeight > 1))
    fail('ratingWeight', 'greater than 1 (a rating outweighs a heuristic)', cfg.ratingWeight);
  if (!(Number.isInteger(cfg.anonymityK) && cfg.anonymityK >= 1)) fail('anonymityK', 'an integer >= 1', cfg.anonymityK);
  if (!(cfg.exploration.scale >= 0)) fail('exploration.scale', '>= 0', cfg.exploration.scale);
  if (!(cfg.exploration.minVariance >= 0)) fail('exploration.minVariance', '>= 0', cfg.exploration.minVariance);
  if (!(cfg.exploration.priorVariance > 0)) fail('exploration.priorVariance', '> 0', cfg.exploration.priorVariance);
  for (const [pref, l] of Object.entries(cfg.lambdas)) {
    if (!(l.cost >= 0 && l.latency >= 0 && l.failure >= 0))
      fail(`lambdas.${pref}`, 'non-negative weights', JSON.stringify(l));
  }
  if (!(cfg.catalogCostStrength >= 0)) fail('catalogCostStrength', '>= 0', cfg.catalogCostStrength);
}

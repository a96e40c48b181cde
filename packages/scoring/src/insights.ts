import type { CellSums, CellView } from './cells.js';
import { readCell } from './cells.js';
import type { ScoringConfig } from './config.js';
import { Z95 } from './stats.js';
import type { QueryType, Stage } from './types.js';

export interface TypedCell {
  queryType: QueryType;
  model: string;
  cell: CellSums;
}

export interface ModelPerformance {
  queryType: QueryType;
  model: string;
  /** Decayed request count (the sample size behind the numbers). */
  requests: number;
  ratings: number;
  meanQuality: number | undefined;
  /** 95% interval of the mean quality (normal approximation), undefined below 2 requests. */
  qualityCi95: [number, number] | undefined;
  p50LatencyMs: number | undefined;
  p95LatencyMs: number | undefined;
  avgCostUsd: number | undefined;
  failureRate: number | undefined;
}

/**
 * A cell's variance is the population form (sum q^2 / n - mean^2); a mean's standard error needs the sample
 * variance, larger by n / (n - 1): without it an interval of a few requests is far too narrow (by sqrt 2 at 2).
 */
function sampleVariance(view: CellView): number {
  return ((view.variance ?? 0) * view.requests) / (view.requests - 1);
}

function ci(view: CellView): [number, number] | undefined {
  if (view.mean === undefined || view.variance === undefined || view.requests < 2) return undefined;
  const half = Z95 * Math.sqrt(sampleVariance(view) / view.requests);
  return [Math.max(0, view.mean - half), Math.min(1, view.mean + half)];
}

/** Per model and query type: quality (with interval), latency percentiles, cost, failure rate. */
export function modelPerformanceByType(
  cells: readonly TypedCell[],
  nowMs: number,
  cfg: ScoringConfig,
): ModelPerformance[] {
  return cells
    .map(({ queryType, model, cell }) => {
      const v = readCell(cell, nowMs, cfg);
      return {
        queryType,
        model,
        requests: v.requests,
        ratings: v.ratings,
        meanQuality: v.mean,
        qualityCi95: ci(v),
        p50LatencyMs: v.p50LatencyMs,
        p95LatencyMs: v.p95LatencyMs,
        avgCostUsd: v.avgCostUsd,
        failureRate: v.failureRate,
      };
    })
    .sort((a, b) =>
      a.queryType === b.queryType ? (b.meanQuality ?? -1) - (a.meanQuality ?? -1) : a.queryType < b.queryType ? -1 : 1,
    );
}

export type EffectVerdict = 'improves' | 'worsens' | 'inconclusive' | 'insufficient_data';

export interface Comparison {
  nA: number;
  nB: number;
  meanA: number | undefined;
  meanB: number | undefined;
  /** meanA - meanB. */
  difference: number | undefined;
  /** 95% interval of the difference: Welch's unpooled standard error, normal approximation (z = 1.96). */
  ci95: [number, number] | undefined;
}

/**
 * Difference of mean quality between two cells, with a 95% interval from Welch's unpooled standard error and
 * the normal approximation (sample size: decayed requests; verdicts need 20 or more, where z and t differ
 * by under 5%).
 */
export function compareCells(a: CellSums, b: CellSums, nowMs: number, cfg: ScoringConfig): Comparison {
  const va = readCell(a, nowMs, cfg);
  const vb = readCell(b, nowMs, cfg);
  const out: Comparison = {
    nA: va.requests,
    nB: vb.requests,
    meanA: va.mean,
    meanB: vb.mean,
    difference: undefined,
    ci95: undefined,
  };
  if (va.mean === undefined || vb.mean === undefined) return out;
  out.difference = va.mean - vb.mean;
  if (va.requests >= 2 && vb.requests >= 2) {
    const se = Math.sqrt(sampleVariance(va) / va.requests + sampleVariance(vb) / vb.requests);
    out.ci95 = [out.difference - Z95 * se, out.difference + Z95 * se];
  }
  return out;
}

export interface EnhancementEffectiveness extends Comparison {
  verdict: EffectVerdict;
}

/**
 * Did prompt enhancement help? Compares the quality of enhanced requests (A) with the others (B).
 * A verdict of improves/worsens is given only when both sides have minSamples requests and the 95%
 * interval excludes zero; otherwise inconclusive or insufficient_data.
 */
export function enhancementEffectiveness(
  withEnhancement: CellSums,
  without: CellSums,
  nowMs: number,
  cfg: ScoringConfig,
  minSamples = 20,
): EnhancementEffectiveness {
  const c = compareCells(withEnhancement, without, nowMs, cfg);
  let verdict: EffectVerdict = 'inconclusive';
  if (c.nA < minSamples || c.nB < minSamples || c.ci95 === undefined) verdict = 'insufficient_data';
  else if (c.ci95[0] > 0) verdict = 'improves';
  else if (c.ci95[1] < 0) verdict = 'worsens';
  return { ...c, verdict };
}

export interface RoutingCounters {
  decisions: number;
  byStage: Partial<Record<Stage, number>>;
  /** Decisions where personal data changed the choice compared with global-only. */
  changedByPersonal: number;
}

export interface RoutingInfluence {
  decisions: number;
  stageShare: Record<Stage, number>;
  changedByPersonalShare: number;
  /** The stage most decisions were made in, undefined without decisions. */
  currentStage: Stage | undefined;
}

/** How much the account's own data steers its routing. */
export function routingInfluence(c: RoutingCounters): RoutingInfluence {
  const d = Math.max(0, c.decisions);
  const share = (v: number | undefined) => (d > 0 ? (v ?? 0) / d : 0);
  const stageShare = {
    cold_start: share(c.byStage.cold_start),
    warm_up: share(c.byStage.warm_up),
    established: share(c.byStage.established),
  };
  let currentStage: Stage | undefined;
  if (d > 0) currentStage = (Object.entries(stageShare) as [Stage, number][]).sort((a, b) => b[1] - a[1])[0]![0];
  return { decisions: d, stageShare, changedByPersonalShare: share(c.changedByPersonal), currentStage };
}

export interface RecommendationEvidence {
  requestsCurrent: number;
  requestsSuggested: number;
  qualityCurrent: number;
  qualitySuggested: number;
  /** suggested - current. */
  qualityDifference: number;
  qualityDifferenceCi95: [number, number];
  avgCostCurrentUsd: number;
  avgCostSuggestedUsd: number;
  /** (current - suggested) average cost x 1000; negative means the suggestion costs more. */
  savingsPer1000RequestsUsd: number;
}

export interface Recommendation {
  kind: 'cheaper_equivalent' | 'better_quality';
  queryType: QueryType;
  currentModel: string;
  suggestedModel: string;
  message: string;
  evidence: RecommendationEvidence;
}

export interface RecommendationOptions {
  /** Minimum decayed requests on both models before anything is suggested. */
  minSamples: number;
  /** A cheaper model is "equivalent" if the 95% interval of the quality loss stays above -maxQualityLoss. */
  maxQualityLoss: number;
  /** A cheaper model must save at least this fraction of the cost. */
  minSavingsFraction: number;
}

export const DEFAULT_RECOMMENDATION_OPTIONS: RecommendationOptions = {
  minSamples: 20,
  maxQualityLoss: 0.05,
  minSavingsFraction: 0.2,
};

/**
 * Whether a model is a cheaper equivalent of the one in use: it saves at least minSavingsFraction of the
 * cost, and the 95% interval of its quality difference stays above -maxQualityLoss. Free models (a local
 * server) save nothing: no quality is traded for nothing.
 */
export function isCheaperEquivalent(
  costCurrentUsd: number,
  costSuggestedUsd: number,
  qualityDifferenceCi95: readonly [number, number],
  opt: RecommendationOptions,
): boolean {
  return (
    costCurrentUsd > 0 &&
    costSuggestedUsd <= costCurrentUsd * (1 - opt.minSavingsFraction) &&
    qualityDifferenceCi95[0] > -opt.maxQualityLoss
  );
}

/**
 * Suggestions per query type, each with its evidence. The "current" model is the one with most
 * requests for the type. A cheaper model is suggested when its quality is statistically not worse
 * than maxQualityLoss; a better one when its quality is significantly higher.
 */
export function recommendations(
  cells: readonly TypedCell[],
  nowMs: number,
  cfg: ScoringConfig,
  options: Partial<RecommendationOptions> = {},
): Recommendation[] {
  const opt = { ...DEFAULT_RECOMMENDATION_OPTIONS, ...options };
  const byType = new Map<QueryType, { model: string; cell: CellSums; view: CellView }[]>();
  for (const c of cells) {
    const list = byType.get(c.queryType) ?? [];
    list.push({ model: c.model, cell: c.cell, view: readCell(c.cell, nowMs, cfg) });
    byType.set(c.queryType, list);
  }
  const out: Recommendation[] = [];
  for (const [queryType, list] of byType) {
    const current = [...list].sort((a, b) => b.view.requests - a.view.requests)[0];
    if (!current || current.view.requests < opt.minSamples || current.view.mean === undefined) continue;
    let cheaper: Recommendation | undefined;
    let better: Recommendation | undefined;
    for (const alt of list) {
      if (alt === current || alt.view.requests < opt.minSamples || alt.view.mean === undefined) continue;
      const cmp = compareCells(alt.cell, current.cell, nowMs, cfg);
      if (cmp.ci95 === undefined || cmp.difference === undefined) continue;
      const costCur = current.view.avgCostUsd ?? 0;
      const costAlt = alt.view.avgCostUsd ?? 0;
      const evidence: RecommendationEvidence = {
        requestsCurrent: current.view.requests,
        requestsSuggested: alt.view.requests,
        qualityCurrent: current.view.mean,
        qualitySuggested: alt.view.mean,
        qualityDifference: cmp.difference,
        qualityDifferenceCi95: cmp.ci95,
        avgCostCurrentUsd: costCur,
        avgCostSuggestedUsd: costAlt,
        savingsPer1000RequestsUsd: (costCur - costAlt) * 1000,
      };
      if (isCheaperEquivalent(costCur, costAlt, cmp.ci95, opt)) {
        if (!cheaper || evidence.savingsPer1000RequestsUsd > cheaper.evidence.savingsPer1000RequestsUsd)
          cheaper = {
            kind: 'cheaper_equivalent',
            queryType,
            currentModel: current.model,
            suggestedModel: alt.model,
            message: `For ${queryType}, ${alt.model} matched ${current.model} within ${opt.maxQualityLoss} quality and would save about $${evidence.savingsPer1000RequestsUsd.toFixed(2)} per 1,000 requests.`,
            evidence,
          };
      } else if (cmp.ci95[0] > 0) {
        if (!better || evidence.qualityDifference > better.evidence.qualityDifference)
          better = {
            kind: 'better_quality',
            queryType,
            currentModel: current.model,
            suggestedModel: alt.model,
            message: `For ${queryType}, ${alt.model} scored ${(cmp.difference * 100).toFixed(1)} points higher than ${current.model} (95% interval ${(cmp.ci95[0] * 100).toFixed(1)} to ${(cmp.ci95[1] * 100).toFixed(1)}).`,
            evidence,
          };
      }
    }
    if (cheaper) out.push(cheaper);
    if (better) out.push(better);
  }
  return out;
}

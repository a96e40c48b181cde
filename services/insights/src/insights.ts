import { insightsV1 } from '@routeplex/contracts';
import { queryTypeFromProto, queryTypeToProto, stageToProto } from '@routeplex/learning';
import {
  QUERY_TYPES,
  Z95,
  compareCells,
  isCheaperEquivalent,
  isGlobalCellUsable,
  isQueryType,
  personalWeight,
  readCell,
  recommendations as cellRecommendations,
  stageFor,
  type CellSums,
  type QueryType,
  type ScoringConfig,
  type Stage,
  type TypedCell,
} from '@routeplex/scoring';
import type { AccountCell, AccountCounters, GlobalCell } from '@routeplex/store';

/**
 * The Insights tab, computed from an account's cells and counters (never by scanning its entries), plus
 * the global cells that pass the anonymity threshold. Pure: the caller loads the rows and gives the time.
 */

export interface InsightsOptions {
  /** Requests needed on each side before an enhancement verdict or a model comparison is given. */
  minSamples: number;
  /** An enhancement interval narrower than this half-width that contains zero means "no difference". */
  noDifferenceHalfWidth: number;
  /** A cheaper model counts as equivalent while the 95% interval of its quality loss stays above -maxQualityLoss. */
  maxQualityLoss: number;
  /** A cheaper model must save at least this fraction of the cost. */
  minSavingsFraction: number;
  /** A model failing at least this share of its calls ... */
  unreliableFailureRate: number;
  /** ... over at least this many calls is reported as unreliable. */
  unreliableMinCalls: number;
  /** "Rate more" is suggested for a type used at least this often ... */
  rateMoreMinRequests: number;
  /** ... when at most this many ratings would reach the next stage. */
  rateMoreMaxRatings: number;
}

export const DEFAULT_INSIGHTS_OPTIONS: InsightsOptions = Object.freeze({
  minSamples: 20,
  noDifferenceHalfWidth: 0.05,
  maxQualityLoss: 0.05,
  minSavingsFraction: 0.2,
  unreliableFailureRate: 0.2,
  unreliableMinCalls: 10,
  rateMoreMinRequests: 5,
  rateMoreMaxRatings: 10,
});

export interface InsightsInput {
  /** The caller's cells. */
  cells: readonly AccountCell[];
  /** The caller's counters. */
  counters: readonly AccountCounters[];
  /** Global cells; those below the anonymity threshold are ignored whatever the caller passes. */
  global: readonly GlobalCell[];
  nowMs: number;
  scoring: ScoringConfig;
  providerOf: (model: string) => string | undefined;
  options?: Partial<InsightsOptions>;
}

const TYPE_ORDER = new Map<string, number>(QUERY_TYPES.map((t, i) => [t, i]));
const typeRank = (t: string) => TYPE_ORDER.get(t) ?? QUERY_TYPES.length;

/** Decayed counts are reported rounded, as the proto says. */
const count = (v: number) => String(Math.max(0, Math.round(v)));

/** Half-width of a 95% interval of a mean of `n` observations with variance `variance`; 0.5 (all of [0, 1]) below 2. */
function halfWidth(variance: number | undefined, n: number): number {
  if (variance === undefined || n < 2) return 0.5;
  return Z95 * Math.sqrt((variance * n) / (n - 1) / n);
}

/** Per-model statistics of the caller's cells, by query type (enum order), best quality first within a type. */
export function modelStatsFromCells(
  cells: readonly AccountCell[],
  nowMs: number,
  scoring: ScoringConfig,
  providerOf: (model: string) => string | undefined,
  queryType?: QueryType,
): insightsV1.ModelStats[] {
  const rows: insightsV1.ModelStats[] = [];
  for (const cell of cells) {
    if (!isQueryType(cell.queryType) || (queryType !== undefined && cell.queryType !== queryType)) continue;
    const v = readCell(cell, nowMs, scoring);
    if (!(v.requests + v.failures > 0)) continue;
    rows.push({
      queryType: queryTypeToProto(cell.queryType),
      model: cell.model,
      provider: providerOf(cell.model) ?? '',
      requestCount: count(v.requests),
      ratingCount: count(v.ratings),
      avgQuality: v.mean ?? 0,
      qualityInterval: halfWidth(v.variance, v.requests),
      latencyP50Ms: v.p50LatencyMs ?? 0,
      latencyP95Ms: v.p95LatencyMs ?? 0,
      avgCostUsd: v.avgCostUsd ?? 0,
      failureRate: v.failureRate ?? 0,
    });
  }
  return sortModelStats(rows);
}

export function sortModelStats(rows: insightsV1.ModelStats[]): insightsV1.ModelStats[] {
  return rows.sort((a, b) => a.queryType - b.queryType || b.avgQuality - a.avgQuality || (a.model < b.model ? -1 : 1));
}

/** Mean quality of one side of an enhancement comparison, from plain (undecayed, unweighted) sums. */
interface Side {
  n: number;
  mean: number;
  /** Sample variance (n - 1 in the denominator). */
  variance: number;
}

function side(n: number, q: number, q2: number): Side {
  if (!(n > 0)) return { n: 0, mean: 0, variance: 0 };
  const mean = q / n;
  const population = Math.max(0, q2 / n - mean * mean);
  return { n, mean, variance: n > 1 ? (population * n) / (n - 1) : 0 };
}

/**
 * Enhanced against plain requests per query type, with a Welch 95% interval of the difference. A verdict
 * is given only when both sides have minSamples requests and the interval either excludes zero (helps or
 * hurts) or is narrow around it (no difference).
 */
export function enhancementEffects(
  counters: readonly AccountCounters[],
  options: Partial<InsightsOptions> = {},
): insightsV1.EnhancementEffect[] {
  const opt = { ...DEFAULT_INSIGHTS_OPTIONS, ...options };
  const out: insightsV1.EnhancementEffect[] = [];
  for (const c of [...counters].sort((a, b) => typeRank(a.queryType) - typeRank(b.queryType))) {
    if (!isQueryType(c.queryType) || !(c.enhancedN + c.plainN > 0)) continue;
    const a = side(c.enhancedN, c.enhancedQ, c.enhancedQ2);
    const b = side(c.plainN, c.plainQ, c.plainQ2);
    const difference = a.n > 0 && b.n > 0 ? a.mean - b.mean : 0;
    const comparable = a.n >= 2 && b.n >= 2;
    const half = comparable ? Z95 * Math.sqrt(a.variance / a.n + b.variance / b.n) : 0;
    let verdict = insightsV1.EnhancementVerdict.ENHANCEMENT_VERDICT_INSUFFICIENT_EVIDENCE;
    if (a.n >= opt.minSamples && b.n >= opt.minSamples) {
      if (difference - half > 0) verdict = insightsV1.EnhancementVerdict.ENHANCEMENT_VERDICT_HELPS;
      else if (difference + half < 0) verdict = insightsV1.EnhancementVerdict.ENHANCEMENT_VERDICT_HURTS;
      else if (half <= opt.noDifferenceHalfWidth)
        verdict = insightsV1.EnhancementVerdict.ENHANCEMENT_VERDICT_NO_DIFFERENCE;
    }
    out.push({
      queryType: queryTypeToProto(c.queryType),
      enhancedCount: count(a.n),
      plainCount: count(b.n),
      enhancedQuality: a.mean,
      plainQuality: b.mean,
      difference,
      intervalLow: comparable ? difference - half : 0,
      intervalHigh: comparable ? difference + half : 0,
      verdict,
    });
  }
  return out;
}

/** Shares of auto-routed requests and of decisions personal learning changed, and requests by stage. */
export function routingInfluenceFromCounters(counters: readonly AccountCounters[]): insightsV1.RoutingInfluence {
  let total = 0;
  let auto = 0;
  let changed = 0;
  const byStage: Record<Stage, number> = { cold_start: 0, warm_up: 0, established: 0 };
  for (const c of counters) {
    total += c.requests;
    auto += c.autoRouted;
    changed += c.changedByPersonal;
    byStage.cold_start += c.coldStart;
    byStage.warm_up += c.warmUp;
    byStage.established += c.established;
  }
  return {
    totalRequests: String(total),
    classifiedFraction: total > 0 ? auto / total : 0,
    personalChangedFraction: auto > 0 ? changed / auto : 0,
    byStage: (Object.keys(byStage) as Stage[]).map((stage) => ({
      stage: stageToProto(stage),
      requestCount: String(byStage[stage]),
    })),
  };
}

export interface TypeStage {
  queryType: QueryType;
  stage: Stage;
  personalWeight: number;
  /** Decayed personal evidence n_a of the type, summed over its models (as the router sums its candidates). */
  evidence: number;
  ratingsToNextStage: number;
}

/**
 * The stage of every query type, from the personal weight n_a / (n_a + k) the router computes, and how many
 * ratings would reach the next stage. A rating replaces its answer's heuristic signal, so rating an answer
 * not yet rated adds the rating weight minus one; once every answer is rated, each further one is a new
 * answer rated (the rating weight).
 */
export function typeStages(cells: readonly AccountCell[], nowMs: number, scoring: ScoringConfig): TypeStage[] {
  const evidence = new Map<string, number>();
  const unrated = new Map<string, number>();
  for (const cell of cells) {
    const v = readCell(cell, nowMs, scoring);
    if (v.mean === undefined) continue;
    evidence.set(cell.queryType, (evidence.get(cell.queryType) ?? 0) + v.n);
    unrated.set(cell.queryType, (unrated.get(cell.queryType) ?? 0) + Math.max(0, v.requests - v.ratings));
  }
  const k = scoring.priorStrength;
  return QUERY_TYPES.map((queryType) => {
    const n = evidence.get(queryType) ?? 0;
    const w = personalWeight(n, scoring);
    const stage = stageFor(w, scoring);
    let ratingsToNextStage = 0;
    if (stage !== 'established') {
      const t = stage === 'cold_start' ? scoring.stageThresholds.warmUp : scoring.stageThresholds.established;
      const needed = (t * k) / (1 - t) - n;
      const gain = scoring.ratingWeight - 1;
      const open = Math.floor((unrated.get(queryType) ?? 0) + 1e-9);
      // The small tolerance keeps an exact multiple from rounding up to one rating too many.
      const ratings =
        needed <= open * gain
          ? Math.ceil(needed / gain - 1e-9)
          : open + Math.ceil((needed - open * gain) / scoring.ratingWeight - 1e-9);
      ratingsToNextStage = Math.max(1, ratings);
    }
    return { queryType, stage, personalWeight: w, evidence: n, ratingsToNextStage };
  });
}

function stagesToProto(stages: readonly TypeStage[]): insightsV1.QueryTypeStage[] {
  return stages.map((s) => ({
    queryType: queryTypeToProto(s.queryType),
    stage: stageToProto(s.stage),
    personalWeight: s.personalWeight,
    ratingsToNextStage: s.ratingsToNextStage,
  }));
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
const signed = (v: number) => (v >= 0 ? `+${v.toFixed(3)}` : v.toFixed(3));
const usd = (v: number) => `$${Math.abs(v).toFixed(2)}`;
const label = (t: string) => t.replace(/_/g, ' ');

function typedCells(cells: readonly (AccountCell | GlobalCell)[]): TypedCell[] {
  return cells
    .filter((c) => isQueryType(c.queryType))
    .map((c) => ({ queryType: c.queryType as QueryType, model: c.model, cell: c as CellSums }));
}

interface Ranked {
  rec: insightsV1.Recommendation;
  /** Higher first within a group. */
  value: number;
  group: number;
}

/**
 * Actionable suggestions, each with its evidence, most valuable first: unreliable models, cheaper or better
 * models (from the caller's own cells, then from global patterns that pass the anonymity threshold),
 * prompt enhancement to switch on or off, and query types a few ratings would personalise.
 */
export function recommendationsFor(
  input: InsightsInput,
  enhancement?: insightsV1.EnhancementEffect[],
  stages?: TypeStage[],
): insightsV1.Recommendation[] {
  const opt = { ...DEFAULT_INSIGHTS_OPTIONS, ...input.options };
  const { nowMs, scoring } = input;
  const ranked: Ranked[] = [];

  // 1. Models that fail often.
  for (const cell of input.cells) {
    if (!isQueryType(cell.queryType)) continue;
    const v = readCell(cell, nowMs, scoring);
    const calls = v.requests + v.failures;
    if (calls >= opt.unreliableMinCalls && (v.failureRate ?? 0) >= opt.unreliableFailureRate) {
      ranked.push({
        group: 0,
        value: v.failureRate ?? 0,
        rec: {
          kind: insightsV1.RecommendationKind.RECOMMENDATION_KIND_UNRELIABLE_MODEL,
          queryType: queryTypeToProto(cell.queryType),
          model: cell.model,
          baselineModel: '',
          message: `${cell.model} failed ${pct(v.failureRate ?? 0)} of about ${Math.round(calls)} calls for ${label(cell.queryType)}: check its provider, or leave it out with allowed_models until it recovers.`,
          evidence: evidence({ sampleSize: calls, failureRate: v.failureRate ?? 0 }),
        },
      });
    }
  }

  // 2. Cheaper or better models, from the caller's own cells.
  const personal = cellRecommendations(typedCells(input.cells), nowMs, scoring, {
    minSamples: opt.minSamples,
    maxQualityLoss: opt.maxQualityLoss,
    minSavingsFraction: opt.minSavingsFraction,
  });
  for (const r of personal) {
    const e = r.evidence;
    const quality =
      e.qualityDifference >= 0
        ? `quality ${e.qualityDifference.toFixed(2)} higher than ${r.currentModel}`
        : `quality within ${Math.abs(e.qualityDifference).toFixed(2)} of ${r.currentModel}`;
    const cost =
      e.savingsPer1000RequestsUsd >= 0
        ? `saves ${usd(e.savingsPer1000RequestsUsd)}`
        : `costs ${usd(e.savingsPer1000RequestsUsd)} more`;
    ranked.push({
      group: 1,
      value: e.savingsPer1000RequestsUsd + e.qualityDifference * 1000,
      rec: {
        kind: insightsV1.RecommendationKind.RECOMMENDATION_KIND_SWITCH_MODEL,
        queryType: queryTypeToProto(r.queryType),
        model: r.suggestedModel,
        baselineModel: r.currentModel,
        message: `Use ${r.suggestedModel} for ${label(r.queryType)}: ${quality} (95% interval ${signed(e.qualityDifferenceCi95[0])} to ${signed(e.qualityDifferenceCi95[1])}) in your own requests, ${cost} per 1,000 requests.`,
        evidence: evidence({
          sampleSize: e.requestsSuggested,
          baselineSampleSize: e.requestsCurrent,
          qualityDifference: e.qualityDifference,
          intervalLow: e.qualityDifferenceCi95[0],
          intervalHigh: e.qualityDifferenceCi95[1],
          savingsPer1kUsd: e.savingsPer1000RequestsUsd,
        }),
      },
    });
  }

  // 3. Cheaper models the caller has hardly tried, from global patterns backed by at least K accounts besides
  // the caller (whose own cell may be one of the contributors: with it counted, K - 1 others would do).
  const callerCells = new Map(input.cells.map((c) => [`${c.queryType}\u0000${c.model}`, c]));
  const usable = input.global.filter(
    (g) =>
      isQueryType(g.queryType) && isGlobalCellUsable(g, scoring, callerCells.get(`${g.queryType}\u0000${g.model}`)),
  );
  const suggestedTypes = new Set(personal.map((r) => r.queryType));
  const byType = new Map<string, AccountCell[]>();
  for (const c of input.cells) byType.set(c.queryType, [...(byType.get(c.queryType) ?? []), c]);
  for (const [queryType, mine] of byType) {
    if (!isQueryType(queryType) || suggestedTypes.has(queryType)) continue;
    const views = mine.map((c) => ({ c, v: readCell(c, nowMs, scoring) }));
    const current = views.sort((a, b) => b.v.requests - a.v.requests)[0];
    if (current === undefined || current.v.requests < opt.minSamples) continue;
    const globalCurrent = usable.find((g) => g.queryType === queryType && g.model === current.c.model);
    if (globalCurrent === undefined) continue;
    const gCur = readCell(globalCurrent, nowMs, scoring);
    let best: Ranked | undefined;
    for (const alt of usable) {
      if (alt.queryType !== queryType || alt === globalCurrent) continue;
      const tried = views.find((x) => x.c.model === alt.model);
      if (tried !== undefined && tried.v.requests >= opt.minSamples) continue;
      const gAlt = readCell(alt, nowMs, scoring);
      if (gAlt.requests < opt.minSamples || gCur.requests < opt.minSamples) continue;
      const cmp = compareCells(alt, globalCurrent, nowMs, scoring);
      if (cmp.ci95 === undefined || cmp.difference === undefined) continue;
      const costCur = gCur.avgCostUsd ?? 0;
      const costAlt = gAlt.avgCostUsd ?? 0;
      if (!isCheaperEquivalent(costCur, costAlt, cmp.ci95, opt)) continue;
      const savings = (costCur - costAlt) * 1000;
      if (best !== undefined && savings <= best.value) continue;
      best = {
        group: 1,
        value: savings,
        rec: {
          kind: insightsV1.RecommendationKind.RECOMMENDATION_KIND_SWITCH_MODEL,
          queryType: queryTypeToProto(queryType),
          model: alt.model,
          baselineModel: current.c.model,
          message: `Try ${alt.model} for ${label(queryType)}: across accounts its quality is within ${Math.abs(cmp.difference).toFixed(2)} of ${current.c.model} (95% interval ${signed(cmp.ci95[0])} to ${signed(cmp.ci95[1])}) and it saves ${usd(savings)} per 1,000 requests.`,
          evidence: evidence({
            sampleSize: gAlt.requests,
            baselineSampleSize: gCur.requests,
            qualityDifference: cmp.difference,
            intervalLow: cmp.ci95[0],
            intervalHigh: cmp.ci95[1],
            savingsPer1kUsd: savings,
          }),
        },
      };
    }
    if (best !== undefined) ranked.push(best);
  }

  // 4. Prompt enhancement to switch on or off.
  for (const e of enhancement ?? enhancementEffects(input.counters, opt)) {
    const helps = e.verdict === insightsV1.EnhancementVerdict.ENHANCEMENT_VERDICT_HELPS;
    const hurts = e.verdict === insightsV1.EnhancementVerdict.ENHANCEMENT_VERDICT_HURTS;
    if (!helps && !hurts) continue;
    const type = label(queryTypeFromProto(e.queryType) ?? 'this type');
    ranked.push({
      group: 2,
      value: Math.abs(e.difference),
      rec: {
        kind: helps
          ? insightsV1.RecommendationKind.RECOMMENDATION_KIND_ENABLE_ENHANCEMENT
          : insightsV1.RecommendationKind.RECOMMENDATION_KIND_DISABLE_ENHANCEMENT,
        queryType: e.queryType,
        model: '',
        baselineModel: '',
        message: helps
          ? `Switch prompt enhancement on for ${type} (enhance_prompt: true): enhanced requests scored ${signed(e.difference)} (95% interval ${signed(e.intervalLow)} to ${signed(e.intervalHigh)}).`
          : `Switch prompt enhancement off for ${type} (enhance_prompt: false): enhanced requests scored ${signed(e.difference)} (95% interval ${signed(e.intervalLow)} to ${signed(e.intervalHigh)}).`,
        evidence: evidence({
          sampleSize: Number(e.enhancedCount),
          baselineSampleSize: Number(e.plainCount),
          qualityDifference: e.difference,
          intervalLow: e.intervalLow,
          intervalHigh: e.intervalHigh,
        }),
      },
    });
  }

  // 5. Query types a few ratings would personalise.
  const requestsByType = new Map(input.counters.map((c) => [c.queryType, c.requests]));
  for (const s of stages ?? typeStages(input.cells, nowMs, scoring)) {
    const used = requestsByType.get(s.queryType) ?? 0;
    if (s.stage === 'established' || used < opt.rateMoreMinRequests || s.ratingsToNextStage > opt.rateMoreMaxRatings)
      continue;
    const next = s.stage === 'cold_start' ? 'warm-up' : 'established';
    ranked.push({
      group: 3,
      value: -s.ratingsToNextStage,
      rec: {
        kind: insightsV1.RecommendationKind.RECOMMENDATION_KIND_RATE_MORE,
        queryType: queryTypeToProto(s.queryType),
        model: '',
        baselineModel: '',
        message: `Rate ${s.ratingsToNextStage} more ${label(s.queryType)} answer${s.ratingsToNextStage === 1 ? '' : 's'} to move this type to ${next}: routing then follows your own results more than global patterns.`,
        evidence: evidence({ sampleSize: used }),
      },
    });
  }

  return ranked.sort((a, b) => a.group - b.group || b.value - a.value).map((r) => r.rec);
}

function evidence(
  e: Partial<
    { sampleSize: number; baselineSampleSize: number } & Omit<insightsV1.Evidence, 'sampleSize' | 'baselineSampleSize'>
  >,
): insightsV1.Evidence {
  return {
    sampleSize: count(e.sampleSize ?? 0),
    baselineSampleSize: count(e.baselineSampleSize ?? 0),
    qualityDifference: e.qualityDifference ?? 0,
    intervalLow: e.intervalLow ?? 0,
    intervalHigh: e.intervalHigh ?? 0,
    savingsPer1kUsd: e.savingsPer1kUsd ?? 0,
    failureRate: e.failureRate ?? 0,
  };
}

/** The whole Insights tab. */
export function learningDashboard(input: InsightsInput): insightsV1.GetLearningDashboardResponse {
  const enhancement = enhancementEffects(input.counters, input.options);
  const stages = typeStages(input.cells, input.nowMs, input.scoring);
  return {
    modelStats: modelStatsFromCells(input.cells, input.nowMs, input.scoring, input.providerOf),
    enhancement,
    routingInfluence: routingInfluenceFromCounters(input.counters),
    recommendations: recommendationsFor(input, enhancement, stages),
    stages: stagesToProto(stages),
    computeTime: new Date(input.nowMs),
  };
}

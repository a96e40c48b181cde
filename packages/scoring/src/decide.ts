import type { QualityEstimate, QualityEvidence } from './blend.js';
import { blendEvidence, personalWeight as weightOf, stageFor } from './blend.js';
import type { CellSums, GlobalCellSums } from './cells.js';
import { epochScale, histogramQuantile, isGlobalCellUsable } from './cells.js';
import type { ScoringConfig } from './config.js';
import { defaultScoringConfig } from './config.js';
import type { CandidateRejection } from './errors.js';
import { NoEligibleModelError, ScoringError } from './errors.js';
import { normal } from './rng.js';
import type { Preference, QueryType, Rng, Stage } from './types.js';
import { isPreference } from './types.js';

export interface CandidateModel {
  id: string;
  provider: string;
  /** USD per 1M prompt tokens. */
  inputPerMTok: number;
  /** USD per 1M completion tokens. */
  outputPerMTok: number;
  contextWindow: number;
  capabilities?: readonly string[];
  /** Catalog prior quality in [0, 1], per query type or one value for all. */
  priorQuality?: Partial<Record<QueryType, number>> | number;
  /** Typical latency of one answer, ms. */
  typicalLatencyMs?: number;
}

export interface DecisionConstraints {
  allowedModels?: readonly string[] | ReadonlySet<string> | undefined;
  maxCostUsd?: number | undefined;
  requiredCapabilities?: readonly string[] | undefined;
  unhealthy?: readonly string[] | ReadonlySet<string> | undefined;
}

export type CellLookup<T> = ReadonlyMap<string, T> | Readonly<Record<string, T>>;

export interface DecideInput {
  candidates: readonly CandidateModel[];
  queryType: QueryType;
  promptTokens: number;
  expectedCompletionTokens?: number | undefined;
  preference: Preference;
  constraints?: DecisionConstraints | undefined;
  /** This account's cells for this query type, by model id. */
  personal?: CellLookup<CellSums> | undefined;
  /** Global cells for this query type, by model id (gated by K-anonymity here). */
  global?: CellLookup<GlobalCellSums> | undefined;
  /**
   * Optional: cells of each model summed over all query types, used as the prior of the per-type
   * estimate. The global pool is used when it passes K-anonymity, the account's own pool otherwise.
   * When both exist, the account's pool against the global pool is its taste (see tasteGap).
   */
  pooled?: { personal?: CellLookup<CellSums> | undefined; global?: CellLookup<GlobalCellSums> | undefined } | undefined;
  config?: ScoringConfig | undefined;
  nowMs: number;
  rng: Rng;
}

export interface ScoredCandidate {
  model: string;
  provider: string;
  estimatedQuality: number;
  /** Estimated quality with personal data ignored. */
  globalQuality: number;
  qualityStdDev: number;
  estimatedCostUsd: number;
  estimatedLatencyMs: number;
  /** quality - penalties at the estimated (posterior mean) quality. */
  utility: number;
  /** The Thompson draw: utility with quality sampled from its posterior. */
  sampledUtility: number;
  personalWeight: number;
  evidence: number;
}

export interface Decision {
  model: string;
  /** All eligible models, best sampled utility first: the chosen one then the fallbacks. */
  ranked: string[];
  stage: Stage;
  /** Personal weight n_a / (n_a + k) of the account's evidence for this query type. */
  personalWeight: number;
  /** Would the choice differ with the same random draws but no personal data? */
  changedByPersonal: boolean;
  globalOnlyModel: string;
  candidates: ScoredCandidate[];
  rejected: CandidateRejection[];
}

/** Typical completion lengths per type (tokens), when the caller gives none. */
export const EXPECTED_COMPLETION_TOKENS: Record<QueryType, number> = {
  code_algorithm: 700,
  code_debug: 600,
  math: 500,
  reasoning: 450,
  analysis: 650,
  creative: 700,
  writing: 600,
  factual: 300,
  summarization: 250,
  extraction: 250,
  translation: 300,
  conversation: 200,
};

function lookup<T>(cells: CellLookup<T> | undefined, id: string): T | undefined {
  if (!cells) return undefined;
  if (cells instanceof Map) return cells.get(id);
  return (cells as Record<string, T>)[id];
}

function hasIn(set: readonly string[] | ReadonlySet<string>, id: string): boolean {
  return Array.isArray(set) ? set.includes(id) : (set as ReadonlySet<string>).has(id);
}

export function priorQualityOf(c: CandidateModel, type: QueryType): number {
  const p = c.priorQuality;
  if (typeof p === 'number') return p;
  return p?.[type] ?? 0.5;
}

export function catalogCostUsd(c: CandidateModel, promptTokens: number, completionTokens: number): number {
  return (promptTokens * c.inputPerMTok + completionTokens * c.outputPerMTok) / 1e6;
}

interface Work {
  c: CandidateModel;
  est: QualityEstimate;
  p: QualityEvidence | undefined;
  g: QualityEvidence | undefined;
  pool: QualityEvidence | undefined;
  /** The pool comes from the account's own cells (the global-only view must not see it). */
  personalPool: boolean;
  /** The account's shrunk gap to everyone on this model over all types (NO_TASTE without evidence on both sides). */
  taste: number;
  prior: number;
  /** Evidence, and its gap to the prior, of the model's broadest record (all types, else this type). */
  lvN: number;
  /** The same evidence if it is global (visible to the global-only view), else 0. */
  lvNG: number;
  lvGap: number;
  cost: number;
  latency: number;
  logLatency: number;
  failureRate: number;
  z: number;
}

/**
 * Choose a model: constraints first, then Thompson sampling on utility. Deterministic for a given
 * rng state: one normal draw per eligible candidate, in candidate order.
 */
export function decide(input: DecideInput): Decision {
  const cfg = input.config ?? defaultScoringConfig;
  if (!isPreference(input.preference))
    throw new ScoringError(
      'INVALID_ARGUMENT',
      `preference must be one of quality, balanced, cost, speed; got ${String(input.preference)}.`,
    );
  if (!(input.promptTokens >= 0))
    throw new ScoringError('INVALID_ARGUMENT', `promptTokens must be >= 0; got ${input.promptTokens}.`);
  const completion = input.expectedCompletionTokens ?? EXPECTED_COMPLETION_TOKENS[input.queryType];
  const cons = input.constraints ?? {};
  const rejected: CandidateRejection[] = [];
  const work: Work[] = [];
  let personalTotal = 0;
  const decay = 1 / epochScale(input.nowMs, cfg);
  const pooledGlobal = input.pooled?.global;
  const pooledPersonal = input.pooled?.personal;

  for (const c of input.candidates) {
    if (cons.allowedModels && !hasIn(cons.allowedModels, c.id)) {
      rejected.push({ model: c.id, reason: 'not_allowed', detail: 'not in allowed_models' });
      continue;
    }
    if (cons.unhealthy && hasIn(cons.unhealthy, c.id)) {
      rejected.push({ model: c.id, reason: 'unhealthy', detail: `provider ${c.provider} is marked unhealthy` });
      continue;
    }
    const need = input.promptTokens + completion;
    if (need > c.contextWindow) {
      rejected.push({
        model: c.id,
        reason: 'context_window',
        detail: `needs ${need} tokens, window is ${c.contextWindow}`,
      });
      continue;
    }
    if (cons.requiredCapabilities) {
      const missing = hasAllCapabilities(cons.requiredCapabilities, c.capabilities)
        ? undefined
        : missingCapabilities(cons.requiredCapabilities, c.capabilities);
      if (missing !== undefined) {
        rejected.push({ model: c.id, reason: 'missing_capability', detail: `lacks ${missing.join(', ')}` });
        continue;
      }
    }
    const pCell = lookup(input.personal, c.id);
    const gCell = lookup(input.global, c.id);
    const p = pCell ? decisionView(pCell, decay, true) : undefined;
    const g = gCell && isGlobalCellUsable(gCell, cfg) ? decisionView(gCell, decay, true) : undefined;
    const catalogCost = catalogCostUsd(c, input.promptTokens, completion);
    const cost = blendObserved(catalogCost, p, g, OBSERVED_COST, cfg.catalogCostStrength);
    if (cons.maxCostUsd !== undefined && cost > cons.maxCostUsd) {
      rejected.push({
        model: c.id,
        reason: 'over_budget',
        detail: `estimated ${cost.toPrecision(3)} USD > max ${cons.maxCostUsd}`,
      });
      continue;
    }
    const latency = blendObserved(c.typicalLatencyMs ?? 2000, p, g, OBSERVED_LATENCY, cfg.catalogCostStrength);
    const failureRate = blendObserved(0, p, g, OBSERVED_FAILURE, cfg.catalogCostStrength);
    const gPool = lookup(pooledGlobal, c.id);
    const pPool = lookup(pooledPersonal, c.id);
    const poolCell = gPool && isGlobalCellUsable(gPool, cfg) ? gPool : pPool;
    const pool = poolCell ? decisionView(poolCell, decay, false) : undefined;
    const prior = priorQualityOf(c, input.queryType);
    const personalPool = poolCell !== undefined && poolCell === pPool;
    const taste =
      !personalPool && pool !== undefined && pPool !== undefined ? tasteGap(pPool, pool, decay, cfg) : NO_TASTE;
    // The catalog level: a model's record over all query types, else its record in this type.
    const level = pool !== undefined && pool.mean === pool.mean ? pool : g !== undefined && g.mean === g.mean ? g : p;
    const lvN = level !== undefined && level.mean === level.mean && level.n > 0 ? level.n : 0;
    const lvGap = lvN > 0 ? level!.mean - prior : 0;
    const lvNG = level !== p && !personalPool ? lvN : 0;
    work.push({
      c,
      est: EMPTY_ESTIMATE,
      p,
      g,
      pool,
      personalPool,
      taste,
      prior,
      lvN,
      lvNG,
      lvGap,
      cost,
      latency,
      logLatency: safeLog(latency),
      failureRate,
      z: 0,
    });
  }
  if (work.length === 0) throw new NoEligibleModelError(rejected);
  centreTastes(work);
  // Catalog priors are guesses on their own scale; the level of the quality signals is learned from
  // the candidates that have a record (see priorOffset). Global-only view: global records only.
  for (const w of work) {
    let shift = NO_LEVEL;
    let shiftG = NO_LEVEL;
    for (let j = 0; j < work.length; j++) {
      const o = work[j]!;
      if (o.lvN === 0) continue;
      const d = o.prior - w.prior;
      const kern = 1 - (d < 0 ? -d : d) / PRIOR_LEVEL_BANDWIDTH;
      if (kern <= 0) continue;
      const level = priorOffset(kern * o.lvN, o.lvGap, cfg);
      if (level > shift) shift = level;
      if (o.lvNG > 0) {
        const levelG = priorOffset(kern * o.lvNG, o.lvGap, cfg);
        if (levelG > shiftG) shiftG = levelG;
      }
    }
    if (shift === NO_LEVEL) shift = 0;
    if (shiftG === NO_LEVEL) shiftG = 0;
    const prior = clamp01(w.prior + shift);
    w.est = blendEvidence(prior, w.p, w.g, cfg, w.pool, w.taste);
    if (w.personalPool || shift !== shiftG) {
      // The global-only view sees neither the account's own pool nor its effect on the prior level.
      const gOnly = blendEvidence(clamp01(w.prior + shiftG), undefined, w.g, cfg, w.personalPool ? undefined : w.pool);
      w.est.globalMean = gOnly.mean;
      w.est.globalVariance = gOnly.variance;
    }
    personalTotal += w.est.nPersonal;
  }
  for (const w of work) w.z = normal(input.rng);

  const lambdas = cfg.lambdas[input.preference];
  let maxCost = 0;
  let loLat = Infinity;
  let hiLat = -Infinity;
  for (let i = 0; i < work.length; i++) {
    const c = work[i]!.cost;
    const ll = work[i]!.logLatency;
    if (c > maxCost) maxCost = c;
    if (ll < loLat) loLat = ll;
    if (ll > hiLat) hiLat = ll;
  }
  const spanLat = Math.max(hiLat - loLat, MIN_LATENCY_SPAN);
  const scale = cfg.exploration.scale;
  const scored: ScoredCandidate[] = [];
  let bestIdx = 0;
  let bestGlobalIdx = 0;
  let bestU = -Infinity;
  let bestGlobalU = -Infinity;
  for (let i = 0; i < work.length; i++) {
    const w = work[i]!;
    const normCost = maxCost > 0 ? w.cost / maxCost : 0;
    const normLat = (w.logLatency - loLat) / spanLat;
    const penalty = lambdas.cost * normCost + lambdas.latency * normLat + lambdas.failure * w.failureRate;
    const sd = Math.sqrt(w.est.variance);
    const sampled = w.est.mean + scale * sd * w.z - penalty;
    const sampledGlobal = w.est.globalMean + scale * Math.sqrt(w.est.globalVariance) * w.z - penalty;
    if (sampled > bestU) {
      bestU = sampled;
      bestIdx = i;
    }
    if (sampledGlobal > bestGlobalU) {
      bestGlobalU = sampledGlobal;
      bestGlobalIdx = i;
    }
    scored.push({
      model: w.c.id,
      provider: w.c.provider,
      estimatedQuality: w.est.mean,
      globalQuality: w.est.globalMean,
      qualityStdDev: sd,
      estimatedCostUsd: w.cost,
      estimatedLatencyMs: w.latency,
      utility: w.est.mean - penalty,
      sampledUtility: sampled,
      personalWeight: w.est.personalWeight,
      evidence: w.est.evidence,
    });
  }
  const order: number[] = [];
  for (let i = 0; i < scored.length; i++) order.push(i);
  // Insertion sort: best sampled utility first, ties in candidate order (a handful of candidates).
  for (let i = 1; i < order.length; i++) {
    const cur = order[i]!;
    const u = scored[cur]!.sampledUtility;
    let j = i - 1;
    while (j >= 0 && scored[order[j]!]!.sampledUtility < u) {
      order[j + 1] = order[j]!;
      j--;
    }
    order[j + 1] = cur;
  }
  const ranked: string[] = [];
  for (const i of order) ranked.push(scored[i]!.model);
  // Decision-level weight: the account's evidence for this type across its candidates.
  const pw = weightOf(personalTotal, cfg);
  return {
    model: work[bestIdx]!.c.id,
    ranked,
    stage: stageFor(pw, cfg),
    personalWeight: pw,
    changedByPersonal: bestIdx !== bestGlobalIdx,
    globalOnlyModel: work[bestGlobalIdx]!.c.id,
    candidates: scored,
    rejected,
  };
}

/**
 * What the decision needs from a cell, read at the decision's instant. Every field is a double
 * (NaN when there is no such evidence), so V8 keeps them unboxed on this hot path.
 */
interface DecisionView {
  n: number;
  mean: number;
  variance: number;
  requests: number;
  calls: number;
  avgCostUsd: number;
  failureRate: number;
  /** Median latency from the histogram (robust to the long answers that inflate a mean). */
  p50LatencyMs: number;
}

function decisionView(cell: CellSums, decay: number, withLatency: boolean): DecisionView {
  const scale = evidenceScale(cell);
  const mean = qualityMean(cell, scale);
  const hasN = mean === mean;
  const calls = cell.requests + cell.failures;
  const hasCalls = calls > scale && calls > 0;
  let p50 = Number.NaN;
  if (withLatency) {
    let total = 0;
    const h = cell.latencyHist;
    for (let i = 0; i < h.length; i++) total += h[i]!;
    if (total > scale && total > 0) p50 = histogramQuantile(h, 0.5, total);
  }
  return {
    n: cell.n * decay,
    mean,
    variance: hasN ? Math.max(0, cell.q2 / cell.n - mean * mean) : Number.NaN,
    requests: cell.requests * decay,
    calls: calls * decay,
    avgCostUsd: hasCalls ? cell.costUsd / calls : Number.NaN,
    failureRate: hasCalls ? cell.failures / calls : Number.NaN,
    p50LatencyMs: p50,
  };
}

/** Sums below this are rounding left over from removed contributions, not evidence. */
function evidenceScale(cell: CellSums): number {
  return Math.max(cell.n, cell.requests, cell.failures, 1e-12) * 1e-9;
}

/** The cell's mean quality, NaN without quality evidence (decay cancels in the ratio). */
function qualityMean(cell: CellSums, scale: number): number {
  return cell.n > scale && cell.n > 0 ? cell.q / cell.n : Number.NaN;
}

const OBSERVED_COST = 0;
const OBSERVED_LATENCY = 1;
const OBSERVED_FAILURE = 2;
type Observed = typeof OBSERVED_COST | typeof OBSERVED_LATENCY | typeof OBSERVED_FAILURE;

/** Observed average blended with a catalog estimate worth `strength` pseudo-observations (personal and global cells). */
function blendObserved(
  catalog: number,
  p: DecisionView | undefined,
  g: DecisionView | undefined,
  what: Observed,
  strength: number,
): number {
  let num = catalog * strength;
  let den = strength;
  if (p !== undefined) {
    const x = what === OBSERVED_COST ? p.avgCostUsd : what === OBSERVED_LATENCY ? p.p50LatencyMs : p.failureRate;
    const n = what === OBSERVED_LATENCY ? p.requests : p.calls;
    if (x === x && n > 0) {
      num += x * n;
      den += n;
    }
  }
  if (g !== undefined) {
    const x = what === OBSERVED_COST ? g.avgCostUsd : what === OBSERVED_LATENCY ? g.p50LatencyMs : g.failureRate;
    const n = what === OBSERVED_LATENCY ? g.requests : g.calls;
    if (x === x && n > 0) {
      num += x * n;
      den += n;
    }
  }
  return den > 0 ? num / den : catalog;
}

/**
 * Cost is normalised linearly, as a share of the dearest eligible candidate's estimate: a dollar
 * saved is worth the same on any model, so the penalty trades quality against money at one rate (on a
 * log scale the gap between two budget models costing $0.0001 and $0.001 weighed as much as the gap
 * between $0.003 and $0.03). Latency is normalised on a log scale from the fastest candidate, over at
 * least one order of magnitude, because waiting twice as long feels about as bad at any speed.
 */
const MIN_LATENCY_SPAN = Math.log(10);

function hasAllCapabilities(required: readonly string[], has: readonly string[] | undefined): boolean {
  for (let i = 0; i < required.length; i++) if (!has || !has.includes(required[i]!)) return false;
  return true;
}

function missingCapabilities(required: readonly string[], has: readonly string[] | undefined): string[] {
  const out: string[] = [];
  for (const cap of required) if (!has || !has.includes(cap)) out.push(cap);
  return out;
}

/**
 * The learned level of the catalog priors. A catalog ranks models (tiers) but cannot know the scale
 * of the quality signals (heuristic, ratings) of a deployment; without a learned level, once one
 * model is found to score well above its tier guess, a model with no record is never sampled again.
 * Each candidate with a record offers its gap (observed quality minus catalog prior), shrunk toward
 * 0 by the catalog prior's strength (globalPriorStrength pseudo-observations) and weighted by how
 * close its prior is; a candidate's level is the best of these among its neighbours. The best, not
 * the mean: an untried model of a tier may be as good as the tier's best tried model, and with the
 * mean the first poor model of a tier (claude-1 tried before any GPT-4) pulled its untried siblings
 * below a mid-tier model for the rest of a replay.
 */
function priorOffset(weight: number, gap: number, cfg: ScoringConfig): number {
  return (weight * gap) / (weight + cfg.globalPriorStrength);
}

const NO_LEVEL = -Infinity;

/** A candidate without an account taste (NaN, so that a gap of exactly 0 still counts as one). */
const NO_TASTE = Number.NaN;

/**
 * An account's taste for a model: how much better or worse the account's signals (ratings above all)
 * find the model over all query types than everyone's do, shrunk toward 0 by the personal prior
 * strength k. A preference for a model's style shows in every type, so the all-types record of a few
 * dozen requests says more about it than the account's thin per-type cells; the per-type cell is
 * blended on top (blendEvidence). NO_TASTE without quality evidence on either side.
 */
function tasteGap(personalPool: CellSums, globalPool: DecisionView, decay: number, cfg: ScoringConfig): number {
  // Only the mean and the evidence of the account's pool are needed: no full view on this hot path.
  const mean = qualityMean(personalPool, evidenceScale(personalPool));
  if (!(mean === mean) || !(globalPool.mean === globalPool.mean)) return NO_TASTE;
  const n = personalPool.n * decay;
  return ((mean - globalPool.mean) * n) / (n + cfg.priorStrength);
}

/**
 * Tastes are relative: subtract their mean over the candidates that have one, so that what lifts or
 * lowers every model alike for an account (its mix of query types, harder prompts, a stricter rater)
 * is not read as a preference for one model. Candidates without one get 0.
 */
function centreTastes(work: Work[]): void {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < work.length; i++) {
    const t = work[i]!.taste;
    if (t !== t) continue;
    sum += t;
    count++;
  }
  const mean = count > 0 ? sum / count : 0;
  for (let i = 0; i < work.length; i++) {
    const w = work[i]!;
    w.taste = w.taste === w.taste ? w.taste - mean : 0;
  }
}

/** Candidates whose catalog priors differ by less than this inform each other's prior level (triangular kernel). */
const PRIOR_LEVEL_BANDWIDTH = 0.1;

const EMPTY_ESTIMATE: QualityEstimate = Object.freeze({
  mean: 0,
  variance: 0,
  evidence: 0,
  globalMean: 0,
  globalVariance: 0,
  personalWeight: 0,
  nPersonal: 0,
  nGlobal: 0,
});

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

function safeLog(v: number): number {
  return Math.log(v > 1e-9 ? v : 1e-9);
}

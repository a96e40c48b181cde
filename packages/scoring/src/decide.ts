import {
  ESTIMATE_SIZE,
  EVIDENCE_GLOBAL,
  EVIDENCE_PERSONAL,
  EVIDENCE_POOLED,
  EVIDENCE_SIZE,
  EST_EVIDENCE,
  EST_GLOBAL_MEAN,
  EST_GLOBAL_VARIANCE,
  EST_MEAN,
  EST_N_PERSONAL,
  EST_PERSONAL_WEIGHT,
  EST_VARIANCE,
  blendInto,
  personalWeight as weightOf,
  stageFor,
} from './blend.js';
import type { CellSums, GlobalCellSums } from './cells.js';
import { cellResidue, epochScale, histogramQuantile, isGlobalCellUsable } from './cells.js';
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
  /** Most tokens the model writes in one answer: caps what a request's max_tokens reserves in the window. */
  maxOutputTokens?: number;
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
  /**
   * The request's max_tokens, when it sets one: the context window must hold the prompt and that many
   * answer tokens (at most the model's maxOutputTokens), since that is what the upstream reserves. The
   * cost estimate uses expectedCompletionTokens.
   */
  maxCompletionTokens?: number | undefined;
  preference: Preference;
  constraints?: DecisionConstraints | undefined;
  /** This account's cells for this query type, by model id. */
  personal?: CellLookup<CellSums> | undefined;
  /** Global cells for this query type, by model id (gated here by K-anonymity: K accounts besides this one). */
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

/**
 * The numbers of one decision live in reused typed arrays, not in objects per candidate, and go to
 * the functions it calls as arrays and offsets, not as number arguments (V8 boxes a double passed to
 * a function it does not inline). A decision then allocates little beyond what it returns: 7 KB, not
 * the 26 KB of an object per candidate and cell, which on a machine with busy shared caches cost more
 * than the arithmetic, every new object being a cache miss. Per eligible candidate, STRIDE numbers at
 * i * STRIDE:
 */
const F_COST = 0;
const F_LATENCY = 1;
const F_LOG_LATENCY = 2;
const F_FAILURE = 3;
const F_PRIOR = 4;
/** Evidence, and its gap to the prior, of the model's broadest record (all types, else this type). */
const F_LEVEL_N = 5;
/** The same evidence if it is global (visible to the global-only view), else 0. */
const F_LEVEL_N_GLOBAL = 6;
const F_LEVEL_GAP = 7;
/** The account's shrunk gap to everyone on this model over all types (NO_TASTE without evidence on both sides). */
const F_TASTE = 8;
/** 1 when the pool comes from the account's own cells (the global-only view must not see it). */
const F_PERSONAL_POOL = 9;
/** The learned level of its catalog prior (priorLevels), and the same from global records only. */
const F_LEVEL = 10;
const F_LEVEL_GLOBAL = 11;
/** Quality evidence of the personal, global and pooled cells, as blendInto reads it (EVIDENCE_*). */
const F_EVIDENCE = 12;
const F_Z = F_EVIDENCE + EVIDENCE_SIZE;
/** Cost, log latency and failure rate from global records only, for the global-only view's penalty. */
const F_COST_GLOBAL = F_Z + 1;
const F_LOG_LATENCY_GLOBAL = F_Z + 2;
const F_FAILURE_GLOBAL = F_Z + 3;
const STRIDE = F_Z + 4;

/** What the decision reads from a cell, at the offsets below of a view array. */
const V_N = 0;
const V_MEAN = 1;
const V_VARIANCE = 2;
const V_REQUESTS = 3;
const V_CALLS = 4;
const V_AVG_COST = 5;
const V_FAILURE = 6;
/** Median latency from the histogram (robust to the long answers that inflate a mean). */
const V_P50_LATENCY = 7;
/** Input: the decision's decay factor, set once (a number passed as an argument is boxed on every call). */
const V_DECAY = 8;
const VIEW_SIZE = 9;

class Scratch {
  f = new Float64Array(16 * STRIDE);
  est = new Float64Array(16 * ESTIMATE_SIZE);
  models: CandidateModel[] = [];
  readonly p = new Float64Array(VIEW_SIZE);
  readonly g = new Float64Array(VIEW_SIZE);
  readonly x = new Float64Array(VIEW_SIZE);
  readonly globalOnly = new Float64Array(ESTIMATE_SIZE);
  inUse = false;

  reserve(candidates: number): void {
    if (this.f.length < candidates * STRIDE) {
      this.f = new Float64Array(candidates * STRIDE);
      this.est = new Float64Array(candidates * ESTIMATE_SIZE);
    }
  }
}

const shared = new Scratch();

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
  // The caller's rng runs inside a decision; should it decide in turn, that decision gets its own arrays.
  const s = shared.inUse ? new Scratch() : shared;
  s.inUse = true;
  try {
    return decideWith(input, cfg, s);
  } finally {
    s.inUse = false;
    s.models.length = 0;
  }
}

function decideWith(input: DecideInput, cfg: ScoringConfig, s: Scratch): Decision {
  const completion = input.expectedCompletionTokens ?? EXPECTED_COMPLETION_TOKENS[input.queryType];
  const cons = input.constraints ?? {};
  const rejected: CandidateRejection[] = [];
  s.reserve(input.candidates.length);
  const { f, est, models, p: vp, g: vg, x: vx } = s;
  let count = 0;
  const decay = 1 / epochScale(input.nowMs, cfg);
  vp[V_DECAY] = decay;
  vg[V_DECAY] = decay;
  vx[V_DECAY] = decay;
  const pooledGlobal = input.pooled?.global;
  const pooledPersonal = input.pooled?.personal;

  for (const c of input.candidates) {
    if (cons.allowedModels && !hasIn(cons.allowedModels, c.id)) {
      rejected.push({ model: c.id, reason: 'not_allowed', detail: 'not in allowed_models' });
      continue;
    }
    const cap = input.maxCompletionTokens;
    const need =
      input.promptTokens +
      (cap === undefined
        ? completion
        : c.maxOutputTokens !== undefined && c.maxOutputTokens < cap
          ? c.maxOutputTokens
          : cap);
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
    const hasG = gCell !== undefined && isGlobalCellUsable(gCell, cfg, pCell);
    readView(pCell, true, vp);
    readView(hasG ? gCell : undefined, true, vg);
    const catalogCost = catalogCostUsd(c, input.promptTokens, completion);
    const strength = cfg.catalogCostStrength;
    // A price per answer: what failed calls were billed is spread over the answers, as it is on the bill.
    const cost = blendObserved(
      catalogCost,
      vp[V_AVG_COST]!,
      vp[V_REQUESTS]!,
      vg[V_AVG_COST]!,
      vg[V_REQUESTS]!,
      strength,
    );
    // The ceiling is on this request: its own prompt at catalog prices, unless answers have cost more. The
    // history alone would let a long prompt through on the average of short ones.
    const requestCost = cost > catalogCost ? cost : catalogCost;
    if (cons.maxCostUsd !== undefined && requestCost > cons.maxCostUsd) {
      rejected.push({
        model: c.id,
        reason: 'over_budget',
        detail: `estimated ${requestCost.toPrecision(3)} USD > max ${cons.maxCostUsd}`,
      });
      continue;
    }
    // Last: a model is reported unhealthy only when it would otherwise serve the request, so that a failing
    // provider never hides that the request itself cannot be served (a prompt beyond every window, ...).
    if (cons.unhealthy && hasIn(cons.unhealthy, c.id)) {
      rejected.push({ model: c.id, reason: 'unhealthy', detail: `provider ${c.provider} is marked unhealthy` });
      continue;
    }
    const latency = blendObserved(
      c.typicalLatencyMs ?? 2000,
      vp[V_P50_LATENCY]!,
      vp[V_REQUESTS]!,
      vg[V_P50_LATENCY]!,
      vg[V_REQUESTS]!,
      strength,
    );
    const failureRate = blendObserved(0, vp[V_FAILURE]!, vp[V_CALLS]!, vg[V_FAILURE]!, vg[V_CALLS]!, strength);
    const at = count * STRIDE;
    // The global-only view's penalty: the account's own costs, latencies and failures left out too.
    if (vp[V_CALLS]! > 0) {
      f[at + F_COST_GLOBAL] = blendObserved(catalogCost, NaN, 0, vg[V_AVG_COST]!, vg[V_REQUESTS]!, strength);
      const latencyG = blendObserved(c.typicalLatencyMs ?? 2000, NaN, 0, vg[V_P50_LATENCY]!, vg[V_REQUESTS]!, strength);
      f[at + F_LOG_LATENCY_GLOBAL] = Math.log(latencyG > 1e-9 ? latencyG : 1e-9);
      f[at + F_FAILURE_GLOBAL] = blendObserved(0, NaN, 0, vg[V_FAILURE]!, vg[V_CALLS]!, strength);
    } else {
      f[at + F_COST_GLOBAL] = cost;
      f[at + F_LOG_LATENCY_GLOBAL] = Math.log(latency > 1e-9 ? latency : 1e-9);
      f[at + F_FAILURE_GLOBAL] = failureRate;
    }
    const gPool = lookup(pooledGlobal, c.id);
    const pPool = lookup(pooledPersonal, c.id);
    const poolCell = gPool && isGlobalCellUsable(gPool, cfg, pPool) ? gPool : pPool;
    const hasX = poolCell !== undefined;
    readView(poolCell, false, vx);
    const prior = priorQualityOf(c, input.queryType);
    const personalPool = hasX && poolCell === pPool;
    // The catalog level: a model's record over all query types, else its record in this type.
    const level = vx[V_MEAN] === vx[V_MEAN] ? vx : vg[V_MEAN] === vg[V_MEAN] ? vg : vp;
    const lvN = level[V_MEAN] === level[V_MEAN] && level[V_N]! > 0 ? level[V_N]! : 0;
    f[at + F_COST] = cost;
    f[at + F_LATENCY] = latency;
    f[at + F_LOG_LATENCY] = Math.log(latency > 1e-9 ? latency : 1e-9);
    f[at + F_FAILURE] = failureRate;
    f[at + F_PRIOR] = prior;
    f[at + F_LEVEL_N] = lvN;
    f[at + F_LEVEL_N_GLOBAL] = level !== vp && !personalPool ? lvN : 0;
    f[at + F_LEVEL_GAP] = lvN > 0 ? level[V_MEAN]! - prior : 0;
    if (!personalPool && hasX && pPool !== undefined) tasteGap(pPool, vx, cfg, f, at + F_TASTE);
    else f[at + F_TASTE] = NO_TASTE;
    f[at + F_PERSONAL_POOL] = personalPool ? 1 : 0;
    copyEvidence(vp, f, at + F_EVIDENCE + EVIDENCE_PERSONAL);
    copyEvidence(vg, f, at + F_EVIDENCE + EVIDENCE_GLOBAL);
    copyEvidence(vx, f, at + F_EVIDENCE + EVIDENCE_POOLED);
    models.push(c);
    count++;
  }
  if (count === 0) throw new NoEligibleModelError(rejected);
  centreTastes(f, count);
  // Catalog priors are guesses on their own scale; the level of the quality signals is learned from
  // the candidates that have a record. Global-only view: global records only.
  priorLevels(f, count, cfg.globalPriorStrength);
  let personalTotal = 0;
  for (let i = 0; i < count; i++) {
    const at = i * STRIDE;
    const priorI = f[at + F_PRIOR]!;
    const shift = f[at + F_LEVEL]!;
    const shiftG = f[at + F_LEVEL_GLOBAL]!;
    const e = i * ESTIMATE_SIZE;
    const personalPool = f[at + F_PERSONAL_POOL] === 1;
    blendInto(est, e, clamp01(priorI + shift), f, at + F_EVIDENCE, true, true, cfg, f[at + F_TASTE]!);
    if (personalPool || shift !== shiftG) {
      // The global-only view sees neither the account's own pool nor its effect on the prior level.
      const gOnly = s.globalOnly;
      blendInto(gOnly, 0, clamp01(priorI + shiftG), f, at + F_EVIDENCE, false, !personalPool, cfg, 0);
      est[e + EST_GLOBAL_MEAN] = gOnly[EST_MEAN]!;
      est[e + EST_GLOBAL_VARIANCE] = gOnly[EST_VARIANCE]!;
    }
    personalTotal += est[e + EST_N_PERSONAL]!;
  }
  for (let i = 0; i < count; i++) f[i * STRIDE + F_Z] = normal(input.rng);

  const lambdas = cfg.lambdas[input.preference];
  let maxCost = 0;
  let loLat = Infinity;
  let hiLat = -Infinity;
  let maxCostG = 0;
  let loLatG = Infinity;
  let hiLatG = -Infinity;
  for (let i = 0; i < count; i++) {
    const c = f[i * STRIDE + F_COST]!;
    const ll = f[i * STRIDE + F_LOG_LATENCY]!;
    if (c > maxCost) maxCost = c;
    if (ll < loLat) loLat = ll;
    if (ll > hiLat) hiLat = ll;
    const cG = f[i * STRIDE + F_COST_GLOBAL]!;
    const llG = f[i * STRIDE + F_LOG_LATENCY_GLOBAL]!;
    if (cG > maxCostG) maxCostG = cG;
    if (llG < loLatG) loLatG = llG;
    if (llG > hiLatG) hiLatG = llG;
  }
  const spanLat = Math.max(hiLat - loLat, MIN_LATENCY_SPAN);
  const spanLatG = Math.max(hiLatG - loLatG, MIN_LATENCY_SPAN);
  const scale = cfg.exploration.scale;
  const scored: ScoredCandidate[] = [];
  let bestIdx = 0;
  let bestGlobalIdx = 0;
  let bestU = -Infinity;
  let bestGlobalU = -Infinity;
  for (let i = 0; i < count; i++) {
    const at = i * STRIDE;
    const e = i * ESTIMATE_SIZE;
    const c = models[i]!;
    const cost = f[at + F_COST]!;
    const z = f[at + F_Z]!;
    const mean = est[e + EST_MEAN]!;
    const normCost = maxCost > 0 ? cost / maxCost : 0;
    const normLat = (f[at + F_LOG_LATENCY]! - loLat) / spanLat;
    const penalty = lambdas.cost * normCost + lambdas.latency * normLat + lambdas.failure * f[at + F_FAILURE]!;
    const sd = Math.sqrt(est[e + EST_VARIANCE]!);
    const sampled = mean + scale * sd * z - penalty;
    const penaltyG =
      lambdas.cost * (maxCostG > 0 ? f[at + F_COST_GLOBAL]! / maxCostG : 0) +
      lambdas.latency * ((f[at + F_LOG_LATENCY_GLOBAL]! - loLatG) / spanLatG) +
      lambdas.failure * f[at + F_FAILURE_GLOBAL]!;
    const sampledGlobal = est[e + EST_GLOBAL_MEAN]! + scale * Math.sqrt(est[e + EST_GLOBAL_VARIANCE]!) * z - penaltyG;
    if (sampled > bestU) {
      bestU = sampled;
      bestIdx = i;
    }
    if (sampledGlobal > bestGlobalU) {
      bestGlobalU = sampledGlobal;
      bestGlobalIdx = i;
    }
    scored.push({
      model: c.id,
      provider: c.provider,
      estimatedQuality: mean,
      globalQuality: est[e + EST_GLOBAL_MEAN]!,
      qualityStdDev: sd,
      estimatedCostUsd: cost,
      estimatedLatencyMs: f[at + F_LATENCY]!,
      utility: mean - penalty,
      sampledUtility: sampled,
      personalWeight: est[e + EST_PERSONAL_WEIGHT]!,
      evidence: est[e + EST_EVIDENCE]!,
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
    model: models[bestIdx]!.id,
    ranked,
    stage: stageFor(pw, cfg),
    personalWeight: pw,
    changedByPersonal: bestIdx !== bestGlobalIdx,
    globalOnlyModel: models[bestGlobalIdx]!.id,
    candidates: scored,
    rejected,
  };
}

/**
 * What the decision needs from a cell, read at the decision's instant, into `out` (see V_*). Every
 * figure the cell has no evidence for is NaN, as is everything when there is no cell.
 */
function readView(cell: CellSums | undefined, withLatency: boolean, out: Float64Array): void {
  if (cell === undefined) {
    out.fill(Number.NaN, 0, V_DECAY);
    return;
  }
  const decay = out[V_DECAY]!;
  const scale = cellResidue(cell, decay);
  const mean = qualityMean(cell, scale);
  const calls = cell.requests + cell.failures;
  const hasCalls = calls > scale && calls > 0;
  let p50 = Number.NaN;
  if (withLatency) {
    let total = 0;
    const h = cell.latencyHist;
    for (let i = 0; i < h.length; i++) total += h[i]!;
    if (total > scale && total > 0) p50 = histogramQuantile(h, 0.5, total);
  }
  out[V_N] = cell.n * decay;
  out[V_MEAN] = mean;
  out[V_VARIANCE] = mean === mean ? Math.max(0, cell.q2 / cell.n - mean * mean) : Number.NaN;
  out[V_REQUESTS] = cell.requests * decay;
  out[V_CALLS] = calls * decay;
  out[V_AVG_COST] = cell.requests > scale && cell.requests > 0 ? cell.costUsd / cell.requests : Number.NaN;
  out[V_FAILURE] = hasCalls ? cell.failures / calls : Number.NaN;
  out[V_P50_LATENCY] = p50;
}

/** A view's quality evidence (n, mean, variance) into `f` at `at`. */
function copyEvidence(view: Float64Array, f: Float64Array, at: number): void {
  f[at] = view[V_N]!;
  f[at + 1] = view[V_MEAN]!;
  f[at + 2] = view[V_VARIANCE]!;
}

/** The cell's mean quality, NaN without quality evidence (decay cancels in the ratio). */
function qualityMean(cell: CellSums, scale: number): number {
  return cell.n > scale && cell.n > 0 ? cell.q / cell.n : Number.NaN;
}

/**
 * An observed average (NaN when unknown) of the personal and the global cell, each weighted by its
 * count, blended with a catalog estimate worth `strength` pseudo-observations.
 */
function blendObserved(catalog: number, px: number, pn: number, gx: number, gn: number, strength: number): number {
  let num = catalog * strength;
  let den = strength;
  if (px === px && pn > 0) {
    num += px * pn;
    den += pn;
  }
  if (gx === gx && gn > 0) {
    num += gx * gn;
    den += gn;
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
 * close its prior is (k0 = globalPriorStrength); a candidate's level (F_LEVEL; F_LEVEL_GLOBAL from global
 * records only) is the best of these among its neighbours. The best, not
 * the mean: an untried model of a tier may be as good as the tier's best tried model, and with the
 * mean the first poor model of a tier (claude-1 tried before any GPT-4) pulled its untried siblings
 * below a mid-tier model for the rest of a replay.
 */
function priorLevels(f: Float64Array, count: number, k0: number): void {
  for (let i = 0; i < count; i++) {
    const prior = f[i * STRIDE + F_PRIOR]!;
    let shift = NO_LEVEL;
    let shiftG = NO_LEVEL;
    for (let j = 0; j < count; j++) {
      const o = j * STRIDE;
      const lvN = f[o + F_LEVEL_N]!;
      if (lvN === 0) continue;
      const d = f[o + F_PRIOR]! - prior;
      const kern = 1 - (d < 0 ? -d : d) / PRIOR_LEVEL_BANDWIDTH;
      if (kern <= 0) continue;
      const gap = f[o + F_LEVEL_GAP]!;
      const weight = kern * lvN;
      const level = (weight * gap) / (weight + k0);
      if (level > shift) shift = level;
      const lvNG = f[o + F_LEVEL_N_GLOBAL]!;
      if (lvNG > 0) {
        const weightG = kern * lvNG;
        const levelG = (weightG * gap) / (weightG + k0);
        if (levelG > shiftG) shiftG = levelG;
      }
    }
    f[i * STRIDE + F_LEVEL] = shift === NO_LEVEL ? 0 : shift;
    f[i * STRIDE + F_LEVEL_GLOBAL] = shiftG === NO_LEVEL ? 0 : shiftG;
  }
}

const NO_LEVEL = -Infinity;

/** A candidate without an account taste (NaN, so that a gap of exactly 0 still counts as one). */
const NO_TASTE = Number.NaN;

/**
 * An account's taste for a model: how much better or worse the account's signals (ratings above all)
 * find the model over all query types than everyone's do, shrunk toward 0 by the personal prior
 * strength k. A preference for a model's style shows in every type, so the all-types record of a few
 * dozen requests says more about it than the account's thin per-type cells; the per-type cell is
 * blended on top (blendInto). Written to `out` at `at`; NO_TASTE without quality evidence on either
 * side. `globalPool` is the view of the model's global pool (its mean and the decision's decay).
 */
function tasteGap(
  personalPool: CellSums,
  globalPool: Float64Array,
  cfg: ScoringConfig,
  out: Float64Array,
  at: number,
): void {
  // Only the mean and the evidence of the account's pool are needed: no full view on this hot path.
  const mean = qualityMean(personalPool, cellResidue(personalPool, globalPool[V_DECAY]!));
  const globalMean = globalPool[V_MEAN]!;
  if (!(mean === mean) || !(globalMean === globalMean)) {
    out[at] = NO_TASTE;
    return;
  }
  const n = personalPool.n * globalPool[V_DECAY]!;
  out[at] = ((mean - globalMean) * n) / (n + cfg.priorStrength);
}

/**
 * Tastes are relative: subtract their mean over the candidates that have one, so that what lifts or
 * lowers every model alike for an account (its mix of query types, harder prompts, a stricter rater)
 * is not read as a preference for one model. Candidates without one get 0.
 */
function centreTastes(f: Float64Array, count: number): void {
  let sum = 0;
  let tasted = 0;
  for (let i = 0; i < count; i++) {
    const t = f[i * STRIDE + F_TASTE]!;
    if (t !== t) continue;
    sum += t;
    tasted++;
  }
  const mean = tasted > 0 ? sum / tasted : 0;
  for (let i = 0; i < count; i++) {
    const t = f[i * STRIDE + F_TASTE]!;
    f[i * STRIDE + F_TASTE] = t === t ? t - mean : 0;
  }
}

/** Candidates whose catalog priors differ by less than this inform each other's prior level (triangular kernel). */
const PRIOR_LEVEL_BANDWIDTH = 0.1;

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

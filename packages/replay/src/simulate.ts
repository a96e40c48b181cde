import type {
  CandidateModel,
  CellSums,
  GlobalCellSums,
  Preference,
  QueryType,
  Rng,
  ScoringConfig,
} from '@routeplex/scoring';
import {
  addCells,
  beta as betaDraw,
  classify,
  contributionCell,
  decide,
  defaultScoringConfig,
  estimateTokens,
  globalCell,
  mulberry32,
  qualitySignals,
  ratingToQuality,
  seedFromString,
} from '@routeplex/scoring';
import type { ModelPrice, ReplayRow } from './dataset.js';

export interface ReplayOptions {
  preference: Preference;
  /** Fraction of requests that receive a rating (derived from the recorded quality). */
  feedbackRate: number;
  /** Simulated accounts; with more than one, each has its own taste (see accountTaste). */
  accounts: number;
  /** How many times the data set is streamed (each pass in a new seeded order). */
  passes: number;
  seed: number;
  /** Number of windows of the learning curve. */
  windows: number;
  config: ScoringConfig;
  /** Spread of the per-account taste shift (uniform in [-tasteSpread, +tasteSpread]). */
  tasteSpread: number;
}

export const DEFAULT_REPLAY_OPTIONS: ReplayOptions = {
  preference: 'quality',
  feedbackRate: 0.3,
  accounts: 1,
  passes: 3,
  seed: 42,
  windows: 10,
  config: defaultScoringConfig,
  tasteSpread: 0.2,
};

/** What every policy sees for one model on one prompt, computed once. */
interface PreparedOutcome {
  model: string;
  quality: number;
  costUsd: number;
  latencyMs: number;
  completionTokens: number;
  heuristic: number;
}

export interface PreparedRow {
  id: string;
  queryType: QueryType;
  promptTokens: number;
  outcomes: PreparedOutcome[];
}

/** Simulated latency when the replay file has none: 400 ms plus 20 ms per completion token. */
export function simulatedLatencyMs(completionTokens: number): number {
  return 400 + 20 * completionTokens;
}

/**
 * Classify each prompt and compute each outcome's cost, latency and heuristic signal with the
 * production code (classify, qualitySignals). Cost falls back to catalog prices x tokens.
 */
export function prepareRows(rows: readonly ReplayRow[], prices: readonly ModelPrice[]): PreparedRow[] {
  const priceOf = new Map(prices.map((p) => [p.id, p]));
  return rows.map((r) => {
    const { queryType } = classify(r.messages);
    const promptText = r.messages.map((m) => m.content).join('\n');
    const promptTokens = estimateTokens(promptText);
    const outcomes = Object.entries(r.outcomes).map(([model, o]) => {
      const completionTokens = o.completion_tokens ?? estimateTokens(o.response ?? '');
      const p = priceOf.get(model);
      const costUsd =
        o.cost_usd ?? (p ? (promptTokens * p.input_per_mtok + completionTokens * p.output_per_mtok) / 1e6 : 0);
      // The replay format records no finish reason: the signal infers truncation from the text.
      const heuristic = qualitySignals({
        queryType,
        responseText: o.response ?? '',
        promptTokens,
        completionTokens,
      }).score;
      return {
        model,
        quality: o.quality,
        costUsd,
        latencyMs: o.latency_ms ?? simulatedLatencyMs(completionTokens),
        completionTokens,
        heuristic,
      };
    });
    return { id: r.id, queryType, promptTokens, outcomes };
  });
}

/**
 * Account taste: a per-model quality shift, uniform in [-spread, +spread], drawn from a stream
 * seeded by (seed, account, model) so that it is the same in every run with the same seed. Account
 * "a0" of a single-account run has no taste (the recorded qualities are used as they are).
 */
export function accountTaste(seed: number, account: number, model: string, spread: number, accounts: number): number {
  if (accounts <= 1) return 0;
  const rng = mulberry32(seedFromString(`${seed}:${account}:${model}`));
  return (rng() * 2 - 1) * spread;
}

export interface StreamItem {
  row: PreparedRow;
  account: number;
  rated: boolean;
  /** The rating the user gives if rated (1..5), derived from the account's quality. */
  ratingScore: number;
  /** Account-specific quality per model for this request. */
  quality: Map<string, number>;
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/** The request stream: passes over the data in seeded order, each request with its account and rating decision. */
export function buildStream(rows: readonly PreparedRow[], opt: ReplayOptions): StreamItem[] {
  const rng = mulberry32(opt.seed);
  const tastes = new Map<string, number>();
  const taste = (a: number, m: string) => {
    const key = `${a}\u0000${m}`;
    let t = tastes.get(key);
    if (t === undefined) {
      t = accountTaste(opt.seed, a, m, opt.tasteSpread, opt.accounts);
      tastes.set(key, t);
    }
    return t;
  };
  const out: StreamItem[] = [];
  for (let p = 0; p < opt.passes; p++) {
    const order = rows.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (const idx of order) {
      const row = rows[idx]!;
      const account = Math.floor(rng() * Math.max(1, opt.accounts));
      const rated = rng() < opt.feedbackRate;
      const quality = new Map(row.outcomes.map((o) => [o.model, clamp01(o.quality + taste(account, o.model))]));
      out.push({ row, account, rated, ratingScore: 0, quality });
    }
  }
  return out;
}

/** 1..5 rating a user gives an answer of quality q (nearest score). */
export function ratingFromQuality(q: number): number {
  return Math.min(5, Math.max(1, Math.round(1 + 4 * q)));
}

/** A routing policy under replay. */
export interface Policy {
  name: string;
  choose(item: StreamItem, step: number): string;
  observe(item: StreamItem, model: string, step: number): void;
}

export interface CatalogEntry extends CandidateModel {
  priorQuality: number;
  tier: 1 | 2 | 3;
}

/**
 * The only prior knowledge a catalog has without traffic: a quality tier (1 budget, 2 mid, 3
 * frontier), as LiteLLM's adaptive router configures it (`quality_tier`). The replay derives it from
 * list prices alone (output price >= $15 per 1M tokens: frontier; >= $1.5: mid; else budget), never
 * from recorded qualities; every learning policy gets the same tier prior.
 */
export function tierFromPrice(outputPerMTok: number): 1 | 2 | 3 {
  return outputPerMTok >= 15 ? 3 : outputPerMTok >= 1.5 ? 2 : 1;
}

export const TIER_PRIOR_QUALITY: Record<1 | 2 | 3, number> = { 1: 0.45, 2: 0.55, 3: 0.65 };

export function catalogFromPrices(
  prices: readonly ModelPrice[],
  rows: readonly PreparedRow[],
): Map<string, CatalogEntry> {
  const typical = new Map<string, number[]>();
  for (const r of rows)
    for (const o of r.outcomes) (typical.get(o.model) ?? typical.set(o.model, []).get(o.model)!).push(o.latencyMs);
  const out = new Map<string, CatalogEntry>();
  const ids = new Set([...prices.map((p) => p.id), ...typical.keys()]);
  for (const id of ids) {
    const p = prices.find((x) => x.id === id);
    const tier = tierFromPrice(p?.output_per_mtok ?? 0);
    out.set(id, {
      tier,
      id,
      provider: p?.provider ?? 'unknown',
      inputPerMTok: p?.input_per_mtok ?? 0,
      outputPerMTok: p?.output_per_mtok ?? 0,
      contextWindow: 1_000_000,
      capabilities: [],
      priorQuality: TIER_PRIOR_QUALITY[tier],
      typicalLatencyMs: 2000,
    });
  }
  return out;
}

const START_MS = Date.UTC(2026, 0, 1);
const STEP_MS = 60_000;

function timeOf(step: number): number {
  return START_MS + step * STEP_MS;
}

/** The feedback a policy learns from: a rating (as quality, weighted) when rated, the heuristic otherwise. */
export function feedbackOf(item: StreamItem, model: string, useRatings: boolean): { quality: number; rated: boolean } {
  const o = item.row.outcomes.find((x) => x.model === model)!;
  if (useRatings && item.rated)
    return { quality: ratingToQuality(ratingFromQuality(item.quality.get(model)!), undefined)!, rated: true };
  return { quality: o.heuristic, rated: false };
}

type CellMap = Map<string, CellSums>;

/**
 * Global cells as K-anonymity lets an account without personal cells see them: decide() leaves the asking
 * account out of a cell's K contributors through its own cell, which global-only learning does not pass, so
 * the account is taken out of the counts here (else the baseline would see cells that routing may not).
 */
function othersOnly(
  cells: ReadonlyMap<string, GlobalCellSums> | undefined,
  accounts: ReadonlyMap<string, ReadonlySet<number>>,
  keyPrefix: string,
  account: number,
): Map<string, GlobalCellSums> | undefined {
  if (cells === undefined) return undefined;
  const out = new Map<string, GlobalCellSums>();
  for (const [model, cell] of cells)
    out.set(model, accounts.get(keyPrefix + model)?.has(account) ? globalCell(cell, cell.contributors - 1) : cell);
  return out;
}

/**
 * routeplex under replay: the production decide() over per-account and global cells that are fed
 * with production contribution cells. `personal: false` is global-only learning (same signals, no
 * per-account cells).
 */
export function routeplexPolicy(
  name: string,
  catalog: Map<string, CatalogEntry>,
  opt: ReplayOptions,
  flags: { useRatings: boolean; personal: boolean },
): Policy {
  const cfg = opt.config;
  const rng: Rng = mulberry32(seedFromString(`${opt.seed}:${name}`));
  const personal = new Map<string, CellMap>(); // key account:type
  const global = new Map<QueryType, Map<string, GlobalCellSums>>();
  const accountsWith = new Map<string, Set<number>>(); // type:model -> accounts
  // The same cells summed over all query types (the prior of each per-type estimate).
  const personalPool = new Map<number, CellMap>();
  const globalPool = new Map<string, GlobalCellSums>();
  const poolAccounts = new Map<string, Set<number>>();
  return {
    name,
    choose(item, step) {
      const type = item.row.queryType;
      const d = decide({
        candidates: item.row.outcomes.map((o) => catalog.get(o.model)!),
        queryType: type,
        promptTokens: item.row.promptTokens,
        preference: opt.preference,
        personal: flags.personal ? personal.get(`${item.account}:${type}`) : undefined,
        global: flags.personal
          ? global.get(type)
          : othersOnly(global.get(type), accountsWith, `${type}:`, item.account),
        pooled: {
          personal: flags.personal ? personalPool.get(item.account) : undefined,
          global: flags.personal ? globalPool : othersOnly(globalPool, poolAccounts, '', item.account),
        },
        config: cfg,
        nowMs: timeOf(step),
        rng,
      });
      return d.model;
    },
    observe(item, model, step) {
      const type = item.row.queryType;
      const o = item.row.outcomes.find((x) => x.model === model)!;
      const fb = feedbackOf(item, model, flags.useRatings);
      const cell = contributionCell(
        {
          quality: fb.quality,
          weight: fb.rated ? cfg.ratingWeight : 1,
          rated: fb.rated,
          latencyMs: o.latencyMs,
          costUsd: o.costUsd,
          atMs: timeOf(step),
        },
        cfg,
      );
      const pk = `${item.account}:${type}`;
      const pm = personal.get(pk) ?? new Map<string, CellSums>();
      personal.set(pk, pm);
      const prev = pm.get(model);
      pm.set(model, prev ? addCells(prev, cell) : cell);
      const key = `${type}:${model}`;
      const set = accountsWith.get(key) ?? new Set<number>();
      set.add(item.account);
      accountsWith.set(key, set);
      const gm = global.get(type) ?? new Map<string, GlobalCellSums>();
      global.set(type, gm);
      const g = gm.get(model);
      gm.set(model, globalCell(g ? addCells(g, cell) : cell, set.size));
      const pp = personalPool.get(item.account) ?? new Map<string, CellSums>();
      personalPool.set(item.account, pp);
      const ppc = pp.get(model);
      pp.set(model, ppc ? addCells(ppc, cell) : cell);
      const pa = poolAccounts.get(model) ?? new Set<number>();
      pa.add(item.account);
      poolAccounts.set(model, pa);
      const gp = globalPool.get(model);
      globalPool.set(model, globalCell(gp ? addCells(gp, cell) : cell, pa.size));
    },
  };
}

/**
 * The peer baseline, reproducing LiteLLM's adaptive router as documented: Beta-Bernoulli Thompson
 * sampling per (request type, model), prior mass 10 centred on the catalog tier prior, at most 200 observations a cell
 * (older evidence is scaled down to keep the cap), no decay, no per-account learning, no latency
 * term. It learns from the same feedback as routeplex (fractional successes), and weighs cost with
 * the same preference weight as routeplex.
 */
export function litellmPolicy(
  name: string,
  catalog: Map<string, CatalogEntry>,
  opt: ReplayOptions,
  useRatings: boolean,
): Policy {
  const rng = mulberry32(seedFromString(`${opt.seed}:${name}`));
  const cells = new Map<string, { a: number; b: number }>();
  const MASS = 10;
  const CAP = 200;
  const lambdaCost = opt.config.lambdas[opt.preference].cost;
  return {
    name,
    choose(item) {
      const costs = item.row.outcomes.map((o) => {
        const c = catalog.get(o.model)!;
        return (item.row.promptTokens * c.inputPerMTok + 500 * c.outputPerMTok) / 1e6;
      });
      const logs = costs.map((c) => Math.log(Math.max(c, 1e-9)));
      const lo = Math.min(...logs);
      const span = Math.max(...logs) - lo || 1;
      let best = '';
      let bestScore = -Infinity;
      item.row.outcomes.forEach((o, i) => {
        const s = cells.get(`${item.row.queryType}:${o.model}`) ?? { a: 0, b: 0 };
        const prior = catalog.get(o.model)!.priorQuality;
        const theta = betaDraw(rng, MASS * prior + s.a, MASS * (1 - prior) + s.b);
        const score = theta - lambdaCost * ((logs[i]! - lo) / span);
        if (score > bestScore) {
          bestScore = score;
          best = o.model;
        }
      });
      return best;
    },
    observe(item, model) {
      const key = `${item.row.queryType}:${model}`;
      const s = cells.get(key) ?? { a: 0, b: 0 };
      const { quality } = feedbackOf(item, model, useRatings);
      s.a += quality;
      s.b += 1 - quality;
      const n = s.a + s.b;
      if (n > CAP) {
        s.a *= CAP / n;
        s.b *= CAP / n;
      }
      cells.set(key, s);
    },
  };
}

export function randomPolicy(name: string, seed: number): Policy {
  const rng = mulberry32(seedFromString(`${seed}:${name}`));
  return {
    name,
    choose(item) {
      return item.row.outcomes[Math.floor(rng() * item.row.outcomes.length)]!.model;
    },
    observe() {},
  };
}

/** A fixed choice per request computed in hindsight (best single, best per type, per-prompt oracle). */
export function hindsightPolicy(name: string, pick: (item: StreamItem) => string): Policy {
  return { name, choose: pick, observe() {} };
}

export interface PolicyResult {
  name: string;
  quality: number[];
  cost: number[];
  latency: number[];
  chosen: string[];
}

export function runPolicy(policy: Policy, stream: readonly StreamItem[]): PolicyResult {
  const res: PolicyResult = { name: policy.name, quality: [], cost: [], latency: [], chosen: [] };
  stream.forEach((item, step) => {
    const model = policy.choose(item, step);
    const o = item.row.outcomes.find((x) => x.model === model);
    if (!o) throw new Error(`policy ${policy.name} chose ${model}, which has no outcome for ${item.row.id}`);
    res.quality.push(item.quality.get(model)!);
    res.cost.push(o.costUsd);
    res.latency.push(o.latencyMs);
    res.chosen.push(model);
    policy.observe(item, model, step);
  });
  return res;
}

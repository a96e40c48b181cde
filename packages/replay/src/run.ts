import type { QueryType } from '@routeplex/scoring';
import { QUERY_TYPES, spearman } from '@routeplex/scoring';
import type { ModelPrice, ReplayRow } from './dataset.js';
import type { PolicyResult, PreparedRow, ReplayOptions, StreamItem } from './simulate.js';
import {
  DEFAULT_REPLAY_OPTIONS,
  buildStream,
  catalogFromPrices,
  hindsightPolicy,
  litellmPolicy,
  prepareRows,
  randomPolicy,
  routeplexPolicy,
  runPolicy,
} from './simulate.js';

export interface PolicySummary {
  name: string;
  meanQuality: number;
  pctOfOracle: number;
  meanCostUsd: number;
  costVsBestSingle: number;
  meanLatencyMs: number;
  /** Mean of (per-type oracle quality - policy quality) over the stream. */
  regretVsTypeOracle: number;
  secondHalfQuality: number;
  secondHalfCostUsd: number;
  /** Mean quality per window of requests, in stream order. */
  curve: number[];
}

export interface SingleModelPoint {
  model: string;
  meanQuality: number;
  meanCostUsd: number;
}

export interface TargetCheck {
  name: string;
  met: boolean;
  detail: string;
}

export interface ReplayReport {
  options: Omit<ReplayOptions, 'config'>;
  requests: number;
  prompts: number;
  bestSingleModel: string;
  typeCounts: Partial<Record<QueryType, number>>;
  policies: PolicySummary[];
  singles: SingleModelPoint[];
  spearmanOverall: number | undefined;
  spearmanByType: Partial<Record<QueryType, { n: number; rho: number | undefined }>>;
  targets: TargetCheck[];
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((s, v) => s + v, 0) / xs.length;
}

/**
 * The best quality that mixing single models at random reaches at a mean cost of at most `cost`:
 * the upper concave hull of the single models' (cost, quality) points, interpolated at `cost`, and
 * flat (the best single model's quality) beyond the best model's cost, since spending more on a worse
 * model is never needed. Below the cheapest model, the cheapest model's quality.
 */
export function hullQualityAt(points: readonly SingleModelPoint[], cost: number): number {
  const pts = [...points].sort((a, b) => a.meanCostUsd - b.meanCostUsd);
  const hull: SingleModelPoint[] = [];
  for (const p of pts) {
    while (hull.length >= 2) {
      const a = hull[hull.length - 2]!;
      const b = hull[hull.length - 1]!;
      const cross =
        (b.meanCostUsd - a.meanCostUsd) * (p.meanQuality - a.meanQuality) -
        (b.meanQuality - a.meanQuality) * (p.meanCostUsd - a.meanCostUsd);
      if (cross >= 0) hull.pop();
      else break;
    }
    hull.push(p);
  }
  // Keep the hull up to its best point: the frontier never falls as the budget grows.
  let top = 0;
  for (let i = 1; i < hull.length; i++) if (hull[i]!.meanQuality > hull[top]!.meanQuality) top = i;
  hull.length = top + 1;
  if (cost <= hull[0]!.meanCostUsd) return hull[0]!.meanQuality;
  for (let i = 1; i < hull.length; i++) {
    const a = hull[i - 1]!;
    const b = hull[i]!;
    if (cost <= b.meanCostUsd)
      return (
        a.meanQuality + ((b.meanQuality - a.meanQuality) * (cost - a.meanCostUsd)) / (b.meanCostUsd - a.meanCostUsd)
      );
  }
  return Math.max(...hull.map((h) => h.meanQuality));
}

/** Run every policy side by side over the same stream and compute the report. */
export function runReplay(
  rows: readonly ReplayRow[],
  prices: readonly ModelPrice[],
  options: Partial<ReplayOptions> = {},
): ReplayReport {
  const opt: ReplayOptions = { ...DEFAULT_REPLAY_OPTIONS, ...options };
  const prepared = prepareRows(rows, prices);
  const stream = buildStream(prepared, opt);
  const catalog = catalogFromPrices(prices, prepared);

  // Hindsight references over the stream (account-specific qualities).
  const models = [...new Set(prepared.flatMap((r) => r.outcomes.map((o) => o.model)))];
  const agg = new Map<string, { q: number; c: number; n: number }>();
  const typeAgg = new Map<string, { q: number; n: number }>();
  for (const it of stream) {
    for (const o of it.row.outcomes) {
      const a = agg.get(o.model) ?? { q: 0, c: 0, n: 0 };
      a.q += it.quality.get(o.model)!;
      a.c += o.costUsd;
      a.n++;
      agg.set(o.model, a);
      const tk = `${it.row.queryType}:${o.model}`;
      const t = typeAgg.get(tk) ?? { q: 0, n: 0 };
      t.q += it.quality.get(o.model)!;
      t.n++;
      typeAgg.set(tk, t);
    }
  }
  const singles: SingleModelPoint[] = models.map((m) => ({
    model: m,
    meanQuality: agg.get(m)!.q / agg.get(m)!.n,
    meanCostUsd: agg.get(m)!.c / agg.get(m)!.n,
  }));
  const ranking = [...singles].sort((a, b) => b.meanQuality - a.meanQuality).map((s) => s.model);
  const bestSingle = ranking[0]!;
  const firstAvailable = (item: StreamItem, order: readonly string[]) => order.find((m) => item.quality.has(m))!;
  const typeRanking = new Map<QueryType, string[]>();
  for (const t of QUERY_TYPES) {
    const order = models
      .filter((m) => typeAgg.has(`${t}:${m}`))
      .sort(
        (a, b) =>
          typeAgg.get(`${t}:${b}`)!.q / typeAgg.get(`${t}:${b}`)!.n -
          typeAgg.get(`${t}:${a}`)!.q / typeAgg.get(`${t}:${a}`)!.n,
      );
    if (order.length > 0) typeRanking.set(t, order);
  }
  const typeOracle = (item: StreamItem) => firstAvailable(item, typeRanking.get(item.row.queryType) ?? ranking);
  const oracle = (item: StreamItem) => [...item.quality.entries()].sort((a, b) => b[1] - a[1])[0]![0];

  const R = opt.feedbackRate;
  const policies = [
    randomPolicy('random', opt.seed),
    hindsightPolicy(`best single (${bestSingle})`, (it) => firstAvailable(it, ranking)),
    hindsightPolicy('best per type (hindsight)', typeOracle),
    hindsightPolicy('per-prompt oracle', oracle),
    litellmPolicy(`litellm-style (ratings ${R})`, catalog, opt, true),
    routeplexPolicy('routeplex (heuristic only)', catalog, opt, { useRatings: false, personal: true }),
    routeplexPolicy(`routeplex (ratings ${R})`, catalog, opt, { useRatings: true, personal: true }),
  ];
  if (opt.accounts > 1)
    policies.push(
      routeplexPolicy(`routeplex global-only (ratings ${R})`, catalog, opt, { useRatings: true, personal: false }),
    );

  const results: PolicyResult[] = policies.map((p) => runPolicy(p, stream));
  const oracleQ = results[3]!.quality;
  const typeOracleQ = results[2]!.quality;
  const bestSingleRes = results[1]!;
  const half = Math.floor(stream.length / 2);
  const win = Math.max(1, Math.ceil(stream.length / opt.windows));
  const summaries: PolicySummary[] = results.map((r) => ({
    name: r.name,
    meanQuality: mean(r.quality),
    pctOfOracle: mean(r.quality) / mean(oracleQ),
    meanCostUsd: mean(r.cost),
    costVsBestSingle: mean(r.cost) / mean(bestSingleRes.cost),
    meanLatencyMs: mean(r.latency),
    regretVsTypeOracle: mean(typeOracleQ) - mean(r.quality),
    secondHalfQuality: mean(r.quality.slice(half)),
    secondHalfCostUsd: mean(r.cost.slice(half)),
    curve: Array.from({ length: Math.ceil(stream.length / win) }, (_, w) =>
      mean(r.quality.slice(w * win, (w + 1) * win)),
    ),
  }));

  // Heuristic signal vs recorded quality, over every (prompt, model) pair.
  const hx: number[] = [];
  const qy: number[] = [];
  const byType = new Map<QueryType, { h: number[]; q: number[] }>();
  for (const r of prepared) {
    for (const o of r.outcomes) {
      hx.push(o.heuristic);
      qy.push(o.quality);
      const t = byType.get(r.queryType) ?? { h: [], q: [] };
      t.h.push(o.heuristic);
      t.q.push(o.quality);
      byType.set(r.queryType, t);
    }
  }
  const spearmanByType: ReplayReport['spearmanByType'] = {};
  for (const [t, v] of byType) spearmanByType[t] = { n: v.h.length, rho: spearman(v.h, v.q) };
  const spearmanOverall = spearman(hx, qy);

  const typeCounts: Partial<Record<QueryType, number>> = {};
  for (const r of prepared) typeCounts[r.queryType] = (typeCounts[r.queryType] ?? 0) + 1;

  const byName = (prefix: string) => summaries.find((s) => s.name.startsWith(prefix))!;
  const rp = byName('routeplex (ratings');
  const ll = byName('litellm-style');
  const bs = byName('best single');
  const targets: TargetCheck[] = [];
  if (opt.preference === 'quality') {
    targets.push({
      name: `regret vs per-type oracle <= 1/2 of the LiteLLM-style baseline (ratings ${R})`,
      met: rp.regretVsTypeOracle <= ll.regretVsTypeOracle / 2,
      detail: `routeplex ${rp.regretVsTypeOracle.toFixed(4)} vs baseline ${ll.regretVsTypeOracle.toFixed(4)} (half: ${(ll.regretVsTypeOracle / 2).toFixed(4)})`,
    });
    targets.push({
      name: 'second-half quality >= best single model in hindsight (same requests)',
      met: rp.secondHalfQuality >= bs.secondHalfQuality,
      detail: `routeplex ${rp.secondHalfQuality.toFixed(4)} vs best single ${bs.secondHalfQuality.toFixed(4)}`,
    });
  }
  if (opt.preference === 'balanced') {
    const line = hullQualityAt(singles, rp.meanCostUsd);
    targets.push({
      name: 'balanced: quality above the single-model frontier at the same mean cost (whole stream)',
      met: rp.meanQuality > line,
      detail: `routeplex ${rp.meanQuality.toFixed(4)} at $${rp.meanCostUsd.toFixed(5)}; frontier of single models there ${line.toFixed(4)}`,
    });
    const line2 = hullQualityAt(singles, rp.secondHalfCostUsd);
    targets.push({
      name: 'balanced: the same over the second half of the stream (after learning)',
      met: rp.secondHalfQuality > line2,
      detail: `routeplex ${rp.secondHalfQuality.toFixed(4)} at $${rp.secondHalfCostUsd.toFixed(5)}; frontier there ${line2.toFixed(4)}`,
    });
  }
  if (opt.accounts > 1) {
    const go = byName('routeplex global-only');
    targets.push({
      name: `personal learning beats global-only on the accounts' own tastes (${opt.accounts} accounts)`,
      met: rp.meanQuality > go.meanQuality,
      detail: `personal ${rp.meanQuality.toFixed(4)} (second half ${rp.secondHalfQuality.toFixed(4)}) vs global-only ${go.meanQuality.toFixed(4)} (second half ${go.secondHalfQuality.toFixed(4)})`,
    });
  }
  targets.push({
    name: 'heuristic signal: Spearman with recorded quality >= 0.3',
    met: (spearmanOverall ?? 0) >= 0.3,
    detail: `rho = ${spearmanOverall?.toFixed(3)} over ${hx.length} (prompt, model) pairs`,
  });

  const { config: _config, ...rest } = opt;
  return {
    options: rest,
    requests: stream.length,
    prompts: prepared.length,
    bestSingleModel: bestSingle,
    typeCounts,
    policies: summaries,
    singles,
    spearmanOverall,
    spearmanByType,
    targets,
  };
}

export type { PreparedRow };

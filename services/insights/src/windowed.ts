import type { insightsV1 } from '@routeplex/contracts';
import { queryTypeToProto } from '@routeplex/learning';
import { Z95, isQueryType, readCell, type QueryType, type ScoringConfig } from '@routeplex/scoring';
import type { AccountCell, ListedEntry, Store } from '@routeplex/store';
import { sortModelStats } from './insights.js';

/**
 * Exact statistics over the entries of a time window. The store keeps no per-window aggregate, so this
 * pages through the account's entries newest first and stops at the window's start: its cost grows with
 * the number of entries in the window, unlike the dashboard, which reads only cells.
 */

const PAGE_SIZE = 1000;

interface Accumulator {
  queryType: QueryType;
  model: string;
  provider: string;
  requests: number;
  ratings: number;
  /** Σ w, Σ w q, Σ w q² with w = rating weight for a rated request and 1 for a heuristic signal, as in the cells. */
  n: number;
  q: number;
  q2: number;
  cost: number;
  latencies: number[];
}

/** Linear interpolation between closest ranks (the R-7 / NumPy default definition). */
export function quantile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

export function accumulateEntries(
  entries: Iterable<ListedEntry>,
  ratingWeight: number,
  into = new Map<string, Accumulator>(),
): Map<string, Accumulator> {
  for (const e of entries) {
    // Selections produced no answer: nothing to measure.
    if (e.kind !== 'completion' || e.heuristicQuality === null || !isQueryType(e.queryType)) continue;
    const key = `${e.queryType}\u0000${e.model}`;
    let acc = into.get(key);
    if (acc === undefined) {
      acc = {
        queryType: e.queryType,
        model: e.model,
        provider: e.provider,
        requests: 0,
        ratings: 0,
        n: 0,
        q: 0,
        q2: 0,
        cost: 0,
        latencies: [],
      };
      into.set(key, acc);
    }
    const w = e.rating !== null ? ratingWeight : 1;
    const quality = e.rating !== null ? e.rating.quality : e.heuristicQuality;
    acc.requests += 1;
    if (e.rating !== null) acc.ratings += 1;
    acc.n += w;
    acc.q += w * quality;
    acc.q2 += w * quality * quality;
    acc.cost += e.costUsd;
    acc.latencies.push(e.latencyMs);
  }
  return into;
}

/**
 * Rows of exact window statistics. Entries record only answered requests, so the failure rate of a row is
 * the decayed one of the model's cell (failed attempts exist only there).
 */
export function windowRows(
  accumulators: Iterable<Accumulator>,
  cells: readonly AccountCell[],
  nowMs: number,
  scoring: ScoringConfig,
): insightsV1.ModelStats[] {
  const rows: insightsV1.ModelStats[] = [];
  for (const acc of accumulators) {
    const sorted = acc.latencies.sort((a, b) => a - b);
    const mean = acc.q / acc.n;
    const variance = Math.max(0, acc.q2 / acc.n - mean * mean);
    const half =
      acc.requests >= 2 ? Z95 * Math.sqrt((variance * acc.requests) / (acc.requests - 1) / acc.requests) : 0.5;
    const cell = cells.find((c) => c.queryType === acc.queryType && c.model === acc.model);
    rows.push({
      queryType: queryTypeToProto(acc.queryType),
      model: acc.model,
      provider: acc.provider,
      requestCount: String(acc.requests),
      ratingCount: String(acc.ratings),
      avgQuality: mean,
      qualityInterval: half,
      latencyP50Ms: quantile(sorted, 0.5),
      latencyP95Ms: quantile(sorted, 0.95),
      avgCostUsd: acc.cost / acc.requests,
      failureRate: cell === undefined ? 0 : (readCell(cell, nowMs, scoring).failureRate ?? 0),
    });
  }
  return sortModelStats(rows);
}

/** Exact per-model statistics of the caller's requests made at or after `since`. */
export async function windowedModelStats(
  store: Pick<Store, 'listEntries' | 'loadAccountCells'>,
  accountId: string,
  since: Date,
  queryType: QueryType | undefined,
  nowMs: number,
  scoring: ScoringConfig,
  signal?: AbortSignal,
): Promise<insightsV1.ModelStats[]> {
  const accumulators = new Map<string, Accumulator>();
  let pageToken: string | undefined;
  do {
    signal?.throwIfAborted();
    const page = await store.listEntries(accountId, {
      pageSize: PAGE_SIZE,
      since,
      ...(queryType !== undefined ? { queryType } : {}),
      ...(pageToken !== undefined ? { pageToken } : {}),
    });
    accumulateEntries(page.entries, scoring.ratingWeight, accumulators);
    pageToken = page.nextPageToken ?? undefined;
  } while (pageToken !== undefined);
  const cells = await store.loadAccountCells(accountId);
  return windowRows(accumulators.values(), cells, nowMs, scoring);
}

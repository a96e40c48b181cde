import type { insightsV1 } from '@routeplex/contracts';
import { queryTypeToProto } from '@routeplex/learning';
import { Z95, isQueryType, readCell, type QueryType, type ScoringConfig } from '@routeplex/scoring';
import type { AccountCell, Store, WindowedModelStat } from '@routeplex/store';
import { sortModelStats } from './insights.js';

/**
 * Exact statistics over the entries of a time window. The store aggregates the window in one query
 * (grouped by query type and model, latency percentiles included), so the answer costs one indexed range
 * read of the window's entries and nothing crosses the wire but the rows.
 */

/**
 * Rows of exact window statistics. A request counts with its rating's quality and the scoring
 * configuration's rating weight when rated, else with its heuristic quality and weight 1, as in the cells.
 * Entries record only answered requests, so the failure rate of a row is the decayed one of the model's
 * cell (failed attempts exist only there).
 */
export function windowRows(
  stats: readonly WindowedModelStat[],
  cells: readonly AccountCell[],
  nowMs: number,
  scoring: ScoringConfig,
): insightsV1.ModelStats[] {
  const rows: insightsV1.ModelStats[] = [];
  for (const stat of stats) {
    // A query type this version does not know has no proto value to report it under.
    if (!isQueryType(stat.queryType)) continue;
    const mean = stat.q / stat.n;
    const variance = Math.max(0, stat.q2 / stat.n - mean * mean);
    const k = stat.requests;
    const half = k >= 2 ? Z95 * Math.sqrt((variance * k) / (k - 1) / k) : 0.5;
    const cell = cells.find((c) => c.queryType === stat.queryType && c.model === stat.model);
    rows.push({
      queryType: queryTypeToProto(stat.queryType),
      model: stat.model,
      provider: stat.provider,
      requestCount: String(stat.requests),
      ratingCount: String(stat.ratings),
      avgQuality: mean,
      qualityInterval: half,
      latencyP50Ms: stat.latencyP50Ms,
      latencyP95Ms: stat.latencyP95Ms,
      avgCostUsd: stat.avgCostUsd,
      failureRate: cell === undefined ? 0 : (readCell(cell, nowMs, scoring).failureRate ?? 0),
    });
  }
  return sortModelStats(rows);
}

/** Exact per-model statistics of the caller's requests made at or after `since`. */
export async function windowedModelStats(
  store: Pick<Store, 'windowedModelStats' | 'loadAccountCells'>,
  accountId: string,
  since: Date,
  queryType: QueryType | undefined,
  nowMs: number,
  scoring: ScoringConfig,
): Promise<insightsV1.ModelStats[]> {
  const [stats, cells] = await Promise.all([
    store.windowedModelStats(accountId, {
      since,
      ratingWeight: scoring.ratingWeight,
      ...(queryType !== undefined ? { queryType } : {}),
    }),
    store.loadAccountCells(accountId),
  ]);
  return windowRows(stats, cells, nowMs, scoring);
}

/**
 * Row types of the store. They hold metadata only: identifiers, enums, numbers and times. No type here
 * has room for prompt or answer text, and the schema enforces the same with CHECK constraints.
 */

// Query types, stages and preferences are the learning core's vocabulary; the store validates against it.
export { PREFERENCES, QUERY_TYPES, STAGES, type Preference, type QueryType, type Stage } from '@routeplex/scoring';
import type { Preference, Stage } from '@routeplex/scoring';

export const ENTRY_KINDS = ['completion', 'selection'] as const;
export type EntryKind = (typeof ENTRY_KINDS)[number];

/**
 * Decayed sufficient statistics of one cell, already epoch-scaled by the caller (see the shared cell
 * representation): every field is a sum, so deltas add and subtract exactly.
 */
export interface CellSums {
  n: number;
  q: number;
  q2: number;
  requests: number;
  ratings: number;
  failures: number;
  latencyMs: number;
  costUsd: number;
  /** Σ s per latency bucket; arrays of different lengths add element-wise as if padded with zeros. */
  latencyHist: number[];
}

export const CELL_SUM_FIELDS = ['n', 'q', 'q2', 'requests', 'ratings', 'failures', 'latencyMs', 'costUsd'] as const;

export interface AccountCell extends CellSums {
  accountId: string;
  queryType: string;
  model: string;
}

export interface GlobalCell extends CellSums {
  queryType: string;
  model: string;
  /** Number of distinct accounts that have a cell for this (query type, model). */
  contributors: number;
}

export interface CellDelta {
  accountId: string;
  queryType: string;
  model: string;
  delta: CellSums;
}

/** Counter increments of one (account, query type); every field is optional and defaults to 0. */
export interface CounterIncrements {
  requests?: number;
  autoRouted?: number;
  changedByPersonal?: number;
  coldStart?: number;
  warmUp?: number;
  established?: number;
  enhancedN?: number;
  enhancedQ?: number;
  enhancedQ2?: number;
  plainN?: number;
  plainQ?: number;
  plainQ2?: number;
}

export const COUNTER_INTEGER_FIELDS = [
  'requests',
  'autoRouted',
  'changedByPersonal',
  'coldStart',
  'warmUp',
  'established',
] as const;
export const COUNTER_SUM_FIELDS = ['enhancedN', 'enhancedQ', 'enhancedQ2', 'plainN', 'plainQ', 'plainQ2'] as const;
export const COUNTER_FIELDS = [...COUNTER_INTEGER_FIELDS, ...COUNTER_SUM_FIELDS] as const;

export interface CounterDelta extends CounterIncrements {
  accountId: string;
  queryType: string;
}

export type AccountCounters = { accountId: string; queryType: string } & Required<CounterIncrements>;

/** One routed request, content-free. */
export interface RequestEntry {
  /** 'req_' followed by letters and digits (see newRequestId). */
  id: string;
  accountId: string;
  createdAt: Date;
  kind: EntryKind;
  queryType: string;
  /** Short identifier of the detected complexity (for example 'low' or '0.42'), or null. */
  complexity: string | null;
  model: string;
  provider: string;
  stage: Stage;
  /** n_a / (n_a + k) at decision time, in [0, 1]. */
  personalWeight: number;
  changedByPersonal: boolean;
  autoRouted: boolean;
  enhanced: boolean;
  preference: Preference;
  /** Short identifier such as 'ok' or 'fallback'. */
  status: string;
  /** Heuristic quality in [0, 1]; null for selections, which produce no answer. */
  heuristicQuality: number | null;
  /** Named numeric quality signals (numbers only). */
  signals: Record<string, number>;
  latencyMs: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  /** HMAC-SHA-256 of the messages, 64 lowercase hex characters, or null. */
  messageHmac: string | null;
}

export interface Rating {
  accountId: string;
  requestId: string;
  /** 1-5, or null when only is_helpful was given. */
  score: number | null;
  isHelpful: boolean | null;
  /** The rating mapped to [0, 1]. */
  quality: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface RatingInput {
  score: number | null;
  isHelpful: boolean | null;
  quality: number;
}

export interface WindowedModelStatsOptions {
  /** The window's start: entries created at or after this time. */
  since: Date;
  /** Only this query type; every type when absent. */
  queryType?: string;
  /** Weight of a rated request against 1 for a heuristic signal (the scoring configuration's ratingWeight). */
  ratingWeight: number;
}

/**
 * Exact statistics of one (query type, model) over a window of answered requests. A request counts with its
 * rating's quality and weight `ratingWeight` when rated, else with its heuristic quality and weight 1.
 */
export interface WindowedModelStat {
  queryType: string;
  model: string;
  /** The provider the entries name (the smallest, should a model have been served by several). */
  provider: string;
  requests: number;
  ratings: number;
  /** Σ w, Σ w·q and Σ w·q² over the window's requests. */
  n: number;
  q: number;
  q2: number;
  /** q / n. */
  avgQuality: number;
  /** Latency percentiles, linear interpolation between closest ranks (percentile_cont). */
  latencyP50Ms: number;
  latencyP95Ms: number;
  avgCostUsd: number;
}

export interface ListedEntry extends RequestEntry {
  rating: Rating | null;
}

export interface EntryWrite {
  entry: RequestEntry;
  /** Contributions to the entry's account cells; global cells receive the same deltas. */
  cellDeltas: CellDelta[];
  counterDelta?: CounterDelta;
}

export interface Account {
  id: string;
  name: string;
  createdAt: Date;
}

export interface CreatedApiKey {
  id: string;
  /** The secret, shown once: only its SHA-256 is stored. */
  key: string;
  /** The first characters of the key, safe to display. */
  prefix: string;
}

export interface ApiKeyInfo {
  id: string;
  accountId: string;
  prefix: string;
  createdAt: Date;
  revokedAt: Date | null;
}

export type ChangeKind = 'rating' | 'delete' | 'cells' | 'keys';

export interface ChangeEvent {
  /** 'keys': an API key was revoked (caches of verified keys must forget them). */
  kind: ChangeKind;
  /** The instanceId of the store that made the change, so that a replica can skip its own batches. */
  origin?: string;
  /** The account a rating or deletion concerns. */
  accountId?: string;
  /** For 'delete': the deletion's number; deletions are numbered in the order they commit. */
  deletion?: number;
  /**
   * For 'cells': the accounts whose cells the batch changed, when few enough to list. Absent means
   * "any account may have changed" (also sent after the listener reconnects, as it may have missed events).
   */
  accountIds?: string[];
}

export interface StoreLogger {
  debug?(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

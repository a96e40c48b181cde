import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { CHANGE_CHANNEL as CHANGE_CHANNEL_NAME } from './notifications.js';
import { cellKey } from './write-batcher.js';
import {
  CELL_SUM_FIELDS,
  type AccountCell,
  type AccountCounters,
  type CellSums,
  type CounterDelta,
  type GlobalCell,
  type Rating,
  type RatingInput,
  type RequestEntry,
  type WindowedModelStat,
  type WindowedModelStatsOptions,
} from './types.js';

/** SQL of the store: multi-row upserts that add deltas, and the mapping between rows and row types. */

type Row = Record<string, unknown>;

/**
 * Multi-row writes bind one array per column and expand them with unnest(): the statement text and its
 * parameter count stay the same whatever the batch size, which PostgreSQL parses and plans far faster
 * than a VALUES list with one parameter per field (about 10x for a batch of 500 entries).
 */
function unnestSelect(casts: readonly string[], alias: string, names: readonly string[]): string {
  return `select ${names.join(', ')} from unnest(${casts.map((cast) => `?::${cast}[]`).join(', ')}) as ${alias}(${names.join(', ')})`;
}

/** Transposes rows into one array per column. */
function columnsOf(rows: readonly unknown[][], width: number): unknown[][] {
  const columns = Array.from({ length: width }, () => new Array<unknown>(rows.length));
  rows.forEach((row, r) => {
    for (let c = 0; c < width; c++) (columns[c] as unknown[])[r] = row[c];
  });
  return columns;
}

/** A histogram as a PostgreSQL array literal; histograms travel as text because unnest() would flatten a 2-D array. */
function arrayLiteral(values: readonly number[]): string {
  return `{${values.join(',')}}`;
}

const CELL_COLUMNS: Record<(typeof CELL_SUM_FIELDS)[number], string> = {
  n: 'n',
  q: 'q',
  q2: 'q2',
  requests: 'requests',
  ratings: 'ratings',
  failures: 'failures',
  latencyMs: 'latency_ms',
  costUsd: 'cost_usd',
};

const cellSumColumnList = [...CELL_SUM_FIELDS.map((f) => CELL_COLUMNS[f]), 'latency_hist'];
const cellSumCasts = [...CELL_SUM_FIELDS.map(() => 'float8'), 'text'];

function cellSumValues(sums: CellSums): unknown[] {
  return [...CELL_SUM_FIELDS.map((f) => sums[f]), arrayLiteral(sums.latencyHist)];
}

function addAssignments(table: string): string {
  return [
    ...CELL_SUM_FIELDS.map((f) => `${CELL_COLUMNS[f]} = ${table}.${CELL_COLUMNS[f]} + excluded.${CELL_COLUMNS[f]}`),
    `latency_hist = rpx_float8_array_add(${table}.latency_hist, excluded.latency_hist)`,
  ].join(', ');
}

const ENTRY_COLUMNS = [
  ['account_id', 'text'],
  ['id', 'text'],
  ['created_at', 'timestamptz'],
  ['kind', 'text'],
  ['query_type', 'text'],
  ['complexity', 'text'],
  ['model', 'text'],
  ['provider', 'text'],
  ['stage', 'text'],
  ['personal_weight', 'float8'],
  ['changed_by_personal', 'boolean'],
  ['auto_routed', 'boolean'],
  ['enhanced', 'boolean'],
  ['preference', 'text'],
  ['status', 'text'],
  ['heuristic_quality', 'float8'],
  ['signals', 'jsonb'],
  ['latency_ms', 'float8'],
  ['prompt_tokens', 'integer'],
  ['completion_tokens', 'integer'],
  ['cost_usd', 'float8'],
  ['message_hmac', 'text'],
] as const;

function entryValues(e: RequestEntry): unknown[] {
  return [
    e.accountId,
    e.id,
    e.createdAt,
    e.kind,
    e.queryType,
    e.complexity,
    e.model,
    e.provider,
    e.stage,
    e.personalWeight,
    e.changedByPersonal,
    e.autoRouted,
    e.enhanced,
    e.preference,
    e.status,
    e.heuristicQuality,
    JSON.stringify(e.signals),
    e.latencyMs,
    e.promptTokens,
    e.completionTokens,
    e.costUsd,
    e.messageHmac,
  ];
}

export async function insertEntries(db: Knex | Knex.Transaction, entries: readonly RequestEntry[]): Promise<void> {
  const names = ENTRY_COLUMNS.map(([name]) => name);
  const casts = ENTRY_COLUMNS.map(([, cast]) => cast);
  await db.raw(
    `insert into request_entries (${names.join(', ')}) ${unnestSelect(casts, 'u', names)}`,
    columnsOf(entries.map(entryValues), names.length) as Knex.RawBinding[],
  );
}

export interface AccountCellDelta {
  accountId: string;
  queryType: string;
  model: string;
  delta: CellSums;
}

/** A batch's delta of an account cell, with the number of answered requests it holds (see MergedCellDelta). */
export interface AnsweredCellDelta extends AccountCellDelta {
  answers: number;
}

function compareKeys(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * Adds deltas to account cells, creating missing ones. Rows are written in key order, as every writer
 * does, so that concurrent transactions lock cells in the same order and do not deadlock.
 * Returns, per (query type, model), how many account cells got their first answered request: the global
 * cell's new contributors. An account whose cell holds only failed calls contributes no quality and does not
 * count towards the anonymity threshold (a global cell backed by one account's answers and two accounts'
 * failures would be that one account's).
 */
export async function upsertAccountCells(
  db: Knex.Transaction,
  cells: readonly AnsweredCellDelta[],
): Promise<Map<string, number>> {
  const sorted = [...cells].sort((a, b) =>
    compareKeys([a.accountId, a.queryType, a.model], [b.accountId, b.queryType, b.model]),
  );
  const created = new Map<string, number>();
  const columns = ['account_id', 'query_type', 'model', 'answers', ...cellSumColumnList];
  const casts = ['text', 'text', 'text', 'int8', ...cellSumCasts];
  const select = unnestSelect(casts, 'u', columns).replace('latency_hist from', 'latency_hist::float8[] from');
  const result = await db.raw(
    `insert into account_cells (${columns.join(', ')}) ${select}
     on conflict (account_id, query_type, model) do update set ${addAssignments('account_cells')},
       answers = account_cells.answers + excluded.answers
     returning account_id, query_type, model, answers`,
    columnsOf(
      sorted.map((c) => [c.accountId, c.queryType, c.model, c.answers, ...cellSumValues(c.delta)]),
      columns.length,
    ) as Knex.RawBinding[],
  );
  const added = new Map(sorted.map((c) => [cellKey(c.accountId, c.queryType, c.model), c.answers]));
  for (const row of rowsOf(result)) {
    const [queryType, model] = [String(row.query_type), String(row.model)];
    const key = globalKey(queryType, model);
    const answers = Number(row.answers);
    const before = answers - (added.get(cellKey(String(row.account_id), queryType, model)) ?? 0);
    if (answers > 0 && before === 0) created.set(key, (created.get(key) ?? 0) + 1);
  }
  return created;
}

export function globalKey(queryType: string, model: string): string {
  return `${queryType}\u0000${model}`;
}

export interface GlobalCellDelta {
  queryType: string;
  model: string;
  delta: CellSums;
  contributors: number;
}

/** Adds deltas (and new contributors) to global cells, in key order. */
export async function upsertGlobalCells(db: Knex.Transaction, cells: readonly GlobalCellDelta[]): Promise<void> {
  const sorted = [...cells].sort((a, b) => compareKeys([a.queryType, a.model], [b.queryType, b.model]));
  const columns = ['query_type', 'model', ...cellSumColumnList, 'contributors'];
  const casts = ['text', 'text', ...cellSumCasts, 'integer'];
  const select = unnestSelect(casts, 'u', columns).replace(
    'latency_hist, contributors from',
    'latency_hist::float8[], contributors from',
  );
  await db.raw(
    `insert into global_cells (${columns.join(', ')}) ${select}
     on conflict (query_type, model) do update set ${addAssignments('global_cells')},
       contributors = global_cells.contributors + excluded.contributors`,
    columnsOf(
      sorted.map((c) => [c.queryType, c.model, ...cellSumValues(c.delta), c.contributors]),
      columns.length,
    ) as Knex.RawBinding[],
  );
}

const COUNTER_COLUMNS = [
  ['requests', 'requests', 'bigint'],
  ['autoRouted', 'auto_routed', 'bigint'],
  ['changedByPersonal', 'changed_by_personal', 'bigint'],
  ['coldStart', 'cold_start', 'bigint'],
  ['warmUp', 'warm_up', 'bigint'],
  ['established', 'established', 'bigint'],
  ['enhancedN', 'enhanced_n', 'float8'],
  ['enhancedQ', 'enhanced_q', 'float8'],
  ['enhancedQ2', 'enhanced_q2', 'float8'],
  ['plainN', 'plain_n', 'float8'],
  ['plainQ', 'plain_q', 'float8'],
  ['plainQ2', 'plain_q2', 'float8'],
] as const;

export async function upsertCounters(db: Knex.Transaction, counters: readonly CounterDelta[]): Promise<void> {
  const sorted = [...counters].sort((a, b) => compareKeys([a.accountId, a.queryType], [b.accountId, b.queryType]));
  const columns = ['account_id', 'query_type', ...COUNTER_COLUMNS.map(([, column]) => column)];
  const casts = ['text', 'text', ...COUNTER_COLUMNS.map(([, , cast]) => cast)];
  const assignments = COUNTER_COLUMNS.map(([, c]) => `${c} = account_counters.${c} + excluded.${c}`).join(', ');
  await db.raw(
    `insert into account_counters (${columns.join(', ')}) ${unnestSelect(casts, 'u', columns)}
     on conflict (account_id, query_type) do update set ${assignments}`,
    columnsOf(
      sorted.map((c) => [c.accountId, c.queryType, ...COUNTER_COLUMNS.map(([field]) => c[field] ?? 0)]),
      columns.length,
    ) as Knex.RawBinding[],
  );
}

/** Identifies an entry (and its rating): the account and the request id. */
export interface EntryKey {
  accountId: string;
  requestId: string;
}

/**
 * First key of the store's account advisory locks (the two-key form, so that they never collide with a
 * one-key advisory lock another program takes on the same database); the second key is accountLockKey.
 */
export const ACCOUNT_LOCK_NAMESPACE = 0x52505831;

/** Second key of an account's advisory lock: 32 bits of a hash of its id (two ids sharing one only serialize). */
export function accountLockKey(accountId: string): number {
  return createHash('sha256').update(accountId).digest().readInt32BE(0);
}

/**
 * Takes transaction-level advisory locks on accounts, in key order with one statement: shared by writers
 * (batch commits, ratings), which therefore never wait for one another, exclusive by the deletion of an
 * account's data, which so sees no writer of that account half-way. Call it before the transaction locks
 * any row. On PGlite (one connection) it never waits.
 */
export async function lockAccounts(
  trx: Knex.Transaction,
  accountIds: Iterable<string>,
  mode: 'shared' | 'exclusive',
): Promise<void> {
  const keys = [...new Set([...accountIds].map(accountLockKey))].sort((a, b) => a - b);
  if (keys.length === 0) return;
  const fn = mode === 'shared' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock';
  // unnest yields the keys in array order, so the locks are taken in that order.
  await trx.raw(`select count(${fn}(${ACCOUNT_LOCK_NAMESPACE}, k)) from unnest(?::int4[]) as u(k)`, [keys]);
}

/** A deletion of an account's data, numbered in commit order (migration 0003). */
export interface DeletionMarker {
  seq: number;
  accountId: string;
}

/** How long deletion markers are kept: far longer than any batch is held between its take and its commit. */
const DELETION_MARKER_RETENTION = "interval '1 hour'";

/**
 * Numbers a deletion and leaves its marker, in the deletion's transaction. The counter row stays locked
 * until the commit, so deletions commit in the order of their numbers. Call it last, just before the
 * commit, to keep other deletions waiting as briefly as possible. Drops markers older than an hour.
 */
export async function recordDeletion(trx: Knex.Transaction, accountId: string): Promise<number> {
  const [row] = rowsOf(await trx.raw('update deletion_clock set seq = seq + 1 where id = 1 returning seq'));
  const seq = Number(row?.seq);
  await trx.raw(`delete from account_deletions where deleted_at < now() - ${DELETION_MARKER_RETENTION}`);
  await trx.raw('insert into account_deletions (seq, account_id) values (?, ?)', [seq, accountId]);
  return seq;
}

/** The number of the last deletion committed. */
export async function lastDeletion(db: Knex): Promise<number> {
  const [row] = rowsOf(await db.raw('select seq from deletion_clock where id = 1'));
  return Number(row?.seq ?? 0);
}

/** The deletions committed with a number above `seq`, in commit order. */
export async function deletionsAfter(db: Knex | Knex.Transaction, seq: number): Promise<DeletionMarker[]> {
  return rowsOf(await db.raw('select seq, account_id from account_deletions where seq > ? order by seq', [seq])).map(
    (row) => ({ seq: Number(row.seq), accountId: String(row.account_id) }),
  );
}

function entryMapKey(accountId: string, requestId: string): string {
  return `${accountId}\u0000${requestId}`;
}

const KEYS_SELECT = 'select a, r from unnest(?::text[], ?::text[]) as u(a, r)';

function keyColumns(keys: readonly EntryKey[]): string[][] {
  return [keys.map((k) => k.accountId), keys.map((k) => k.requestId)];
}

/**
 * Locks entries FOR UPDATE in key order with one statement, so that concurrent batches touching the same
 * entries queue behind one another instead of deadlocking. Returns the entries found (keyed by account and
 * request id) and the transaction's time.
 */
export async function lockEntries(
  trx: Knex.Transaction,
  keys: readonly EntryKey[],
): Promise<{ entries: Map<string, RequestEntry>; now: Date }> {
  const result = await trx.raw(
    `select e.*, now() as rpx_now from request_entries e
     where (e.account_id, e.id) in (${KEYS_SELECT})
     order by e.account_id, e.id for update of e`,
    keyColumns(keys),
  );
  const entries = new Map<string, RequestEntry>();
  let now: Date | undefined;
  for (const row of rowsOf(result)) {
    const entry = entryFromRow(row);
    entries.set(entryMapKey(entry.accountId, entry.id), entry);
    now ??= toDate(row.rpx_now);
  }
  return { entries, now: now ?? new Date() };
}

/** The ratings of these entries, keyed by account and request id. */
export async function loadRatings(trx: Knex.Transaction, keys: readonly EntryKey[]): Promise<Map<string, Rating>> {
  const result = await trx.raw(
    `select * from ratings where (account_id, request_id) in (${KEYS_SELECT})`,
    keyColumns(keys),
  );
  const ratings = new Map<string, Rating>();
  for (const row of rowsOf(result)) {
    const rating = ratingFromRow(row);
    ratings.set(entryMapKey(rating.accountId, rating.requestId), rating);
  }
  return ratings;
}

export interface RatingRow extends RatingInput {
  accountId: string;
  requestId: string;
}

/**
 * Everything a batch of ratings writes, in one statement (one round trip instead of five): the final rating
 * of each request, the account cells, the global cells (with the account cells this creates with an answer
 * as new contributors; a rating adds no answer, so a cell it creates counts once a write answers there),
 * the counters, and the change notifications (sent at commit). Locks follow the order of every other writer: account cells (key order), then global cells (key order), then counters; each
 * later step reads the one before it, which makes PostgreSQL finish that one first.
 * Returns the stored ratings keyed by account and request id.
 */
export async function applyRatings(
  trx: Knex.Transaction,
  writes: {
    ratings: readonly RatingRow[];
    accountCells: readonly AccountCellDelta[];
    counters: readonly CounterDelta[];
    notifications: readonly string[];
  },
): Promise<Map<string, Rating>> {
  const ratings = [...writes.ratings].sort((a, b) =>
    compareKeys([a.accountId, a.requestId], [b.accountId, b.requestId]),
  );
  const cells = [...writes.accountCells].sort((a, b) =>
    compareKeys([a.accountId, a.queryType, a.model], [b.accountId, b.queryType, b.model]),
  );
  const globals = new Map<string, { queryType: string; model: string; delta: CellSums }>();
  for (const cell of cells) {
    const key = globalKey(cell.queryType, cell.model);
    let global = globals.get(key);
    if (global === undefined) {
      global = { queryType: cell.queryType, model: cell.model, delta: zeroCellSums() };
      globals.set(key, global);
    }
    for (const field of CELL_SUM_FIELDS) global.delta[field] += cell.delta[field];
    global.delta.latencyHist = addHistogramValues(global.delta.latencyHist, cell.delta.latencyHist);
  }
  const sortedGlobals = [...globals.values()].sort((a, b) =>
    compareKeys([a.queryType, a.model], [b.queryType, b.model]),
  );
  const counters = [...writes.counters].sort((a, b) =>
    compareKeys([a.accountId, a.queryType], [b.accountId, b.queryType]),
  );

  const cellColumns = ['account_id', 'query_type', 'model', ...cellSumColumnList];
  const cellSelect = unnestSelect(['text', 'text', 'text', ...cellSumCasts], 'u', cellColumns).replace(
    'latency_hist from',
    'latency_hist::float8[] from',
  );
  const globalColumns = ['query_type', 'model', ...cellSumColumnList];
  const globalUnnest = `unnest(${['text', 'text', ...cellSumCasts].map((c) => `?::${c}[]`).join(', ')}) as g(${globalColumns.join(', ')})`;
  const globalValues = globalColumns.map((c) => (c === 'latency_hist' ? 'g.latency_hist::float8[]' : `g.${c}`));
  const counterColumns = ['account_id', 'query_type', ...COUNTER_COLUMNS.map(([, column]) => column)];
  const counterCasts = ['text', 'text', ...COUNTER_COLUMNS.map(([, , cast]) => cast)];
  const counterAssignments = COUNTER_COLUMNS.map(([, c]) => `${c} = account_counters.${c} + excluded.${c}`).join(', ');

  const sql = `with rated as (
      insert into ratings (account_id, request_id, score, is_helpful, quality)
      select a, r, s, h, q from unnest(?::text[], ?::text[], ?::smallint[], ?::boolean[], ?::float8[]) as u(a, r, s, h, q)
      on conflict (account_id, request_id) do update set
        score = excluded.score, is_helpful = excluded.is_helpful, quality = excluded.quality, updated_at = now()
      returning *
    ), cells as (
      insert into account_cells (${cellColumns.join(', ')}) ${cellSelect}
      on conflict (account_id, query_type, model) do update set ${addAssignments('account_cells')}
      returning query_type, model, answers, (xmax = 0) as created
    ), globals as (
      insert into global_cells (${globalColumns.join(', ')}, contributors)
      select ${globalValues.join(', ')},
        (select count(*) from cells c where c.created and c.query_type = g.query_type and c.model = g.model
           and c.answers > 0)::integer
      from ${globalUnnest}
      on conflict (query_type, model) do update set ${addAssignments('global_cells')},
        contributors = global_cells.contributors + excluded.contributors
      returning 1 as done
    ), counters as (
      insert into account_counters (${counterColumns.join(', ')})
      ${unnestSelect(counterCasts, 'k', counterColumns)} where (select count(*) from globals) >= 0
      on conflict (account_id, query_type) do update set ${counterAssignments}
      returning 1 as done
    ), notified as (
      select pg_notify(?, payload) from unnest(?::text[]) as n(payload)
    )
    select rated.*, (select count(*) from notified) as rpx_notified, (select count(*) from counters) as rpx_counters
    from rated`;
  const bindings = [
    ...columnsOf(
      ratings.map((r) => [r.accountId, r.requestId, r.score, r.isHelpful, r.quality]),
      5,
    ),
    ...columnsOf(
      cells.map((c) => [c.accountId, c.queryType, c.model, ...cellSumValues(c.delta)]),
      cellColumns.length,
    ),
    ...columnsOf(
      sortedGlobals.map((g) => [g.queryType, g.model, ...cellSumValues(g.delta)]),
      globalColumns.length,
    ),
    ...columnsOf(
      counters.map((c) => [c.accountId, c.queryType, ...COUNTER_COLUMNS.map(([field]) => c[field] ?? 0)]),
      counterColumns.length,
    ),
    CHANGE_CHANNEL_NAME,
    writes.notifications,
  ];
  const result = await trx.raw(sql, bindings as Knex.RawBinding[]);
  const stored = new Map<string, Rating>();
  for (const row of rowsOf(result)) {
    const rating = ratingFromRow(row);
    stored.set(entryMapKey(rating.accountId, rating.requestId), rating);
  }
  return stored;
}

function zeroCellSums(): CellSums {
  return { n: 0, q: 0, q2: 0, requests: 0, ratings: 0, failures: 0, latencyMs: 0, costUsd: 0, latencyHist: [] };
}

function addHistogramValues(a: readonly number[], b: readonly number[]): number[] {
  const out = new Array<number>(Math.max(a.length, b.length));
  for (let i = 0; i < out.length; i++) out[i] = (a[i] ?? 0) + (b[i] ?? 0);
  return out;
}

/**
 * One aggregate over the window's answered requests of an account, grouped by (query type, model). The
 * range comes from request_entries_by_time (account_id, created_at desc, id desc); ratings join by key.
 */
export async function aggregateWindow(
  db: Knex,
  accountId: string,
  options: WindowedModelStatsOptions,
): Promise<WindowedModelStat[]> {
  const w = options.ratingWeight;
  const bindings: Knex.RawBinding[] = [w, w, w, accountId, accountId, options.since];
  let typeFilter = '';
  if (options.queryType !== undefined) {
    typeFilter = 'and e.query_type = ?';
    bindings.push(options.queryType);
  }
  const result = await db.raw(
    `select e.query_type, e.model, min(e.provider) as provider,
       count(*) as requests, count(r.request_id) as ratings,
       sum(case when r.request_id is null then 1::float8 else ?::float8 end) as n,
       sum(case when r.request_id is null then e.heuristic_quality else ?::float8 * r.quality end) as q,
       sum(case when r.request_id is null then e.heuristic_quality * e.heuristic_quality
                else ?::float8 * r.quality * r.quality end) as q2,
       percentile_cont(array[0.5, 0.95]::float8[]) within group (order by e.latency_ms) as latency,
       avg(e.cost_usd) as avg_cost
     from request_entries e
     left join ratings r on r.account_id = ? and r.account_id = e.account_id and r.request_id = e.id
     where e.account_id = ? and e.created_at >= ? and e.kind = 'completion' and e.heuristic_quality is not null
       ${typeFilter}
     group by e.query_type, e.model
     order by e.query_type, e.model`,
    bindings,
  );
  return rowsOf(result).map((row) => {
    const latency = parseFloatArray(row.latency);
    const n = Number(row.n);
    const q = Number(row.q);
    return {
      queryType: String(row.query_type),
      model: String(row.model),
      provider: String(row.provider),
      requests: Number(row.requests),
      ratings: Number(row.ratings),
      n,
      q,
      q2: Number(row.q2),
      avgQuality: q / n,
      latencyP50Ms: latency[0] ?? 0,
      latencyP95Ms: latency[1] ?? 0,
      avgCostUsd: Number(row.avg_cost),
    };
  });
}

/** A float8[] as either driver returns it (an array, or the text form '{1,2.5}'). */
function parseFloatArray(value: unknown): number[] {
  if (Array.isArray(value)) return value.map(Number);
  if (typeof value === 'string')
    return value
      .replace(/^\{|\}$/g, '')
      .split(',')
      .filter(Boolean)
      .map(Number);
  return [];
}

/** Rows of a knex.raw result on either backend. */
export function rowsOf(result: unknown): Row[] {
  const rows = (result as { rows?: unknown }).rows;
  return Array.isArray(rows) ? (rows as Row[]) : [];
}

function toDate(value: unknown): Date {
  return value instanceof Date ? value : new Date(String(value));
}

export function entryFromRow(row: Row): RequestEntry {
  return {
    id: String(row.id),
    accountId: String(row.account_id),
    createdAt: toDate(row.created_at),
    kind: row.kind as RequestEntry['kind'],
    queryType: String(row.query_type),
    complexity: row.complexity === null ? null : String(row.complexity),
    model: String(row.model),
    provider: String(row.provider),
    stage: row.stage as RequestEntry['stage'],
    personalWeight: Number(row.personal_weight),
    changedByPersonal: row.changed_by_personal === true,
    autoRouted: row.auto_routed === true,
    enhanced: row.enhanced === true,
    preference: row.preference as RequestEntry['preference'],
    status: String(row.status),
    heuristicQuality: row.heuristic_quality === null ? null : Number(row.heuristic_quality),
    signals: (typeof row.signals === 'string' ? JSON.parse(row.signals) : row.signals) as Record<string, number>,
    latencyMs: Number(row.latency_ms),
    promptTokens: Number(row.prompt_tokens),
    completionTokens: Number(row.completion_tokens),
    costUsd: Number(row.cost_usd),
    messageHmac: row.message_hmac === null ? null : String(row.message_hmac),
  };
}

/** A rating from a row, reading columns under a prefix (for joined queries). */
export function ratingFromRow(row: Row, prefix = ''): Rating {
  return {
    accountId: String(row[`${prefix}account_id`]),
    requestId: String(row[`${prefix}request_id`]),
    score: row[`${prefix}score`] === null ? null : Number(row[`${prefix}score`]),
    isHelpful: row[`${prefix}is_helpful`] === null ? null : row[`${prefix}is_helpful`] === true,
    quality: Number(row[`${prefix}quality`]),
    createdAt: toDate(row[`${prefix}created_at`]),
    updatedAt: toDate(row[`${prefix}updated_at`]),
  };
}

function sumsFromRow(row: Row): CellSums {
  const hist = row.latency_hist;
  return {
    n: Number(row.n),
    q: Number(row.q),
    q2: Number(row.q2),
    requests: Number(row.requests),
    ratings: Number(row.ratings),
    failures: Number(row.failures),
    latencyMs: Number(row.latency_ms),
    costUsd: Number(row.cost_usd),
    latencyHist: Array.isArray(hist) ? hist.map(Number) : [],
  };
}

export function accountCellFromRow(row: Row): AccountCell {
  return {
    accountId: String(row.account_id),
    queryType: String(row.query_type),
    model: String(row.model),
    ...sumsFromRow(row),
  };
}

export function globalCellFromRow(row: Row): GlobalCell {
  return {
    queryType: String(row.query_type),
    model: String(row.model),
    ...sumsFromRow(row),
    contributors: Number(row.contributors),
  };
}

export function countersFromRow(row: Row): AccountCounters {
  const counters = { accountId: String(row.account_id), queryType: String(row.query_type) } as AccountCounters;
  for (const [field, column] of COUNTER_COLUMNS) counters[field] = Number(row[column]);
  return counters;
}

/** Assignments that subtract an account cell `a` from a global cell `g` (used by deletion). */
export const SUBTRACT_ACCOUNT_FROM_GLOBAL = [
  ...CELL_SUM_FIELDS.map((f) => `${CELL_COLUMNS[f]} = g.${CELL_COLUMNS[f]} - a.${CELL_COLUMNS[f]}`),
  'latency_hist = rpx_float8_array_sub(g.latency_hist, a.latency_hist)',
  'contributors = g.contributors - (case when a.answers > 0 then 1 else 0 end)',
].join(', ');

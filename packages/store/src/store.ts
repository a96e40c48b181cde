import type { Knex } from 'knex';
import { openPglite, openPostgres, type DatabaseHandle } from './connection.js';
import { StoreError, describeCause, errorCodeOf, isTransientDatabaseError, wrapQueryError } from './errors.js';
import { API_KEY_DISPLAY_LENGTH, hashApiKey, newAccountId, newApiKey, newApiKeyId, randomBase62 } from './ids.js';
import {
  ListMigrationSource,
  MIGRATIONS,
  MigrationStepError,
  STORE_TABLES,
  type StoreMigration,
  type StoreTable,
} from './migrations/index.js';
import {
  ChangeHub,
  listenPglite,
  listenPostgres,
  encodeChange,
  notifyChange,
  type ChangeListener,
  type ChangeSubscription,
} from './notifications.js';
import {
  SUBTRACT_ACCOUNT_FROM_GLOBAL,
  accountCellFromRow,
  aggregateWindow,
  applyRatings,
  countersFromRow,
  deletionsAfter,
  entryFromRow,
  globalCellFromRow,
  globalKey,
  insertEntries,
  lastDeletion,
  lockEntries,
  loadRatings,
  lockAccounts,
  ratingFromRow,
  recordDeletion,
  rowsOf,
  upsertAccountCells,
  upsertCounters,
  upsertGlobalCells,
  type GlobalCellDelta,
  type RatingRow,
  type DeletionMarker,
} from './sql.js';
import type { EmbeddedDatabase } from './pglite-thread.js';
import type {
  Account,
  AccountCell,
  AccountCounters,
  ApiKeyInfo,
  CellDelta,
  CellSums,
  ChangeEvent,
  CounterDelta,
  CounterIncrements,
  CreatedApiKey,
  EntryWrite,
  GlobalCell,
  ListedEntry,
  Rating,
  RatingInput,
  RequestEntry,
  StoreLogger,
  WindowedModelStat,
  WindowedModelStatsOptions,
} from './types.js';
import {
  checkAccountId,
  checkAccountName,
  checkCellSums,
  checkCounterIncrements,
  checkPositiveInteger,
  checkQueryType,
  checkRatingInput,
  isApiKeyId,
  isHex64,
  isRequestId,
} from './validation.js';
import {
  DEFAULT_BATCHER_OPTIONS,
  WriteBatcher,
  addCounters,
  addSums,
  cellKey,
  NO_DELETIONS_SEEN,
  withoutAccounts,
  zeroSums,
  type MergedBatch,
  type MergedCellDelta,
} from './write-batcher.js';

export interface OpenStoreOptions {
  /** PostgreSQL URL; when absent the store uses PGlite. */
  databaseUrl?: string;
  /** PGlite folder; undefined keeps the database in memory. Only one process may open a folder. */
  pgliteDir?: string;
  /**
   * An already-open PGlite instance (or PgliteThread) to use instead of opening one; the store never
   * closes it. PGlite has a single connection: keep at most one open store per instance at a time. A
   * database the store opens itself (pgliteDir, or in memory) runs on a worker thread.
   */
  pglite?: EmbeddedDatabase;
  /**
   * Called once if the embedded database the store opened stops on its own (its thread died): nothing can
   * be read or written any more, so a service should log it and exit for its supervisor to restart it.
   */
  onFatal?: (error: Error) => void;
  batch?: { maxEntries?: number; maxDelayMs?: number; maxPending?: number };
  logger?: StoreLogger;
  /** PostgreSQL pool size (default 10). */
  poolMax?: number;
  /** PostgreSQL connect timeout (default 5000 ms). */
  connectTimeoutMs?: number;
  /** Open the change listener (default true); tools that never call onChange may skip it. */
  listen?: boolean;
  /** Migrations to run after the store's own ones (for tests of the migration machinery). */
  extraMigrations?: readonly StoreMigration[];
  /** How long to wait for another process's migration lock (default 30 s). */
  migrationLockTimeoutMs?: number;
}

export interface ListEntriesOptions {
  /** 1-1000, default 50. */
  pageSize?: number;
  /** The nextPageToken of the previous page, with the same filters. */
  pageToken?: string;
  queryType?: string;
  /** Only entries created at or after this time. */
  since?: Date;
}

export interface EntryPage {
  entries: ListedEntry[];
  /** Absent on the last page. */
  nextPageToken: string | null;
}

export interface RatingComputation {
  rating: RatingInput;
  /** Change of the entry's account cell (and of its global cell): typically minus the previous contribution plus the new one. */
  cellDelta: CellSums;
  counterDelta?: CounterIncrements;
}

export interface RatingResult {
  entry: RequestEntry;
  rating: Rating;
  previous: Rating | null;
}

/** One rating of a batch: `compute` turns the locked entry and its earlier rating into the change to make. */
export interface RatingRequest {
  accountId: string;
  requestId: string;
  /**
   * Pure: it may run again when the transaction is retried. Throwing refuses this rating alone: its slot
   * holds a StoreError with reason RATING_REFUSED and the thrown value as `cause`.
   */
  compute: (entry: RequestEntry, previous: Rating | null) => RatingComputation;
}

export interface DeletionResult {
  entries: number;
  ratings: number;
  cells: number;
  counters: number;
}

export interface Store {
  readonly backend: 'postgres' | 'pglite';
  /** Random id of this open store; change events carry it as their origin. */
  readonly instanceId: string;
  createAccount(name: string): Promise<Account>;
  getAccount(accountId: string): Promise<Account | null>;
  createApiKey(accountId: string): Promise<CreatedApiKey>;
  listApiKeys(accountId: string): Promise<ApiKeyInfo[]>;
  findAccountByKeyHash(keyHash: string): Promise<{ accountId: string; keyId: string } | null>;
  revokeApiKey(accountId: string, keyId: string): Promise<void>;
  hashApiKey(key: string): string;
  enqueue(write: EntryWrite): Promise<void>;
  flush(): Promise<void>;
  readonly pendingWrites: number;
  getEntry(accountId: string, requestId: string): Promise<ListedEntry>;
  listEntries(accountId: string, options?: ListEntriesOptions): Promise<EntryPage>;
  countEntries(accountId?: string): Promise<number>;
  /** Rates one request; a batch of one (see rateRequests). Throws what compute throws, unchanged. */
  rateRequest(
    accountId: string,
    requestId: string,
    compute: (entry: RequestEntry, previous: Rating | null) => RatingComputation,
  ): Promise<RatingResult>;
  /**
   * Rates many requests in one transaction with a constant number of statements, and answers one slot per
   * item, in order: its result, or the StoreError of that item alone (NOT_FOUND for an unknown or foreign
   * id, INVALID_ARGUMENT for an invalid computation, RATING_REFUSED when compute threw). The same request
   * may appear more than once: its ratings apply in order, each compute seeing the one before as previous.
   * Rejects as a whole only when the transaction itself fails (database unreachable, after retries).
   */
  rateRequests(items: readonly RatingRequest[]): Promise<(RatingResult | StoreError)[]>;
  /**
   * Exact statistics of an account's answered requests (completions) created at or after `since`, one row
   * per (query type, model), computed by one aggregate query over the window's entries.
   */
  windowedModelStats(accountId: string, options: WindowedModelStatsOptions): Promise<WindowedModelStat[]>;
  loadAccountCells(accountId: string): Promise<AccountCell[]>;
  loadGlobalCells(options?: { minContributors?: number }): Promise<GlobalCell[]>;
  loadCounters(accountId: string): Promise<AccountCounters[]>;
  deleteAccountData(accountId: string): Promise<DeletionResult>;
  onChange(listener: ChangeListener): () => void;
  dumpAll(): Promise<Record<StoreTable, Record<string, unknown>[]>>;
  close(): Promise<void>;
}

const silentLogger: StoreLogger = { info() {}, warn() {}, error() {} };

/**
 * Where a service's store lives, from its configuration: PostgreSQL when a URL is given, otherwise PGlite in
 * the data folder, otherwise PGlite in memory.
 */
export function storeLocation(where: {
  databaseUrl?: string | undefined;
  dataDir?: string | undefined;
}): Pick<OpenStoreOptions, 'databaseUrl' | 'pgliteDir'> {
  if (where.databaseUrl) return { databaseUrl: where.databaseUrl };
  return where.dataDir ? { pgliteDir: where.dataDir } : {};
}

/** Opens PostgreSQL (databaseUrl) or PGlite, runs the migrations and starts the change listener. */
export async function openStore(options: OpenStoreOptions = {}): Promise<Store> {
  const logger = options.logger ?? silentLogger;
  const batch = { ...DEFAULT_BATCHER_OPTIONS };
  if (options.batch?.maxEntries !== undefined) {
    checkPositiveInteger(options.batch.maxEntries, 'batch.maxEntries', 50_000);
    batch.maxEntries = options.batch.maxEntries;
  }
  if (options.batch?.maxDelayMs !== undefined) {
    checkPositiveInteger(options.batch.maxDelayMs, 'batch.maxDelayMs', 60_000);
    batch.maxDelayMs = options.batch.maxDelayMs;
  }
  if (options.batch?.maxPending !== undefined) {
    checkPositiveInteger(options.batch.maxPending, 'batch.maxPending', 10_000_000);
    batch.maxPending = options.batch.maxPending;
  }
  if (options.databaseUrl !== undefined && (options.pgliteDir !== undefined || options.pglite !== undefined)) {
    throw new StoreError(
      'INVALID_ARGUMENT',
      'INVALID_OPTION',
      'give either databaseUrl (PostgreSQL) or pgliteDir/pglite (embedded), not both',
    );
  }

  const db =
    options.databaseUrl !== undefined
      ? await openPostgres({
          databaseUrl: options.databaseUrl,
          poolMax: options.poolMax ?? 10,
          connectTimeoutMs: options.connectTimeoutMs ?? 5000,
        })
      : await openPglite({ logger, dir: options.pgliteDir, instance: options.pglite, onFatal: options.onFatal });
  try {
    await migrate(
      db.knex,
      [...MIGRATIONS, ...(options.extraMigrations ?? [])],
      options.migrationLockTimeoutMs ?? 30_000,
      logger,
    );
    const hub = new ChangeHub(logger);
    let subscription: ChangeSubscription | undefined;
    if (options.listen !== false) {
      subscription =
        db.backend === 'postgres'
          ? await listenPostgres(db.pgClientConfig as NonNullable<DatabaseHandle['pgClientConfig']>, hub, logger)
          : await listenPglite(db.knex, db.pglite as EmbeddedDatabase, hub);
    }
    // Read after the listener starts: a deletion committed in between is heard of, or counted here, or both.
    const deletionsHeard = await lastDeletion(db.knex);
    logger.info({ database: db.description }, 'store opened');
    return new KnexStore(db, hub, subscription, batch, logger, deletionsHeard);
  } catch (error) {
    await db.knex.destroy().catch(() => undefined);
    if (error instanceof StoreError) throw error;
    throw new StoreError(
      'UNAVAILABLE',
      'DATABASE_UNREACHABLE',
      `opening the store on ${db.description} failed: ${describeCause(error)}`,
      { cause: error },
    );
  }
}

async function migrate(
  knex: Knex,
  migrations: StoreMigration[],
  lockTimeoutMs: number,
  logger: StoreLogger,
): Promise<void> {
  const source = new ListMigrationSource(migrations);
  const deadline = Date.now() + lockTimeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      const [batchNo, applied] = (await knex.migrate.latest({ migrationSource: source })) as [number, string[]];
      if (applied.length > 0) logger.info({ batch: batchNo, migrations: applied }, 'store migrations applied');
      return;
    } catch (error) {
      const locked = error instanceof Error && error.name === 'MigrationLocked';
      // Two processes creating the migration tables at once: one loses the race and simply retries.
      const raced = ['23505', '42P07'].includes(errorCodeOf(error) ?? '') && attempt < 5;
      if ((locked && Date.now() < deadline) || raced) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        continue;
      }
      if (locked) {
        throw new StoreError(
          'UNAVAILABLE',
          'MIGRATION_LOCKED',
          `another process has held the migration lock for over ${lockTimeoutMs} ms: if no migration is running, a crashed one left it; run "update knex_migrations_lock set is_locked = 0" and start again`,
          { cause: error },
        );
      }
      if (error instanceof MigrationStepError) {
        throw new StoreError(
          'FAILED_PRECONDITION',
          'MIGRATION_FAILED',
          `migration ${error.migrationName} failed: ${describeCause(error.cause)}; pending migrations run in one transaction, so the schema was left unchanged: fix the migration or the database state it expects, then start again`,
          { cause: error },
        );
      }
      throw new StoreError(
        'FAILED_PRECONDITION',
        'MIGRATION_FAILED',
        `running the store migrations failed: ${describeCause(error)}; check that the database user may create tables`,
        {
          cause: error,
        },
      );
    }
  }
}

/** Deletes an account's rows of one table and counts them (row counts of DELETE differ between the drivers). */
async function deleteRows(trx: Knex.Transaction, table: StoreTable, accountId: string): Promise<number> {
  const result = await trx.raw(
    `with deleted as (delete from ${table} where account_id = ? returning 1) select count(*) as count from deleted`,
    [accountId],
  );
  return Number(rowsOf(result)[0]?.count ?? 0);
}

function notFoundEntry(requestId: string): StoreError {
  // The same message whether the entry does not exist or belongs to another account.
  return new StoreError(
    'NOT_FOUND',
    'ENTRY_NOT_FOUND',
    `request ${isRequestId(requestId) ? requestId : '(malformed id)'} was not found: check the request_id (the id of the completion)`,
  );
}

interface PageToken {
  t: string;
  id: string;
  qt: string | null;
  since: string | null;
}

function encodePageToken(token: PageToken): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

/**
 * Whether a token's time is in the one form the store writes (toISOString of an entry's time). Date.parse
 * reads far more ('2026', 'March 7 2026'), which PostgreSQL refuses or reads otherwise; and toISOString
 * writes years before 1 and after 9999 in forms PostgreSQL refuses too.
 */
function isStoredTime(value: unknown): boolean {
  if (typeof value !== 'string' || !/^\d{4}-/.test(value) || value.startsWith('0000')) return false;
  const time = new Date(value);
  return !Number.isNaN(time.getTime()) && time.toISOString() === value;
}

function decodePageToken(raw: string, queryType: string | null, since: string | null): PageToken {
  const invalid = () =>
    new StoreError(
      'INVALID_ARGUMENT',
      'INVALID_PAGE_TOKEN',
      'page_token is invalid: pass the next_page_token of the previous page unchanged, with the same filters',
    );
  let token: PageToken;
  try {
    token = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as PageToken;
  } catch {
    throw invalid();
  }
  if (typeof token !== 'object' || token === null || !isStoredTime(token.t) || !isRequestId(token.id)) throw invalid();
  if (token.qt !== queryType || token.since !== since) throw invalid();
  return token;
}

/**
 * Adds merged account cell deltas to their cells and to the global cells (counting the account cells this
 * creates as new contributors), and counter deltas to their counters. Rows are written in key order.
 */
async function writeDeltas(
  trx: Knex.Transaction,
  accountCells: Map<string, MergedCellDelta>,
  counters: Map<string, CounterDelta>,
): Promise<void> {
  if (accountCells.size > 0) {
    const globals = new Map<string, GlobalCellDelta>();
    for (const cell of accountCells.values()) {
      const key = globalKey(cell.queryType, cell.model);
      let global = globals.get(key);
      if (global === undefined) {
        global = { queryType: cell.queryType, model: cell.model, delta: zeroSums(), contributors: 0 };
        globals.set(key, global);
      }
      addSums(global.delta, cell.delta);
    }
    const created = await upsertAccountCells(trx, [...accountCells.values()]);
    for (const [key, count] of created) {
      const global = globals.get(key);
      if (global !== undefined) global.contributors += count;
    }
    await upsertGlobalCells(trx, [...globals.values()]);
  }
  if (counters.size > 0) await upsertCounters(trx, [...counters.values()]);
}

class KnexStore implements Store {
  readonly instanceId = randomBase62(16);
  readonly backend: 'postgres' | 'pglite';
  private readonly knex: Knex;
  private readonly batcher: WriteBatcher;
  private closed: Promise<void> | undefined;

  constructor(
    private readonly db: DatabaseHandle,
    private readonly hub: ChangeHub,
    private readonly subscription: ChangeSubscription | undefined,
    batchOptions: typeof DEFAULT_BATCHER_OPTIONS,
    private readonly logger: StoreLogger,
    /** The number of the last account deletion this process has heard of (see hearDeletion). */
    private deletionsHeard: number,
  ) {
    this.backend = db.backend;
    this.knex = db.knex;
    this.batcher = new WriteBatcher(
      (batch) => this.commitBatch(batch),
      batchOptions,
      logger,
      () => ({
        upTo: this.deletionsHeard,
        ahead: this.heardAhead.size === 0 ? NO_DELETIONS_SEEN.ahead : new Set(this.heardAhead),
      }),
    );
    hub.add((event) => {
      if (event.kind === 'delete' && event.accountId !== undefined) this.hearDeletion(event.accountId, event.deletion);
      // After the listener reconnects: the deletions committed while it was away are read from their markers.
      if (event.kind === 'cells' && event.accountIds === undefined && event.origin === undefined)
        void this.catchUpDeletions();
    });
  }

  /** Deletions heard of above deletionsHeard, out of order (an earlier one's notification still on its way). */
  private readonly heardAhead = new Set<number>();

  private async catchUpDeletions(): Promise<void> {
    try {
      this.hearMarkers(await deletionsAfter(this.knex, this.deletionsHeard));
    } catch (error) {
      // The next batch commit reads the same markers.
      this.logger.warn({ err: error }, 'could not read the deletions missed while the change listener was away');
    }
  }

  /**
   * Deletion markers read from the database, in commit order and complete above the number they were read
   * after (deletions are numbered in commit order): each is heard of, those not heard before are announced
   * to this process's listeners (caches of the account's cells), and every deletion up to the last counts
   * as heard.
   */
  private hearMarkers(markers: readonly DeletionMarker[]): void {
    for (const m of markers)
      if (this.hearDeletion(m.accountId, m.seq))
        this.emitLocal({ kind: 'delete', accountId: m.accountId, deletion: m.seq });
    const last = markers.at(-1)?.seq;
    if (last !== undefined) this.heardUpTo(last);
  }

  /** Every deletion up to `seq` has been heard of, and so have those heard ahead that follow without a gap. */
  private heardUpTo(seq: number): void {
    if (seq <= this.deletionsHeard) return;
    this.deletionsHeard = seq;
    for (const ahead of this.heardAhead) if (ahead <= seq) this.heardAhead.delete(ahead);
    while (this.heardAhead.delete(this.deletionsHeard + 1)) this.deletionsHeard++;
  }

  /**
   * An account's data was deleted (by any process). An answer's record waits in this process's queue for a
   * few milliseconds; committed after the deletion, it would undo it: the account's queued writes are
   * dropped. deletionsHeard is the number up to which every deletion has been heard of; one heard of out
   * of order (an earlier notification late or lost) waits in heardAhead until the gap is filled, so that a
   * batch still reads the markers of the gap. A deletion heard of again (this process's own, then its
   * notification; a marker a batch reads) is ignored: the writes queued since are the account's new
   * requests. True when the deletion was new.
   */
  private hearDeletion(accountId: string, seq: number | undefined): boolean {
    if (seq !== undefined) {
      if (seq <= this.deletionsHeard || this.heardAhead.has(seq)) return false;
      if (seq === this.deletionsHeard + 1) this.heardUpTo(seq);
      else this.heardAhead.add(seq);
    }
    const dropped = this.batcher.discardAccount(accountId);
    if (dropped > 0) this.logger.info({ dropped }, 'dropped queued writes of an account whose data was deleted');
    return true;
  }

  hashApiKey(key: string): string {
    return hashApiKey(key);
  }

  // ---- accounts and API keys

  async createAccount(name: string): Promise<Account> {
    checkAccountName(name);
    const id = newAccountId();
    try {
      const [row] = (await this.knex('accounts')
        .insert({ id, name })
        .returning(['id', 'name', 'created_at'])) as Record<string, unknown>[];
      return { id: String(row?.id), name: String(row?.name), createdAt: row?.created_at as Date };
    } catch (error) {
      throw wrapQueryError(error, 'creating an account');
    }
  }

  async getAccount(accountId: string): Promise<Account | null> {
    checkAccountId(accountId);
    const row = (await this.run('reading an account', () => this.knex('accounts').where({ id: accountId }).first())) as
      Record<string, unknown> | undefined;
    return row === undefined ? null : { id: String(row.id), name: String(row.name), createdAt: row.created_at as Date };
  }

  async createApiKey(accountId: string): Promise<CreatedApiKey> {
    checkAccountId(accountId);
    const key = newApiKey();
    const id = newApiKeyId();
    const prefix = key.slice(0, API_KEY_DISPLAY_LENGTH);
    try {
      await this.knex('api_keys').insert({ account_id: accountId, id, key_hash: hashApiKey(key), prefix });
    } catch (error) {
      if (errorCodeOf(error) === '23503') {
        throw new StoreError(
          'NOT_FOUND',
          'ACCOUNT_NOT_FOUND',
          `account ${accountId} was not found: create the account before its API keys`,
        );
      }
      throw wrapQueryError(error, 'creating an API key');
    }
    return { id, key, prefix };
  }

  async listApiKeys(accountId: string): Promise<ApiKeyInfo[]> {
    checkAccountId(accountId);
    const rows = (await this.run('listing API keys', () =>
      this.knex('api_keys')
        .where({ account_id: accountId })
        .orderBy([{ column: 'created_at' }, { column: 'id' }]),
    )) as Record<string, unknown>[];
    return rows.map((row) => ({
      id: String(row.id),
      accountId: String(row.account_id),
      prefix: String(row.prefix),
      createdAt: row.created_at as Date,
      revokedAt: (row.revoked_at as Date | null) ?? null,
    }));
  }

  async findAccountByKeyHash(keyHash: string): Promise<{ accountId: string; keyId: string } | null> {
    if (!isHex64(keyHash))
      throw StoreError.invalid('keyHash is invalid: pass hashApiKey(key), 64 lowercase hex characters');
    const row = (await this.run('looking up an API key', () =>
      this.knex('api_keys').select('account_id', 'id').where({ key_hash: keyHash }).whereNull('revoked_at').first(),
    )) as Record<string, unknown> | undefined;
    return row === undefined ? null : { accountId: String(row.account_id), keyId: String(row.id) };
  }

  async revokeApiKey(accountId: string, keyId: string): Promise<void> {
    checkAccountId(accountId);
    const notFound = new StoreError(
      'NOT_FOUND',
      'API_KEY_NOT_FOUND',
      'API key was not found for this account: check the key id (key_...)',
    );
    if (!isApiKeyId(keyId)) throw notFound;
    const updated = await this.run('revoking an API key', () =>
      this.knex.transaction(async (trx) => {
        const rows = await trx('api_keys')
          .where({ account_id: accountId, id: keyId })
          .update({ revoked_at: trx.raw('coalesce(revoked_at, now())') })
          .returning('id');
        // Every replica's cache of verified keys forgets them when this commits.
        if (rows.length > 0) await notifyChange(trx, { kind: 'keys', accountId, origin: this.instanceId });
        return rows;
      }),
    );
    if (updated.length === 0) throw notFound;
    this.emitLocal({ kind: 'keys', accountId });
  }

  // ---- batched writes

  get pendingWrites(): number {
    return this.batcher.pendingCount;
  }

  enqueue(write: EntryWrite): Promise<void> {
    return this.batcher.enqueue(write);
  }

  flush(): Promise<void> {
    return this.batcher.flush();
  }

  private async commitBatch(taken: MergedBatch): Promise<void> {
    await this.knex.transaction(async (trx) => {
      // Shared with other writers, exclusive with a deletion of one of these accounts (see deleteAccountData).
      await lockAccounts(trx, taken.accountIds, 'shared');
      const batch = await this.withoutUnheardDeletions(trx, taken);
      if (batch.accountIds.size === 0) return;
      if (batch.entries.length > 0) await insertEntries(trx, batch.entries);
      await writeDeltas(trx, batch.accountCells, batch.counters);
      await notifyChange(trx, { kind: 'cells', accountIds: [...batch.accountIds], origin: this.instanceId });
    });
  }

  /**
   * The batch without its writes of accounts deleted since the batch was taken from the queue, as far as
   * this process knew then: a deletion whose notification was still on its way found those writes neither
   * queued (to drop) nor committed (to delete), and they may predate it. Every deletion read here is heard
   * of, so that the writes still queued for the account are dropped too.
   */
  private async withoutUnheardDeletions(trx: Knex.Transaction, batch: MergedBatch): Promise<MergedBatch> {
    const markers = await deletionsAfter(trx, batch.deletionsSeen.upTo);
    if (markers.length === 0) return batch;
    this.hearMarkers(markers);
    // A deletion heard of before the batch was taken had the account's queued writes discarded then: what
    // the batch holds of the account came after it.
    const unheard = markers.filter((deletion) => !batch.deletionsSeen.ahead.has(deletion.seq));
    const kept = withoutAccounts(batch, new Set(unheard.map((deletion) => deletion.accountId)));
    const dropped = batch.entries.length - kept.entries.length;
    if (dropped > 0) this.logger.info({ dropped }, 'dropped batched writes of an account whose data was deleted');
    return kept;
  }

  // ---- entries

  private entriesWithRatings(): Knex.QueryBuilder {
    return this.knex('request_entries as e')
      .leftJoin('ratings as r', function () {
        this.on('r.account_id', '=', 'e.account_id').andOn('r.request_id', '=', 'e.id');
      })
      .select(
        'e.*',
        'r.account_id as r_account_id',
        'r.request_id as r_request_id',
        'r.score as r_score',
        'r.is_helpful as r_is_helpful',
        'r.quality as r_quality',
        'r.created_at as r_created_at',
        'r.updated_at as r_updated_at',
      );
  }

  private listedFromRow(row: Record<string, unknown>): ListedEntry {
    return {
      ...entryFromRow(row),
      rating: row.r_request_id === null || row.r_request_id === undefined ? null : ratingFromRow(row, 'r_'),
    };
  }

  async getEntry(accountId: string, requestId: string): Promise<ListedEntry> {
    checkAccountId(accountId);
    if (!isRequestId(requestId)) throw notFoundEntry(requestId);
    if (this.batcher.isPending(accountId, requestId)) await this.batcher.flush();
    const row = (await this.run('reading an entry', () =>
      this.entriesWithRatings().where({ 'e.account_id': accountId, 'e.id': requestId }).first(),
    )) as Record<string, unknown> | undefined;
    if (row === undefined) throw notFoundEntry(requestId);
    return this.listedFromRow(row);
  }

  async listEntries(accountId: string, options: ListEntriesOptions = {}): Promise<EntryPage> {
    checkAccountId(accountId);
    const pageSize = options.pageSize ?? 50;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000)
      throw StoreError.invalid('page_size is invalid: use an integer from 1 to 1000', 'INVALID_OPTION');
    const queryType = options.queryType ?? null;
    if (queryType !== null) checkQueryType(queryType, 'query_type');
    if (options.since !== undefined && (!(options.since instanceof Date) || Number.isNaN(options.since.getTime())))
      throw StoreError.invalid('since is invalid: use a valid Date', 'INVALID_OPTION');
    const since = options.since?.toISOString() ?? null;
    const after =
      options.pageToken === undefined || options.pageToken === ''
        ? null
        : decodePageToken(options.pageToken, queryType, since);

    const query = this.entriesWithRatings().where('e.account_id', accountId);
    if (queryType !== null) query.andWhere('e.query_type', queryType);
    if (since !== null) query.andWhere('e.created_at', '>=', options.since as Date);
    if (after !== null) query.andWhereRaw('(e.created_at, e.id) < (?::timestamptz, ?)', [after.t, after.id]);
    query.orderBy([
      { column: 'e.created_at', order: 'desc' },
      { column: 'e.id', order: 'desc' },
    ]);
    query.limit(pageSize + 1);
    const rows = (await this.run('listing entries', () => query)) as Record<string, unknown>[];
    const entries = rows.slice(0, pageSize).map((row) => this.listedFromRow(row));
    const last = entries[entries.length - 1];
    const nextPageToken =
      rows.length > pageSize && last !== undefined
        ? encodePageToken({ t: last.createdAt.toISOString(), id: last.id, qt: queryType, since })
        : null;
    return { entries, nextPageToken };
  }

  async countEntries(accountId?: string): Promise<number> {
    if (accountId !== undefined) checkAccountId(accountId);
    const query = this.knex('request_entries').count({ count: '*' });
    if (accountId !== undefined) query.where({ account_id: accountId });
    const [row] = (await this.run('counting entries', () => query)) as { count: unknown }[];
    return Number(row?.count ?? 0);
  }

  // ---- ratings

  async rateRequest(
    accountId: string,
    requestId: string,
    compute: (entry: RequestEntry, previous: Rating | null) => RatingComputation,
  ): Promise<RatingResult> {
    checkAccountId(accountId);
    const [outcome] = await this.rateRequests([{ accountId, requestId, compute }]);
    if (outcome instanceof StoreError) {
      // The caller's own computation failed: its error is the caller's to read, unchanged.
      if (outcome.reason === 'RATING_REFUSED') throw outcome.cause;
      throw outcome;
    }
    return outcome as RatingResult;
  }

  async rateRequests(items: readonly RatingRequest[]): Promise<(RatingResult | StoreError)[]> {
    const slots: (RatingResult | StoreError | undefined)[] = new Array(items.length).fill(undefined);
    const valid: number[] = [];
    items.forEach((item, i) => {
      try {
        checkAccountId(item.accountId);
      } catch (error) {
        slots[i] = error as StoreError;
        return;
      }
      if (isRequestId(item.requestId)) valid.push(i);
      else slots[i] = notFoundEntry(item.requestId);
    });
    if (valid.length === 0) return slots as (RatingResult | StoreError)[];
    // A rating may follow its completion within the batch delay: commit the entries first.
    if (valid.some((i) => this.batcher.isPending(items[i]!.accountId, items[i]!.requestId))) await this.batcher.flush();
    const rated = await this.withRetry('rating requests', () =>
      this.knex.transaction((trx) => this.rateInTransaction(trx, items, valid)),
    );
    const ratedAccounts = new Set<string>();
    for (const [i, outcome] of rated) {
      slots[i] = outcome;
      if (!(outcome instanceof Error)) ratedAccounts.add(items[i]!.accountId);
    }
    // This process hears its own changes at once; other processes through the notification (NOTIFY).
    for (const accountId of ratedAccounts) this.emitLocal({ kind: 'rating', accountId });
    return slots as (RatingResult | StoreError)[];
  }

  /**
   * The statements of a batch of ratings: lock the entries (key order), read their ratings (after the lock,
   * so that a rating committed meanwhile is seen), compute in item order, then one statement writes the
   * final rating of each request, the merged cell and counter deltas and the notifications.
   */
  private async rateInTransaction(
    trx: Knex.Transaction,
    items: readonly RatingRequest[],
    indexes: readonly number[],
  ): Promise<Map<number, RatingResult | StoreError>> {
    const keyOf = (accountId: string, requestId: string) => `${accountId}\u0000${requestId}`;
    const unique = new Map<string, { accountId: string; requestId: string }>();
    for (const i of indexes) {
      const { accountId, requestId } = items[i]!;
      unique.set(keyOf(accountId, requestId), { accountId, requestId });
    }
    const keys = [...unique.values()];
    // Before any row lock: a deletion of one of these accounts finishes first, or waits for this rating.
    await lockAccounts(
      trx,
      keys.map((k) => k.accountId),
      'shared',
    );
    const { entries, now } = await lockEntries(trx, keys);
    const found = keys.filter((k) => entries.has(keyOf(k.accountId, k.requestId)));
    const current = found.length > 0 ? await loadRatings(trx, found) : new Map<string, Rating>();

    const outcomes = new Map<number, RatingResult | StoreError>();
    const pending: { index: number; key: string; entry: RequestEntry; previous: Rating | null; input: RatingInput }[] =
      [];
    const accountCells = new Map<string, CellDelta>();
    const counters = new Map<string, CounterDelta>();
    const finalRatings = new Map<string, RatingRow>();
    for (const i of indexes) {
      const { accountId, requestId, compute } = items[i]!;
      const key = keyOf(accountId, requestId);
      const entry = entries.get(key);
      if (entry === undefined) {
        outcomes.set(i, notFoundEntry(requestId));
        continue;
      }
      const previous = current.get(key) ?? null;
      let computed: RatingComputation;
      try {
        computed = compute(entry, previous);
      } catch (error) {
        outcomes.set(
          i,
          new StoreError(
            'FAILED_PRECONDITION',
            'RATING_REFUSED',
            `the rating computation refused request ${requestId}: the cause says why`,
            { cause: error },
          ),
        );
        continue;
      }
      try {
        checkRatingInput(computed.rating);
        checkCellSums(computed.cellDelta, 'cellDelta');
        if (computed.counterDelta !== undefined) checkCounterIncrements(computed.counterDelta, 'counterDelta');
      } catch (error) {
        outcomes.set(i, error as StoreError);
        continue;
      }
      const input: RatingInput = {
        score: computed.rating.score,
        isHelpful: computed.rating.isHelpful,
        quality: computed.rating.quality,
      };
      // What the next rating of the same request in this batch sees as its previous one.
      current.set(key, { accountId, requestId, ...input, createdAt: previous?.createdAt ?? now, updatedAt: now });
      finalRatings.set(key, { accountId, requestId, ...input });
      pending.push({ index: i, key, entry, previous, input });

      const ck = cellKey(accountId, entry.queryType, entry.model);
      let cell = accountCells.get(ck);
      if (cell === undefined) {
        cell = { accountId, queryType: entry.queryType, model: entry.model, delta: zeroSums() };
        accountCells.set(ck, cell);
      }
      addSums(cell.delta, computed.cellDelta);
      if (computed.counterDelta !== undefined) {
        const counterKey = `${accountId}\u0000${entry.queryType}`;
        let counter = counters.get(counterKey);
        if (counter === undefined) {
          counter = { accountId, queryType: entry.queryType };
          counters.set(counterKey, counter);
        }
        addCounters(counter, computed.counterDelta);
      }
    }
    if (pending.length === 0) return outcomes;

    const accounts = [...new Set(pending.map((p) => p.entry.accountId))].sort();
    const stored = await applyRatings(trx, {
      ratings: [...finalRatings.values()],
      accountCells: [...accountCells.values()],
      counters: [...counters.values()],
      notifications: accounts.map((accountId) => encodeChange({ kind: 'rating', accountId })),
    });
    for (const p of pending) {
      const row = stored.get(p.key) as Rating;
      // Every rating of the batch carries the times of the stored row (now() is the transaction's time).
      outcomes.set(p.index, {
        entry: p.entry,
        rating: { ...row, ...p.input },
        previous: p.previous,
      });
    }
    return outcomes;
  }

  // ---- windowed statistics

  async windowedModelStats(accountId: string, options: WindowedModelStatsOptions): Promise<WindowedModelStat[]> {
    checkAccountId(accountId);
    if (!(options.since instanceof Date) || Number.isNaN(options.since.getTime()))
      throw StoreError.invalid('since is invalid: use a valid Date', 'INVALID_OPTION');
    if (options.queryType !== undefined) checkQueryType(options.queryType, 'queryType');
    if (!(Number.isFinite(options.ratingWeight) && options.ratingWeight > 0))
      throw StoreError.invalid(
        "ratingWeight is invalid: use the scoring configuration's rating weight, a positive number",
        'INVALID_OPTION',
      );
    // Entries written by this process and still queued belong to the window too.
    if (this.batcher.pendingCount > 0) await this.batcher.flush();
    return this.run('computing window statistics', () => aggregateWindow(this.knex, accountId, options));
  }

  // ---- cells and counters

  async loadAccountCells(accountId: string): Promise<AccountCell[]> {
    checkAccountId(accountId);
    const rows = (await this.run('loading account cells', () =>
      this.knex('account_cells').where({ account_id: accountId }).orderBy(['query_type', 'model']),
    )) as Record<string, unknown>[];
    return rows.map(accountCellFromRow);
  }

  async loadGlobalCells(options: { minContributors?: number } = {}): Promise<GlobalCell[]> {
    const min = options.minContributors ?? 0;
    const rows = (await this.run('loading global cells', () =>
      this.knex('global_cells').where('contributors', '>=', min).orderBy(['query_type', 'model']),
    )) as Record<string, unknown>[];
    return rows.map(globalCellFromRow);
  }

  async loadCounters(accountId: string): Promise<AccountCounters[]> {
    checkAccountId(accountId);
    const rows = (await this.run('loading counters', () =>
      this.knex('account_counters').where({ account_id: accountId }).orderBy('query_type'),
    )) as Record<string, unknown>[];
    return rows.map(countersFromRow);
  }

  // ---- deletion

  async deleteAccountData(accountId: string): Promise<DeletionResult> {
    checkAccountId(accountId);
    // Writes this process acknowledged or queued for the account land first, then are deleted with the rest.
    await this.batcher.flush();
    const result = await this.withRetry('deleting account data', () =>
      this.knex.transaction(async (trx) => {
        // Every batch commit and rating of the account holds this lock shared from its start to its end, on
        // any process: the deletion waits for those in progress, and those that come after see the account
        // deleted. Without it, a batch committing between the DELETE of the entries and the lock of the
        // cells (READ COMMITTED) would leave its entries behind while its cell deltas are subtracted.
        await lockAccounts(trx, [accountId], 'exclusive');
        // Entries first, then their ratings, then the cells: the lock order of every writer (a rating locks
        // its entry, then writes its rating row and cell). The ratings are deleted before the entries only
        // to count them; the entries are locked already, so no rating of them can come in between.
        await trx.raw(
          'select count(*) from (select 1 from request_entries where account_id = ? order by id for update) e',
          [accountId],
        );
        const ratings = await deleteRows(trx, 'ratings', accountId);
        const entries = await deleteRows(trx, 'request_entries', accountId);
        // Byte order (collate "C"), the order of the keys every batch sorts in JavaScript: under a database's
        // linguistic collation (en_US and the like order '-', '.' and case otherwise) a deletion and a batch
        // would lock the same cells in different orders and deadlock.
        await trx.raw(
          'select 1 from account_cells where account_id = ? order by query_type collate "C", model collate "C" for update',
          [accountId],
        );
        await trx.raw(
          `select 1 from global_cells where (query_type, model) in (select query_type, model from account_cells where account_id = ?)
           order by query_type collate "C", model collate "C" for update`,
          [accountId],
        );
        await trx.raw(
          `update global_cells g set ${SUBTRACT_ACCOUNT_FROM_GLOBAL}
           from account_cells a where a.account_id = ? and g.query_type = a.query_type and g.model = a.model`,
          [accountId],
        );
        // A global cell no other account has a cell of any more is removed, as if the account had never
        // existed (one that others' failed calls still hold stays, with no contributor).
        await trx.raw(
          `delete from global_cells g where (g.query_type, g.model) in (select query_type, model from account_cells where account_id = ?)
           and not exists (select 1 from account_cells a where a.query_type = g.query_type and a.model = g.model and a.account_id <> ?)`,
          [accountId, accountId],
        );
        const cells = await deleteRows(trx, 'account_cells', accountId);
        const counters = await deleteRows(trx, 'account_counters', accountId);
        const deletion = await recordDeletion(trx, accountId);
        await notifyChange(trx, { kind: 'delete', accountId, deletion });
        // This deletion and every earlier one this process has not heard of yet (their notifications late or
        // lost): hearing only its own would count those as heard, and no batch would read their markers.
        const markers = await deletionsAfter(trx, this.deletionsHeard);
        return { counts: { entries, ratings, cells, counters }, markers };
      }),
    );
    this.hearMarkers(result.markers);
    return result.counts;
  }

  /**
   * Tells this process's listeners of a committed change without waiting for the database's notification,
   * so that the next routing decision here sees a rating or a deletion at once. The notification still
   * arrives later; listeners treat events idempotently.
   */
  private emitLocal(event: ChangeEvent): void {
    if (this.subscription !== undefined) this.hub.emit({ ...event, origin: this.instanceId });
  }

  // ---- notifications, dump, close

  onChange(listener: ChangeListener): () => void {
    if (this.subscription === undefined) {
      throw new StoreError(
        'FAILED_PRECONDITION',
        'INVALID_OPTION',
        'this store was opened with listen: false: open it with listen: true to receive changes',
      );
    }
    return this.hub.add(listener);
  }

  async dumpAll(): Promise<Record<StoreTable, Record<string, unknown>[]>> {
    const out = {} as Record<StoreTable, Record<string, unknown>[]>;
    for (const table of STORE_TABLES) {
      out[table] = (await this.run('dumping tables', () => this.knex(table).select('*'))) as Record<string, unknown>[];
    }
    return out;
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      try {
        await this.batcher.close();
      } finally {
        await this.subscription?.close();
        await this.knex.destroy();
        this.logger.info({ database: this.db.description }, 'store closed');
      }
    })();
    return this.closed;
  }

  private async run<T>(what: string, query: () => PromiseLike<T>): Promise<T> {
    try {
      return await query();
    } catch (error) {
      throw wrapQueryError(error, what);
    }
  }

  /** Runs a transaction again after a deadlock or a dropped connection; `work` must be safe to repeat. */
  private async withRetry<T>(what: string, work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (error instanceof StoreError || attempt >= 4 || !isTransientDatabaseError(error))
          throw wrapQueryError(error, what);
        await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt));
      }
    }
  }
}

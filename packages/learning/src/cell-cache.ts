import {
  addCells,
  copyCell,
  emptyCell,
  globalCell,
  withContributors,
  type CellSums,
  type GlobalCellSums,
} from '@routeplex/scoring';
import type { AccountCell, GlobalCell, Store, StoreLogger } from '@routeplex/store';

/** model id -> cell */
export type ModelCells<T extends CellSums = CellSums> = Map<string, T>;
/** query type -> model id -> cell */
export type TypeCells<T extends CellSums = CellSums> = Map<string, ModelCells<T>>;

export interface CellDeltaInput {
  queryType: string;
  model: string;
  delta: CellSums;
}

/** One scope's cells: per query type, and per model summed over every type (the prior of a type's estimate). */
export interface ScopeCells<T extends CellSums = CellSums> {
  byType: TypeCells<T>;
  pooled: ModelCells<T>;
}

type CellSource = Pick<Store, 'loadAccountCells' | 'loadGlobalCells' | 'onChange' | 'instanceId'>;

export interface LearningCacheOptions {
  maxAccounts: number;
  globalRefreshDebounceMs: number;
  /**
   * This replica's own batches only confirm deltas it already applied; it re-reads an account after
   * them at most this often, to pick up whatever a reload in between may have missed.
   */
  ownBatchRefreshMs: number;
  /** Hears of reloads that failed in the background, where no caller is left to throw to. */
  logger: Pick<StoreLogger, 'warn'>;
}

const defaultOptions: LearningCacheOptions = {
  maxAccounts: 10_000,
  globalRefreshDebounceMs: 200,
  ownBatchRefreshMs: 1000,
  logger: { warn() {} },
};

interface AccountEntry {
  cells: Promise<ScopeCells>;
  loadedAt: number;
  /** Set when a batch changed the account: the next use reloads in the background and serves these meanwhile. */
  stale: boolean;
  /**
   * The read may lack a delta of this replica whose batch had not committed yet (the account was read again
   * soon after a local delta), or may hold one it also replayed: read again on the first use at least
   * ownBatchRefreshMs after loading. The replica's own batches re-read an account at most that often, and an
   * idle account hears no more of them.
   */
  recheck: boolean;
  /** The background reload in flight, if any. */
  refresh?: AccountRefresh;
}

/**
 * What a background reload cannot see in the rows it reads. Its read may come before the batches of the
 * deltas applied meanwhile commit, so they are replayed on top of it; and a change notified meanwhile may
 * or may not be in it, so the reloaded cells are as stale as the served ones would have been.
 */
interface AccountRefresh {
  startedAt: number;
  deltas: CellDeltaInput[];
  missed: boolean;
}

/**
 * The cells a replica routes with. In the steady state a decision reads only memory: an account's cells
 * are loaded once and kept current by the replica's own deltas, applied at once, before their batch
 * reaches the database. Change notifications keep replicas in step: a rating or a deletion drops the
 * account, so that the very next decision reloads it; a committed batch marks the account stale, so that
 * it is refreshed in the background while decisions go on with what is in memory.
 */
export class LearningCache {
  private global: ScopeCells<GlobalCellSums> = { byType: new Map(), pooled: new Map() };
  private readonly accounts = new Map<string, AccountEntry>();
  private globalReload: Promise<void> | undefined;
  /** A change came in while the global reload was reading, which its read may predate. */
  private globalDirty = false;
  private globalTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly options: LearningCacheOptions;
  /** When this replica last applied a delta of each account (kept when the account is dropped). */
  private readonly localAt = new Map<string, number>();

  constructor(
    private readonly source: CellSource,
    options: Partial<LearningCacheOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.options = { ...defaultOptions, ...options };
  }

  async start(): Promise<void> {
    this.unsubscribe = this.source.onChange((event) => {
      if (event.kind === 'rating' || event.kind === 'delete') {
        if (event.accountId) this.accounts.delete(event.accountId);
        this.reloadGlobalInBackground();
      } else if (event.kind === 'cells') {
        const own = event.origin !== undefined && event.origin === this.source.instanceId;
        const oldEnough = this.now() - (own ? this.options.ownBatchRefreshMs : 0);
        const mark = (entry: AccountEntry | undefined) => {
          if (entry?.refresh) {
            if (entry.refresh.startedAt <= oldEnough) entry.refresh.missed = true;
          } else if (entry && entry.loadedAt <= oldEnough) entry.stale = true;
        };
        if (event.accountIds) for (const id of event.accountIds) mark(this.accounts.get(id));
        else for (const entry of this.accounts.values()) mark(entry);
        this.scheduleGlobalReload(own ? this.options.ownBatchRefreshMs : this.options.globalRefreshDebounceMs);
      }
    });
    await this.reloadGlobal();
  }

  close(): void {
    this.unsubscribe?.();
    if (this.globalTimer) clearTimeout(this.globalTimer);
  }

  /** This account's cells: one query type's, and every model's pooled over all types. */
  async personal(accountId: string, queryType: string): Promise<{ cells: ModelCells; pooled: ModelCells }> {
    const scope = await this.accountCells(accountId);
    return { cells: scope.byType.get(queryType) ?? new Map(), pooled: scope.pooled };
  }

  /** Global cells for one query type and pooled, with contributor counts (not yet gated by K). */
  globalCells(queryType: string): { cells: ModelCells<GlobalCellSums>; pooled: ModelCells<GlobalCellSums> } {
    return { cells: this.global.byType.get(queryType) ?? new Map(), pooled: this.global.pooled };
  }

  /** Applies a replica's own deltas at once, so that the next decision in this process sees them. */
  applyLocal(accountId: string, deltas: readonly CellDeltaInput[]): void {
    this.localAt.delete(accountId);
    this.localAt.set(accountId, this.now());
    if (this.localAt.size > this.options.maxAccounts) this.localAt.delete(this.localAt.keys().next().value!);
    const entry = this.accounts.get(accountId);
    entry?.refresh?.deltas.push(...deltas);
    // A load that fails drops the entry, and these deltas with it.
    entry?.cells.then(
      (scope) => {
        for (const d of deltas) {
          // A contributor is an account with an answered request in the cell (as the store counts them).
          const answeredBefore = (scope.byType.get(d.queryType)?.get(d.model)?.requests ?? 0) > 0;
          addInto(scope, d.queryType, d.model, d.delta, accountCell);
          const g = this.global.byType.get(d.queryType)?.get(d.model);
          if (!answeredBefore && d.delta.requests > 0 && g) g.contributors += 1;
        }
      },
      () => undefined,
    );
    for (const d of deltas) addInto(this.global, d.queryType, d.model, d.delta, globalSum);
  }

  /** Forgets an account: its next request reloads it from the store. */
  dropAccount(accountId: string): void {
    this.accounts.delete(accountId);
  }

  /**
   * Resolves once the global cells were read after this call: a request that comes while a read is in
   * flight runs one more read after it, shared with every request that comes meanwhile.
   */
  reloadGlobal(): Promise<void> {
    if (this.globalReload) {
      this.globalDirty = true;
      return this.globalReload;
    }
    const run = async (): Promise<void> => {
      for (;;) {
        this.globalDirty = false;
        let failure: { error: unknown } | undefined;
        try {
          this.global = scopeOf(await this.source.loadGlobalCells());
        } catch (error) {
          failure = { error };
        }
        // Decided in the same turn as the read lands, so that a request cannot join a run that is over.
        if (!this.globalDirty) {
          this.globalReload = undefined;
          if (failure) throw failure.error;
          return;
        }
      }
    };
    this.globalReload = run();
    return this.globalReload;
  }

  /**
   * A failed reload leaves the cells in memory in use: they are what this replica last knew, and the
   * next change or timer reads again.
   */
  private reloadGlobalInBackground(): void {
    this.reloadGlobal().catch((error: unknown) => {
      this.options.logger.warn(
        { cause: error instanceof Error ? error.message : String(error) },
        'reloading the global cells failed; serving the cells in memory until the next change',
      );
    });
  }

  private scheduleGlobalReload(delayMs: number): void {
    if (this.globalTimer) return;
    this.globalTimer = setTimeout(() => {
      this.globalTimer = undefined;
      this.reloadGlobalInBackground();
    }, delayMs);
    this.globalTimer.unref();
  }

  private accountCells(accountId: string): Promise<ScopeCells> {
    const cached = this.accounts.get(accountId);
    // Not while a reload is in flight: a second one would take over the deltas the first must replay.
    if (cached?.recheck && !cached.refresh && this.now() - cached.loadedAt >= this.options.ownBatchRefreshMs) {
      cached.recheck = false;
      cached.stale = true;
    }
    if (cached && !cached.stale) return cached.cells;
    if (cached) {
      // Serve what is in memory and swap in the fresh cells when they arrive.
      cached.stale = false;
      const refresh: AccountRefresh = { startedAt: this.now(), deltas: [], missed: false };
      cached.refresh = refresh;
      this.load(accountId).then(
        (scope) => {
          if (this.accounts.get(accountId) !== cached) return;
          for (const d of refresh.deltas) addInto(scope, d.queryType, d.model, d.delta, accountCell);
          this.accounts.set(accountId, {
            cells: Promise.resolve(scope),
            stale: refresh.missed,
            // A replayed delta whose batch committed before the read began is in the rows already.
            recheck: refresh.deltas.length > 0,
            loadedAt: refresh.startedAt,
          });
        },
        () => {
          cached.refresh = undefined;
          cached.stale = true;
        },
      );
      return cached.cells;
    }
    if (this.accounts.size >= this.options.maxAccounts) {
      const oldest = this.accounts.keys().next().value;
      if (oldest !== undefined) this.accounts.delete(oldest);
    }
    const now = this.now();
    const entry: AccountEntry = {
      cells: this.load(accountId),
      stale: false,
      recheck: now - (this.localAt.get(accountId) ?? -Infinity) < this.options.ownBatchRefreshMs,
      loadedAt: now,
    };
    entry.cells.catch(() => {
      if (this.accounts.get(accountId) === entry) this.accounts.delete(accountId);
    });
    this.accounts.set(accountId, entry);
    return entry.cells;
  }

  private load(accountId: string): Promise<ScopeCells> {
    return this.source.loadAccountCells(accountId).then((rows) => scopeOf(rows));
  }
}

/**
 * Rows become plain cells (copyCell, globalCell) rather than being kept as they are: a row carries
 * columns a decision never reads, and one object layout for all cells keeps the decision fast.
 */
function scopeOf(rows: readonly AccountCell[]): ScopeCells;
function scopeOf(rows: readonly GlobalCell[]): ScopeCells<GlobalCellSums>;
function scopeOf(rows: readonly (AccountCell | GlobalCell)[]): ScopeCells | ScopeCells<GlobalCellSums> {
  const scope: ScopeCells<CellSums> = { byType: new Map(), pooled: new Map() };
  for (const row of rows) {
    const pooled = scope.pooled.get(row.model);
    const sum = addCells(pooled ?? emptyCell(), row);
    if ('contributors' in row) {
      getOrCreate(scope.byType, row.queryType).set(row.model, globalCell(row, row.contributors));
      // A pooled global cell is backed by at least as many accounts as its best-backed type.
      const contributors = Math.max((pooled as GlobalCellSums | undefined)?.contributors ?? 0, row.contributors);
      scope.pooled.set(row.model, withContributors(sum, contributors));
    } else {
      getOrCreate(scope.byType, row.queryType).set(row.model, copyCell(row));
      scope.pooled.set(row.model, sum);
    }
  }
  return scope;
}

/** Adds a delta to a type's cell and to the model's pooled cell; a delta does not change contributor counts here. */
function addInto<T extends CellSums>(
  scope: ScopeCells<T>,
  queryType: string,
  model: string,
  delta: CellSums,
  asScopeCell: (sum: CellSums, prev: T | undefined) => T,
): void {
  for (const map of [getOrCreate(scope.byType, queryType), scope.pooled]) {
    const prev = map.get(model);
    map.set(model, asScopeCell(addCells(prev ?? emptyCell(), delta), prev));
  }
}

const accountCell = (sum: CellSums): CellSums => sum;
const globalSum = (sum: CellSums, prev: GlobalCellSums | undefined): GlobalCellSums =>
  withContributors(sum, prev?.contributors ?? 0);

function getOrCreate<T>(map: Map<string, Map<string, T>>, key: string): Map<string, T> {
  let inner = map.get(key);
  if (!inner) {
    inner = new Map();
    map.set(key, inner);
  }
  return inner;
}

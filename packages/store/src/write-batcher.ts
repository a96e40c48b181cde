import { StoreError, isTransientDatabaseError, wrapQueryError } from './errors.js';
import {
  CELL_SUM_FIELDS,
  COUNTER_FIELDS,
  type CellDelta,
  type CellSums,
  type CounterDelta,
  type CounterIncrements,
  type EntryWrite,
  type RequestEntry,
  type StoreLogger,
} from './types.js';
import { checkWrite } from './validation.js';

/** The sum of an account cell's deltas in a batch. */
export interface MergedCellDelta extends CellDelta {
  /**
   * How many of the summed deltas were answered requests (requests > 0). Kept apart from the scaled sums:
   * whether an account already answered in a cell must be exact, and a scaled sum years older than the
   * delta is far below its rounding error.
   */
  answers: number;
}

/** A batch of writes, merged: every cell key and counter key appears once, with the sum of its deltas. */
export interface MergedBatch {
  entries: RequestEntry[];
  /** Keyed by account, query type and model; iteration follows insertion order (sort before writing). */
  accountCells: Map<string, MergedCellDelta>;
  counters: Map<string, CounterDelta>;
  accountIds: Set<string>;
  /**
   * The deletions this process had heard of when it took the writes from its queue: any other may have
   * committed after some of these writes were acknowledged.
   */
  deletionsSeen: DeletionsSeen;
}

/** Account deletions heard of, by their numbers (deletions are numbered in commit order). */
export interface DeletionsSeen {
  /** Every deletion up to this number. */
  upTo: number;
  /** And these above it, heard of out of order (an earlier one's notification late or lost). */
  ahead: ReadonlySet<number>;
}

export const NO_DELETIONS_SEEN: DeletionsSeen = Object.freeze({ upTo: 0, ahead: new Set<number>() });

export function zeroSums(): CellSums {
  return { n: 0, q: 0, q2: 0, requests: 0, ratings: 0, failures: 0, latencyMs: 0, costUsd: 0, latencyHist: [] };
}

/** Element-wise sum; the shorter array counts as padded with zeros. */
export function addHistograms(a: readonly number[], b: readonly number[]): number[] {
  const out = new Array<number>(Math.max(a.length, b.length));
  for (let i = 0; i < out.length; i++) out[i] = (a[i] ?? 0) + (b[i] ?? 0);
  return out;
}

export function addSums(target: CellSums, delta: CellSums): void {
  for (const field of CELL_SUM_FIELDS) target[field] += delta[field];
  target.latencyHist = addHistograms(target.latencyHist, delta.latencyHist);
}

/** Adds counter increments field by field (absent fields count as 0 and stay absent when both are). */
export function addCounters(target: CounterIncrements, delta: CounterIncrements): void {
  for (const field of COUNTER_FIELDS) {
    const value = delta[field];
    if (value !== undefined) target[field] = (target[field] ?? 0) + value;
  }
}

export function cellKey(accountId: string, queryType: string, model: string): string {
  return `${accountId}\u0000${queryType}\u0000${model}`;
}

export function mergeWrites(writes: readonly EntryWrite[], deletionsSeen = NO_DELETIONS_SEEN): MergedBatch {
  const batch: MergedBatch = {
    entries: [],
    accountCells: new Map(),
    counters: new Map(),
    accountIds: new Set(),
    deletionsSeen,
  };
  for (const write of writes) {
    batch.entries.push(write.entry);
    batch.accountIds.add(write.entry.accountId);
    for (const cell of write.cellDeltas) {
      const key = cellKey(cell.accountId, cell.queryType, cell.model);
      let merged = batch.accountCells.get(key);
      if (merged === undefined) {
        merged = {
          accountId: cell.accountId,
          queryType: cell.queryType,
          model: cell.model,
          delta: zeroSums(),
          answers: 0,
        };
        batch.accountCells.set(key, merged);
      }
      addSums(merged.delta, cell.delta);
      if (cell.delta.requests > 0) merged.answers++;
    }
    const counter = write.counterDelta;
    if (counter !== undefined) {
      const key = `${counter.accountId}\u0000${counter.queryType}`;
      let merged = batch.counters.get(key);
      if (merged === undefined) {
        merged = { accountId: counter.accountId, queryType: counter.queryType };
        batch.counters.set(key, merged);
      }
      addCounters(merged, counter);
    }
  }
  return batch;
}

/** The batch without the writes of these accounts. */
export function withoutAccounts(batch: MergedBatch, accounts: ReadonlySet<string>): MergedBatch {
  const kept = <T extends { accountId: string }>(items: Iterable<[string, T]>) =>
    new Map([...items].filter(([, item]) => !accounts.has(item.accountId)));
  return {
    entries: batch.entries.filter((entry) => !accounts.has(entry.accountId)),
    accountCells: kept(batch.accountCells),
    counters: kept(batch.counters),
    accountIds: new Set([...batch.accountIds].filter((id) => !accounts.has(id))),
    deletionsSeen: batch.deletionsSeen,
  };
}

export interface BatcherOptions {
  /** A batch is committed as soon as this many writes wait (default 500). */
  maxEntries: number;
  /** ... or when the oldest waiting write has waited this long (default 20 ms). */
  maxDelayMs: number;
  /** Writes beyond this many waiting are refused with RESOURCE_EXHAUSTED (default 100,000). */
  maxPending: number;
  /** Attempts for a batch that fails for a transient reason (connection lost, deadlock). */
  attempts: number;
  retryBaseDelayMs: number;
}

export const DEFAULT_BATCHER_OPTIONS: BatcherOptions = {
  maxEntries: 500,
  maxDelayMs: 20,
  maxPending: 100_000,
  attempts: 5,
  retryBaseDelayMs: 50,
};

interface PendingWrite {
  write: EntryWrite;
  key: string;
  /** When it was queued (ms): it waits at most maxDelayMs from then. */
  at: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** A flush() waiting for the writes that were unsettled when it was called. */
interface FlushWaiter {
  remaining: Set<PendingWrite>;
  done: () => void;
}

const silentLogger: StoreLogger = { info() {}, warn() {}, error() {} };

/**
 * Queues entry writes and commits them in merged batches, one commit at a time: writes that arrive while a
 * batch commits form the next batch, so batches grow with load. Each write's promise settles when its batch
 * has committed (or definitively failed); a batch that fails for a reason other than a transient one is
 * retried write by write, so that one bad write cannot take the others down with it.
 */
export class WriteBatcher {
  private queue: PendingWrite[] = [];
  private readonly keys = new Set<string>();
  /** Writes queued or being committed. */
  private readonly unsettled = new Set<PendingWrite>();
  private readonly flushes = new Set<FlushWaiter>();
  private timer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private closed = false;
  /** flush() calls in progress: while any waits, nothing waits for its delay. */
  private forced = 0;

  constructor(
    private readonly commit: (batch: MergedBatch) => Promise<void>,
    private readonly options: BatcherOptions = DEFAULT_BATCHER_OPTIONS,
    private readonly logger: StoreLogger = silentLogger,
    /** The account deletions heard of (see MergedBatch.deletionsSeen). */
    private readonly deletionsSeen: () => DeletionsSeen = () => NO_DELETIONS_SEEN,
  ) {}

  /** Number of writes queued or being committed. */
  get pendingCount(): number {
    return this.keys.size;
  }

  /**
   * Drops the account's writes still waiting in the queue, when its data has been deleted (by any
   * process): committed after the deletion, they would bring back what it removed. Each resolves as if it
   * had been committed and then deleted. Writes already in a committing batch are not touched: a deletion
   * waits for those (the account's advisory lock) and removes them. Returns how many were dropped.
   */
  discardAccount(accountId: string): number {
    const kept: PendingWrite[] = [];
    let dropped = 0;
    for (const p of this.queue) {
      if (p.write.entry.accountId !== accountId) {
        kept.push(p);
        continue;
      }
      dropped++;
      this.keys.delete(p.key);
      this.settle(p);
      p.resolve();
    }
    this.queue = kept;
    return dropped;
  }

  /** Whether a write of this request is queued or being committed by this process. */
  isPending(accountId: string, requestId: string): boolean {
    return this.keys.has(`${accountId}\u0000${requestId}`);
  }

  /**
   * Queues one write. Throws at once (StoreError) when the write is invalid, a write of the same request is
   * already queued, the queue is full or the store is closed; otherwise returns a promise that resolves once
   * the write is committed (or discarded with its account's data, see discardAccount). The promise is
   * marked handled, so callers may leave it un-awaited.
   */
  enqueue(write: EntryWrite): Promise<void> {
    if (this.closed)
      throw new StoreError('FAILED_PRECONDITION', 'STORE_CLOSED', 'the store is closed: open a new store to write');
    checkWrite(write);
    const key = `${write.entry.accountId}\u0000${write.entry.id}`;
    if (this.keys.has(key))
      throw new StoreError(
        'ALREADY_EXISTS',
        'DUPLICATE_REQUEST_ID',
        'a write of this request id is already queued: give every request a new id (newRequestId)',
      );
    if (this.keys.size >= this.options.maxPending) {
      throw new StoreError(
        'RESOURCE_EXHAUSTED',
        'QUEUE_FULL',
        `${this.keys.size} writes are waiting for the database: it is too slow or unreachable; retry later`,
      );
    }
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => undefined);
    const pending: PendingWrite = { write, key, resolve, reject, at: Date.now() };
    this.keys.add(key);
    this.unsettled.add(pending);
    this.queue.push(pending);
    if (this.queue.length >= this.options.maxEntries) this.kick();
    else if (this.timer === undefined && this.loop === undefined)
      this.timer = setTimeout(() => this.kick(), this.options.maxDelayMs);
    return promise;
  }

  /**
   * Resolves when every write queued before the call has been committed or has failed. Writes queued after
   * the call are not waited for (under steady traffic the queue is never empty), though while a flush
   * waits nothing waits for its delay.
   */
  async flush(): Promise<void> {
    if (this.unsettled.size === 0) return;
    this.forced++;
    try {
      const settled = new Promise<void>((done) => this.flushes.add({ remaining: new Set(this.unsettled), done }));
      this.kick();
      await settled;
    } finally {
      this.forced--;
    }
  }

  /** Refuses new writes, then flushes: nothing acknowledged or queued is dropped. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The write is committed or has definitively failed (or was discarded): flushes waiting for it hear so. */
  private settle(p: PendingWrite): void {
    this.unsettled.delete(p);
    for (const waiter of this.flushes) {
      waiter.remaining.delete(p);
      if (waiter.remaining.size === 0) {
        this.flushes.delete(waiter);
        waiter.done();
      }
    }
  }

  private kick(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.loop === undefined && this.queue.length > 0) {
      this.loop = this.drain().finally(() => {
        this.loop = undefined;
        // Writes queued while the loop ran saw it running and set no timer.
        this.schedule();
      });
    }
  }

  /** Commits what is queued now if it is due (full batch, delay passed, or a flush waits), else sets the timer. */
  private schedule(): void {
    if (this.queue.length === 0 || this.loop !== undefined || this.timer !== undefined) return;
    if (this.isDue()) {
      this.kick();
      return;
    }
    const wait = Math.max(0, this.queue[0]!.at + this.options.maxDelayMs - Date.now());
    this.timer = setTimeout(() => this.kick(), wait);
  }

  private isDue(): boolean {
    return (
      this.forced > 0 ||
      this.queue.length >= this.options.maxEntries ||
      Date.now() - this.queue[0]!.at >= this.options.maxDelayMs
    );
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const taken = this.queue.splice(0, this.options.maxEntries);
      await this.commitTaken(taken);
      // Writes that arrived during the commit wait for their own delay unless they are due: otherwise a busy
      // store would fall into committing one write per transaction, back to back.
      if (this.queue.length > 0 && !this.isDue()) break;
    }
  }

  private async commitTaken(taken: PendingWrite[]): Promise<void> {
    // Read as the writes leave the queue: a deletion heard of later has not had them discarded.
    const seen = this.deletionsSeen();
    try {
      await this.commitWithRetry(
        mergeWrites(
          taken.map((p) => p.write),
          seen,
        ),
      );
      for (const p of taken) p.resolve();
    } catch (error) {
      if (taken.length > 1 && !isTransientDatabaseError(error)) {
        this.logger.warn(
          { writes: taken.length, cause: errorName(error) },
          'store batch failed; committing its writes one by one',
        );
        for (const p of taken) {
          try {
            await this.commitWithRetry(mergeWrites([p.write], seen));
            p.resolve();
          } catch (single) {
            this.logger.error({ writes: 1, cause: errorName(single) }, 'store write failed');
            p.reject(wrapQueryError(single, 'writing a request entry'));
          }
        }
      } else {
        this.logger.error({ writes: taken.length, cause: errorName(error) }, 'store batch failed');
        const wrapped = wrapQueryError(error, 'writing a batch of request entries');
        for (const p of taken) p.reject(wrapped);
      }
    } finally {
      for (const p of taken) {
        this.keys.delete(p.key);
        this.settle(p);
      }
    }
  }

  private async commitWithRetry(batch: MergedBatch): Promise<void> {
    // A connection lost during COMMIT leaves unknown whether the transaction committed.
    let maybeCommitted = false;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.commit(batch);
        return;
      } catch (error) {
        if (maybeCommitted && isEntryKeyTaken(error)) {
          // The batch's entries are there: the attempt whose answer was lost committed (with its cells, in
          // the same transaction). Its writes are done; reporting them failed would be wrong.
          this.logger.info({ attempt }, 'store batch had committed before its connection was lost');
          return;
        }
        if (attempt >= this.options.attempts || !isTransientDatabaseError(error)) throw error;
        maybeCommitted = true;
        const delay = Math.min(2000, this.options.retryBaseDelayMs * 2 ** (attempt - 1));
        this.logger.warn(
          { attempt, delayMs: delay, cause: errorName(error) },
          'store batch hit a transient failure; retrying',
        );
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }
}

/** A request entry's primary key already taken (request ids are random, so only by this very batch). */
function isEntryKeyTaken(error: unknown): boolean {
  const e = error as { code?: unknown; constraint?: unknown } | null;
  return typeof e === 'object' && e !== null && e.code === '23505' && e.constraint === 'request_entries_pkey';
}

/** Error class and code only: a database message may quote a value, and logs must never hold user text. */
function errorName(error: unknown): string {
  if (error instanceof StoreError) return `${error.code}/${error.reason}`;
  const code =
    typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : '';
  return `${error instanceof Error ? error.name : typeof error}${code ? ` ${code}` : ''}`;
}

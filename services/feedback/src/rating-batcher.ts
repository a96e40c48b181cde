import { DomainError, type Logger } from '@routeplex/platform';
import { StoreError, type RatingRequest, type RatingResult, type Store } from '@routeplex/store';

export interface RatingBatcherOptions {
  /** A batch is committed as soon as this many ratings wait (default 200). */
  maxItems: number;
  /** ... or when the oldest waiting rating has waited this long (default 5 ms). */
  maxDelayMs: number;
  /** Ratings beyond this many waiting are refused with RESOURCE_EXHAUSTED (default 10,000). */
  maxPending: number;
  /**
   * Batches committing at the same time (default 2), so that ratings arriving while one commits need not
   * wait for it. Use 1 on PGlite, whose single connection runs on the service's own thread: there a second
   * batch only queues, and smaller batches cost more per rating.
   */
  maxInFlight: number;
  /**
   * How long a rating of a request not found is tried again before NOT_FOUND, in ms (default 1000): the
   * router acknowledges an answer before its batch commits, in its own process. The rating waits outside
   * any batch, so the others are not held up.
   */
  notFoundGraceMs: number;
}

export const DEFAULT_RATING_BATCHER_OPTIONS: RatingBatcherOptions = {
  maxItems: 200,
  // Short: callers wait for their batch to commit, so the delay adds to every rating's latency; concurrent
  // ratings still share transactions (1,109/s at 32 callers with 1 ms, 858/s with 5 ms, one run each).
  maxDelayMs: 1,
  maxPending: 10_000,
  maxInFlight: 2,
  notFoundGraceMs: 1000,
};

interface Waiting {
  item: RatingRequest;
  /** When it was submitted (ms), and how often it was tried again for an entry not yet found. */
  since: number;
  retries: number;
  resolve: (result: RatingResult) => void;
  reject: (error: unknown) => void;
}

/**
 * Groups concurrent ratings into one store transaction per batch. A rating's promise settles only after
 * its batch has committed (or failed): a rating is committed before it is acknowledged. A batch starts when
 * maxItems ratings wait or the oldest has waited maxDelayMs; up to maxInFlight batches commit at a time,
 * and ratings that arrive while every slot is busy form the next batch, which starts as soon as a slot
 * frees. So batches grow with load, while a lone rating waits at most maxDelayMs.
 *
 * Two ratings of the same request in different batches may commit in either order (the store serialises
 * them on the entry's lock); ratings of one request sent one after the other apply in order.
 */
export class RatingBatcher {
  private queue: Waiting[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly running = new Set<Promise<void>>();
  /** Ratings waiting to be tried again (their entry was not found yet), settled when they are queued again. */
  private readonly retrying = new Set<Promise<void>>();
  private closed = false;

  private readonly options: RatingBatcherOptions;

  constructor(
    private readonly store: Pick<Store, 'rateRequests'>,
    options: Partial<RatingBatcherOptions> = {},
    private readonly logger?: Logger,
  ) {
    this.options = { ...DEFAULT_RATING_BATCHER_OPTIONS, ...options };
    for (const [field, value] of Object.entries(this.options)) {
      // A grace of 0 answers NOT_FOUND at once; every other option needs at least 1.
      const least = field === 'notFoundGraceMs' ? 0 : 1;
      if (!(Number.isInteger(value) && value >= least))
        throw new DomainError(
          'INVALID_ARGUMENT',
          `rating batcher ${field} must be an integer of at least ${least}; got ${value}`,
        );
    }
  }

  /** Ratings waiting for a batch (not counting those of batches being committed). */
  get pendingCount(): number {
    return this.queue.length;
  }

  /**
   * Rates one request in the next batch. Resolves with its result once the batch has committed; rejects
   * with the store's error for this item (NOT_FOUND, ...), with what `compute` threw, unchanged, or with the
   * batch's error when the transaction could not commit.
   */
  submit(item: RatingRequest): Promise<RatingResult> {
    if (this.closed)
      return Promise.reject(
        new DomainError('UNAVAILABLE', 'the feedback service is shutting down: send the rating again in a moment'),
      );
    if (this.queue.length >= this.options.maxPending)
      return Promise.reject(
        new DomainError(
          'RESOURCE_EXHAUSTED',
          `${this.queue.length} ratings are waiting for the database: it is too slow right now; retry later`,
        ),
      );
    return new Promise<RatingResult>((resolve, reject) => {
      this.queue.push({ item, resolve, reject, since: Date.now(), retries: 0 });
      // With every slot busy, the first batch to end takes it.
      if (this.running.size >= this.options.maxInFlight) return;
      if (this.queue.length >= this.options.maxItems) this.kick();
      else this.timer ??= setTimeout(() => this.kick(), this.options.maxDelayMs);
    });
  }

  /** Resolves when every rating submitted before the call has been committed or has failed. */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.running.size > 0 || this.retrying.size > 0) {
      this.kick();
      await Promise.race([...this.running, ...this.retrying]);
    }
  }

  /** Refuses new ratings, then commits the waiting ones. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  /** Starts batches of the waiting ratings while slots are free. */
  private kick(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.running.size < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxItems);
      const run: Promise<void> = this.commit(batch).finally(() => {
        this.running.delete(run);
        // Ratings that arrived while every slot was busy have waited already.
        if (this.queue.length > 0) this.kick();
      });
      this.running.add(run);
    }
  }

  private async commit(batch: Waiting[]): Promise<void> {
    let outcomes: (RatingResult | StoreError)[];
    try {
      outcomes = await this.store.rateRequests(batch.map((w) => w.item));
    } catch (error) {
      const unavailable = error instanceof StoreError && error.code === 'UNAVAILABLE';
      if (batch.length === 1 || unavailable) {
        this.logger?.error({ ratings: batch.length, cause: errorName(error) }, 'rating batch failed');
        for (const w of batch) w.reject(error);
        return;
      }
      // Whatever sank the whole batch, it must not take every rating with it: one transaction each.
      this.logger?.warn({ ratings: batch.length, cause: errorName(error) }, 'rating batch failed; rating one by one');
      for (const w of batch) await this.commit([w]);
      return;
    }
    batch.forEach((w, i) => {
      const outcome = outcomes[i];
      if (outcome instanceof StoreError && outcome.reason === 'ENTRY_NOT_FOUND' && this.retryLater(w)) return;
      if (outcome instanceof StoreError) {
        // The caller's computation refused the rating: its own error, as it threw it.
        w.reject(outcome.reason === 'RATING_REFUSED' ? outcome.cause : outcome);
      } else if (outcome === undefined) {
        w.reject(new DomainError('INTERNAL', 'the store answered fewer ratings than it was given'));
      } else {
        w.resolve(outcome);
      }
    });
  }

  /** Queues the rating again after a while, if its grace period allows; false when it is over. */
  private retryLater(w: Waiting): boolean {
    const left = w.since + this.options.notFoundGraceMs - Date.now();
    if (left <= 0) return false;
    const delay = Math.min(25 * 2 ** w.retries++, left);
    const wait: Promise<void> = new Promise<void>((resolve) => setTimeout(resolve, delay)).then(() => {
      this.retrying.delete(wait);
      this.queue.push(w);
      this.timer ??= setTimeout(() => this.kick(), this.options.maxDelayMs);
    });
    this.retrying.add(wait);
    return true;
  }
}

/** Error class and code only: log lines never carry user text. */
function errorName(error: unknown): string {
  if (error instanceof StoreError) return `${error.code}/${error.reason}`;
  return error instanceof Error ? error.name : typeof error;
}

import { DomainError, type Logger } from '@routeplex/platform';
import { StoreError, type RatingRequest, type RatingResult, type Store } from '@routeplex/store';

export interface RatingBatcherOptions {
  /** A batch is committed as soon as this many ratings wait (default 200). */
  maxItems: number;
  /** ... or when the oldest waiting rating has waited this long (default 5 ms). */
  maxDelayMs: number;
  /** Ratings beyond this many waiting are refused with RESOURCE_EXHAUSTED (default 10,000). */
  maxPending: number;
}

export const DEFAULT_RATING_BATCHER_OPTIONS: RatingBatcherOptions = {
  maxItems: 200,
  maxDelayMs: 5,
  maxPending: 10_000,
};

interface Waiting {
  item: RatingRequest;
  resolve: (result: RatingResult) => void;
  reject: (error: unknown) => void;
}

/**
 * Groups concurrent ratings into one store transaction per batch. A rating's promise settles only after
 * its batch has committed (or failed): a rating is committed before it is acknowledged. One batch commits
 * at a time; ratings that arrive meanwhile form the next batch, which starts as soon as the previous one
 * ends, so batches grow with load while a lone rating waits at most maxDelayMs.
 */
export class RatingBatcher {
  private queue: Waiting[] = [];
  private timer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly store: Pick<Store, 'rateRequests'>,
    private readonly options: RatingBatcherOptions = DEFAULT_RATING_BATCHER_OPTIONS,
    private readonly logger?: Logger,
  ) {
    for (const [field, value] of Object.entries(options))
      if (!(Number.isInteger(value) && value > 0))
        throw new DomainError('INVALID_ARGUMENT', `rating batcher ${field} must be a positive integer; got ${value}`);
  }

  /** Ratings waiting or being committed. */
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
      this.queue.push({ item, resolve, reject });
      if (this.loop !== undefined) return; // the running loop takes it next
      if (this.queue.length >= this.options.maxItems) this.kick();
      else this.timer ??= setTimeout(() => this.kick(), this.options.maxDelayMs);
    });
  }

  /** Resolves when every rating submitted before the call has been committed or has failed. */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.loop !== undefined) {
      this.kick();
      await this.loop;
    }
  }

  /** Refuses new ratings, then commits the waiting ones. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private kick(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.loop === undefined && this.queue.length > 0) {
      this.loop = this.drain().finally(() => {
        this.loop = undefined;
        if (this.queue.length > 0) this.kick();
      });
    }
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxItems);
      await this.commit(batch);
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
}

/** Error class and code only: log lines never carry user text. */
function errorName(error: unknown): string {
  if (error instanceof StoreError) return `${error.code}/${error.reason}`;
  return error instanceof Error ? error.name : typeof error;
}

export interface BackoffOptions {
  /** Attempts in all, the first included. 1 disables retries. */
  maxAttempts: number;
  /** Delay before the first retry; doubles for each retry after it. */
  baseDelayMs: number;
  /** Ceiling of the exponential delay. */
  maxDelayMs: number;
  /** A server-sent Retry-After above this is not waited for: the call fails at once so the caller can fall back. */
  maxRetryAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = {
  maxAttempts: 3,
  baseDelayMs: 200,
  maxDelayMs: 4_000,
  maxRetryAfterMs: 10_000,
};

/**
 * Delay before retry number `retry` (1 for the first retry), "full jitter": a uniform draw in
 * [delay/2, delay] so that clients hit by the same outage do not retry in lockstep.
 */
export function backoffDelay(retry: number, options: BackoffOptions, random: () => number = Math.random): number {
  const exponential = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.round(exponential / 2 + (random() * exponential) / 2);
}

/**
 * Milliseconds to wait according to a Retry-After (delta-seconds or HTTP date) or retry-after-ms header value.
 * Returns undefined when the header is absent or unreadable.
 */
export function parseRetryAfter(
  retryAfter: string | undefined,
  retryAfterMs?: string,
  now: () => number = Date.now,
): number | undefined {
  if (retryAfterMs !== undefined && retryAfterMs.trim() !== '') {
    const ms = Number(retryAfterMs);
    if (Number.isFinite(ms) && ms >= 0) return Math.ceil(ms);
  }
  if (retryAfter === undefined) return undefined;
  const text = retryAfter.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.ceil(Number(text) * 1000);
  // HTTP dates always name a weekday or month; anything else (e.g. "-1") is not a date even if Date.parse accepts it.
  if (!/[A-Za-z]{3}/.test(text)) return undefined;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now());
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RetryDecision {
  retry: boolean;
  /** Server-requested wait (Retry-After), which replaces the exponential delay when present. */
  retryAfterMs?: number;
}

export interface RetryOptions extends BackoffOptions {
  /** Decides, per failure, whether another attempt may succeed. */
  classify: (error: unknown) => RetryDecision;
  signal?: AbortSignal;
  /** Epoch milliseconds after which no retry is started (a retry that cannot finish in time is pointless). */
  deadlineAt?: number;
  random?: () => number;
  now?: () => number;
  /** Called with the final error and the number of attempts made; returns what to throw. */
  onGiveUp?: (error: unknown, attempts: number) => unknown;
}

/**
 * Runs `attempt` until it succeeds, the failure is not retryable, attempts run out, a Retry-After exceeds the cap,
 * or the next wait would pass the deadline. Exponential back-off with jitter between attempts.
 */
export async function retry<T>(attempt: (attemptNumber: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const now = options.now ?? Date.now;
  for (let attemptNumber = 1; ; attemptNumber++) {
    try {
      return await attempt(attemptNumber);
    } catch (error) {
      const wait = nextRetryWait(error, attemptNumber, options, now);
      if (wait === undefined) throw options.onGiveUp ? options.onGiveUp(error, attemptNumber) : error;
      await sleep(wait, options.signal);
    }
  }
}

/** The wait before the next attempt, or undefined when the caller should give up. */
export function nextRetryWait(
  error: unknown,
  attemptsMade: number,
  options: RetryOptions,
  now: () => number = Date.now,
): number | undefined {
  if (attemptsMade >= options.maxAttempts) return undefined;
  if (options.signal?.aborted) return undefined;
  const decision = options.classify(error);
  if (!decision.retry) return undefined;
  let wait: number;
  if (decision.retryAfterMs !== undefined) {
    if (decision.retryAfterMs > options.maxRetryAfterMs) return undefined;
    wait = decision.retryAfterMs;
  } else {
    wait = backoffDelay(attemptsMade, options, options.random);
  }
  if (options.deadlineAt !== undefined && now() + wait >= options.deadlineAt) return undefined;
  return wait;
}

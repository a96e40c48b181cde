export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long an open circuit refuses calls before letting a probe through. */
  coolDownMs: number;
  /** Each re-open after a failed probe multiplies the cool-down by this factor, up to `maxCoolDownMs`. */
  coolDownMultiplier?: number;
  maxCoolDownMs?: number;
  /** Clock in milliseconds; injected so that tests and the router control time. */
  now: () => number;
}

export interface CircuitSnapshot {
  state: CircuitState;
  consecutiveFailures: number;
  /** When an open circuit lets the next probe through (epoch ms), if open. */
  retryAt?: number;
}

/**
 * Circuit breaker for one (provider, model). Closed: calls flow, consecutive failures are counted. Open: calls are
 * refused until the cool-down has passed. Half-open: one probe at a time is let through; its success closes the
 * circuit, its failure re-opens it with a longer cool-down.
 */
export class CircuitBreaker {
  private readonly options: Required<CircuitBreakerOptions>;
  private state: CircuitState = 'closed';
  private consecutiveFailures = 0;
  private openedAt = 0;
  private currentCoolDownMs: number;
  private probeStartedAt: number | undefined;

  constructor(options: CircuitBreakerOptions) {
    if (!(options.failureThreshold >= 1)) throw new RangeError('failureThreshold must be at least 1');
    if (!(options.coolDownMs >= 0)) throw new RangeError('coolDownMs must be zero or more');
    this.options = {
      coolDownMultiplier: 2,
      maxCoolDownMs: Math.max(options.coolDownMs, 5 * 60_000),
      ...options,
    };
    this.currentCoolDownMs = options.coolDownMs;
  }

  /** Current state, with an open circuit whose cool-down has passed reported as half-open. */
  getState(): CircuitState {
    if (this.state === 'open' && this.options.now() - this.openedAt >= this.currentCoolDownMs) return 'half_open';
    return this.state;
  }

  /** Whether a call could be let through now, without reserving the half-open probe (for ranking candidates). */
  isAvailable(): boolean {
    const state = this.getState();
    if (state === 'closed') return true;
    if (state === 'open') return false;
    return this.probeStartedAt === undefined || this.probeIsStale();
  }

  /**
   * Asks to make a call. True in the closed state; in the half-open state true for exactly one caller (the probe)
   * until it reports; false while open. A caller that got true must report with `onSuccess`, `onFailure` or
   * `release`.
   */
  tryAcquire(): boolean {
    return this.acquire() !== undefined;
  }

  /**
   * tryAcquire that says what the caller got: a plain call (closed), the probe (half-open; the caller alone
   * may `release` it), or nothing.
   */
  acquire(): 'call' | 'probe' | undefined {
    const state = this.getState();
    if (state === 'closed') return 'call';
    if (state === 'open') return undefined;
    if (this.probeStartedAt !== undefined && !this.probeIsStale()) return undefined;
    this.state = 'half_open';
    this.probeStartedAt = this.options.now();
    return 'probe';
  }

  /**
   * The probe said nothing of the upstream's health (the request itself was refused, or its caller went away):
   * it is handed back at once, so that the next caller probes instead of waiting until the reservation goes
   * stale. Only the caller holding the probe (`acquire` returned 'probe') may call this: a call let
   * through while the circuit was closed holds no reservation, and would free another caller's.
   */
  release(): void {
    this.probeStartedAt = undefined;
  }

  onSuccess(): void {
    this.state = 'closed';
    this.consecutiveFailures = 0;
    this.probeStartedAt = undefined;
    this.currentCoolDownMs = this.options.coolDownMs;
  }

  onFailure(): void {
    this.consecutiveFailures++;
    // A failure once the cool-down has passed is a failed probe, whether or not the caller used tryAcquire.
    if (this.getState() === 'half_open') {
      this.currentCoolDownMs = Math.min(
        this.options.maxCoolDownMs,
        this.currentCoolDownMs * this.options.coolDownMultiplier,
      );
      this.open();
      return;
    }
    if (this.state === 'closed' && this.consecutiveFailures >= this.options.failureThreshold) this.open();
  }

  snapshot(): CircuitSnapshot {
    const state = this.getState();
    const snapshot: CircuitSnapshot = { state, consecutiveFailures: this.consecutiveFailures };
    if (this.state === 'open') snapshot.retryAt = this.openedAt + this.currentCoolDownMs;
    return snapshot;
  }

  private open(): void {
    this.state = 'open';
    this.openedAt = this.options.now();
    this.probeStartedAt = undefined;
  }

  // A probe whose caller never reported (crashed, forgot) must not keep the circuit half-open forever.
  private probeIsStale(): boolean {
    return this.probeStartedAt !== undefined && this.options.now() - this.probeStartedAt >= this.currentCoolDownMs;
  }
}

/** One breaker per (provider, model), created on first use with shared options. */
export class CircuitBreakerRegistry {
  private readonly breakers = new Map<string, CircuitBreaker>();

  constructor(private readonly options: CircuitBreakerOptions) {}

  get(providerId: string, model: string): CircuitBreaker {
    const key = `${providerId}\u0000${model}`;
    let breaker = this.breakers.get(key);
    if (breaker === undefined) {
      breaker = new CircuitBreaker(this.options);
      this.breakers.set(key, breaker);
    }
    return breaker;
  }

  /** Every breaker created so far with its state, for health reporting. */
  entries(): { providerId: string; model: string; snapshot: CircuitSnapshot }[] {
    return [...this.breakers].map(([key, breaker]) => {
      const [providerId = '', model = ''] = key.split('\u0000');
      return { providerId, model, snapshot: breaker.snapshot() };
    });
  }
}

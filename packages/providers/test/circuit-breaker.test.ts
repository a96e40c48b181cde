import { expect } from 'chai';
import { CircuitBreaker, CircuitBreakerRegistry } from '../src/circuit-breaker.js';

describe('CircuitBreaker', () => {
  let now = 0;
  const clock = () => now;
  const breaker = () => new CircuitBreaker({ failureThreshold: 3, coolDownMs: 1_000, now: clock });
  beforeEach(() => {
    now = 0;
  });

  it('stays closed below the threshold and a success resets the count', () => {
    const b = breaker();
    b.onFailure();
    b.onFailure();
    b.onSuccess();
    b.onFailure();
    b.onFailure();
    expect(b.getState()).to.equal('closed');
    expect(b.tryAcquire()).to.equal(true);
  });

  it('opens after consecutive failures and refuses calls during the cool-down', () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.onFailure();
    expect(b.getState()).to.equal('open');
    expect(b.isAvailable()).to.equal(false);
    expect(b.tryAcquire()).to.equal(false);
    expect(b.snapshot()).to.deep.equal({ state: 'open', consecutiveFailures: 3, retryAt: 1_000 });
  });

  it('lets exactly one probe through once the cool-down has passed; its success closes the circuit', () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.onFailure();
    now = 1_000;
    expect(b.getState()).to.equal('half_open');
    expect(b.isAvailable()).to.equal(true);
    expect(b.tryAcquire()).to.equal(true);
    expect(b.tryAcquire()).to.equal(false);
    expect(b.isAvailable()).to.equal(false);
    b.onSuccess();
    expect(b.getState()).to.equal('closed');
    expect(b.tryAcquire()).to.equal(true);
  });

  it('re-opens after a failed probe with a doubled cool-down', () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.onFailure();
    now = 1_000;
    expect(b.tryAcquire()).to.equal(true);
    b.onFailure();
    expect(b.getState()).to.equal('open');
    now = 2_500;
    expect(b.getState()).to.equal('open');
    now = 3_000;
    expect(b.getState()).to.equal('half_open');
  });

  it('treats a failure after the cool-down as a failed probe for callers that only check isAvailable', () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.onFailure();
    now = 1_000;
    expect(b.isAvailable()).to.equal(true);
    b.onFailure();
    expect(b.isAvailable()).to.equal(false);
    expect(b.snapshot()).to.deep.equal({ state: 'open', consecutiveFailures: 4, retryAt: 3_000 });
  });

  it('lets another probe through when a probe never reports back', () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.onFailure();
    now = 1_000;
    expect(b.tryAcquire()).to.equal(true);
    now = 1_500;
    expect(b.tryAcquire()).to.equal(false);
    now = 2_000;
    expect(b.tryAcquire()).to.equal(true);
  });

  it('hands a released probe to the next caller at once, without closing or re-opening the circuit', () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.onFailure();
    now = 1_000;
    expect(b.tryAcquire()).to.equal(true);
    b.release();
    expect(b.getState()).to.equal('half_open');
    expect(b.isAvailable()).to.equal(true);
    expect(b.tryAcquire()).to.equal(true);
    expect(b.tryAcquire()).to.equal(false);
    b.onFailure();
    expect(b.getState()).to.equal('open');
  });

  it('rejects a threshold below one', () => {
    expect(() => new CircuitBreaker({ failureThreshold: 0, coolDownMs: 1, now: clock })).to.throw(RangeError);
  });
});

describe('CircuitBreakerRegistry', () => {
  it('keeps one breaker per (provider, model)', () => {
    const registry = new CircuitBreakerRegistry({ failureThreshold: 1, coolDownMs: 1_000, now: () => 0 });
    registry.get('openai', 'gpt-4o').onFailure();
    expect(registry.get('openai', 'gpt-4o').getState()).to.equal('open');
    expect(registry.get('openai', 'gpt-4o-mini').getState()).to.equal('closed');
    expect(registry.get('groq', 'gpt-4o').getState()).to.equal('closed');
    expect(registry.entries().map((e) => `${e.providerId}/${e.model}/${e.snapshot.state}`)).to.deep.equal([
      'openai/gpt-4o/open',
      'openai/gpt-4o-mini/closed',
      'groq/gpt-4o/closed',
    ]);
  });
});

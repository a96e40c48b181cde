import { expect } from 'chai';
import { backoffDelay, nextRetryWait, parseRetryAfter, retry, sleep, type RetryOptions } from '../src/retry.js';
import { rejectionOf } from './support/http-server.js';

const backoff = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1_000, maxRetryAfterMs: 5_000 };

describe('retry helpers', () => {
  describe('parseRetryAfter', () => {
    const now = () => Date.parse('2026-01-01T00:00:00Z');

    it('reads delta-seconds, an HTTP date and retry-after-ms', () => {
      expect(parseRetryAfter('3', undefined, now)).to.equal(3_000);
      expect(parseRetryAfter('0.25', undefined, now)).to.equal(250);
      expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:07 GMT', undefined, now)).to.equal(7_000);
      expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', undefined, now)).to.equal(0);
      expect(parseRetryAfter('10', '1500', now)).to.equal(1_500);
    });

    it('ignores absent or unreadable values', () => {
      expect(parseRetryAfter(undefined)).to.equal(undefined);
      expect(parseRetryAfter('soon')).to.equal(undefined);
      expect(parseRetryAfter('-1')).to.equal(undefined);
    });
  });

  it('backs off exponentially with jitter between half and all of the delay, up to the cap', () => {
    expect(backoffDelay(1, backoff, () => 0)).to.equal(50);
    expect(backoffDelay(1, backoff, () => 1)).to.equal(100);
    expect(backoffDelay(3, backoff, () => 1)).to.equal(400);
    expect(backoffDelay(10, backoff, () => 1)).to.equal(1_000);
  });

  describe('nextRetryWait', () => {
    const options = (overrides: Partial<RetryOptions> = {}): RetryOptions => ({
      ...backoff,
      random: () => 1,
      classify: (error) => ({ retry: (error as { retry?: boolean }).retry === true }),
      ...overrides,
    });

    it('stops at the attempt bound and for non-retryable failures', () => {
      expect(nextRetryWait({ retry: true }, 1, options())).to.equal(100);
      expect(nextRetryWait({ retry: true }, 4, options())).to.equal(undefined);
      expect(nextRetryWait({ retry: false }, 1, options())).to.equal(undefined);
    });

    it('uses Retry-After when given, and gives up when it exceeds the cap or the deadline', () => {
      const after = (ms: number) => options({ classify: () => ({ retry: true, retryAfterMs: ms }) });
      expect(nextRetryWait({}, 1, after(2_000))).to.equal(2_000);
      expect(nextRetryWait({}, 1, after(6_000))).to.equal(undefined);
      const deadline = { ...after(2_000), deadlineAt: 10_000 };
      expect(nextRetryWait({}, 1, deadline, () => 7_000)).to.equal(2_000);
      expect(nextRetryWait({}, 1, deadline, () => 8_500)).to.equal(undefined);
    });
  });

  it('retry runs until success and gives up through onGiveUp with the attempt count', async () => {
    let calls = 0;
    const value = await retry(
      async (attempt) => {
        calls++;
        if (attempt < 3) throw new Error('transient');
        return 'done';
      },
      { ...backoff, baseDelayMs: 1, classify: () => ({ retry: true }) },
    );
    expect(value).to.equal('done');
    expect(calls).to.equal(3);
    const error = await rejectionOf(
      retry(() => Promise.reject(new Error('down')), {
        ...backoff,
        baseDelayMs: 1,
        classify: () => ({ retry: true }),
        onGiveUp: (_e, attempts) => new Error(`gave up after ${attempts}`),
      }),
    );
    expect((error as Error).message).to.equal('gave up after 4');
  });

  it('sleep rejects as soon as the signal aborts', async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(new Error('stop')), 10);
    const error = await rejectionOf(sleep(5_000, controller.signal));
    expect((error as Error).message).to.equal('stop');
    expect(Date.now() - started).to.be.below(1_000);
  });
});

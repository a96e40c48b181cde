import { expect } from 'chai';
import { DomainError } from '@routeplex/platform';
import { StoreError, type RatingRequest, type RequestEntry, type Store } from '@routeplex/store';
import { RatingBatcher } from '../src/rating-batcher.js';
import { backends, completion, record } from '@routeplex/testkit';

/** A rating of score 4 that replaces the heuristic (or earlier) contribution with weight 1: enough for the batcher. */
function rating(entry: RequestEntry, score = 4): RatingRequest {
  const quality = (score - 1) / 4;
  return {
    accountId: entry.accountId,
    requestId: entry.id,
    compute: (e, previous) => {
      const before = previous?.quality ?? (e.heuristicQuality as number);
      return {
        rating: { score, isHelpful: null, quality },
        cellDelta: {
          n: 0,
          q: quality - before,
          q2: quality ** 2 - before ** 2,
          requests: 0,
          ratings: previous === null ? 1 : 0,
          failures: 0,
          latencyMs: 0,
          costUsd: 0,
          latencyHist: [],
        },
      };
    },
  };
}

/** The real store, with the sizes of the batches it is given and the most it ran at once recorded. */
function recording(store: Store): { store: Pick<Store, 'rateRequests'>; sizes: number[]; maxConcurrent: () => number } {
  const sizes: number[] = [];
  let running = 0;
  let most = 0;
  return {
    sizes,
    maxConcurrent: () => most,
    store: {
      async rateRequests(items) {
        sizes.push(items.length);
        most = Math.max(most, ++running);
        try {
          return await store.rateRequests(items);
        } finally {
          running--;
        }
      },
    },
  };
}

for (const backend of backends('feedback')) {
  describe(`rating batcher (${backend.name})`, function () {
    this.timeout(60_000);
    let store: Store;
    let n = 0;
    const accountId = () => `acc_batcher${++n}`;

    before(async () => {
      store = await backend.open();
    });
    after(async () => {
      await backend.close();
    });

    it('groups concurrent ratings into few transactions and acknowledges each after its commit', async () => {
      const account = accountId();
      const entries = Array.from({ length: 450 }, () => completion(account));
      await record(store, entries);
      const spy = recording(store);
      const batcher = new RatingBatcher(spy.store, { maxItems: 200, maxDelayMs: 5, maxInFlight: 2 });
      const acknowledged = await Promise.all(
        entries.map(async (e) => {
          const result = await batcher.submit(rating(e));
          // Committed before acknowledged: another connection's read sees it as soon as the promise resolves.
          return { id: result.entry.id, stored: (await store.getEntry(account, e.id)).rating?.score };
        }),
      );
      expect(acknowledged.map((a) => a.id)).to.deep.equal(entries.map((e) => e.id));
      expect(acknowledged.every((a) => a.stored === 4)).to.equal(true);
      expect(spy.sizes.every((size) => size <= 200)).to.equal(true);
      expect(spy.sizes.reduce((s, x) => s + x, 0)).to.equal(450);
      expect(spy.sizes.length).to.be.at.most(4);
      expect(spy.maxConcurrent()).to.equal(2);
      const [cell] = await store.loadAccountCells(account);
      expect(cell!.ratings).to.equal(450);
    });

    it('commits one batch at a time with maxInFlight 1, and applies ratings of one request sent in turn in order', async () => {
      const account = accountId();
      const entries = Array.from({ length: 300 }, () => completion(account));
      await record(store, entries);
      const spy = recording(store);
      const batcher = new RatingBatcher(spy.store, { maxItems: 100, maxInFlight: 1 });
      await Promise.all(entries.map((e) => batcher.submit(rating(e, 2))));
      expect(spy.maxConcurrent()).to.equal(1);
      expect(spy.sizes).to.deep.equal([100, 100, 100]);
      const target = entries[0]!;
      for (const score of [5, 1, 3]) await batcher.submit(rating(target, score));
      expect((await store.getEntry(account, target.id)).rating?.score).to.equal(3);
    });

    it('commits a lone rating after the delay, with nothing else to wait for', async () => {
      const entry = completion(accountId());
      await record(store, [entry]);
      const batcher = new RatingBatcher(store, { maxItems: 200, maxDelayMs: 5, maxPending: 10 });
      const result = await batcher.submit(rating(entry, 2));
      expect(result.rating.score).to.equal(2);
      expect(batcher.pendingCount).to.equal(0);
    });

    it('fails only the ratings the store refuses: NOT_FOUND, and the computation’s own error unchanged', async () => {
      const account = accountId();
      const [good, refused] = [completion(account), completion(account)];
      await record(store, [good!, refused!]);
      const batcher = new RatingBatcher(store, { maxItems: 200, maxDelayMs: 5, maxPending: 100 });
      const refusal = new DomainError('FAILED_PRECONDITION', 'request is too old to rate');
      const settled = await Promise.allSettled([
        batcher.submit(rating(good!)),
        batcher.submit({ accountId: account, requestId: 'req_' + 'Q'.repeat(20), compute: rating(good!).compute }),
        batcher.submit({
          ...rating(refused!),
          compute: () => {
            throw refusal;
          },
        }),
      ]);
      expect(settled[0]!.status).to.equal('fulfilled');
      const notFound = (settled[1] as PromiseRejectedResult).reason as StoreError;
      expect(notFound).to.be.instanceOf(StoreError);
      expect(notFound.code).to.equal('NOT_FOUND');
      expect((settled[2] as PromiseRejectedResult).reason).to.equal(refusal);
      expect((await store.getEntry(account, refused!.id)).rating).to.equal(null);
    });

    it('tries a rating again while its entry may still be on its way, without holding up the others', async () => {
      const account = accountId();
      const [good, late] = [completion(account), completion(account)];
      await record(store, [good!]);
      const batcher = new RatingBatcher(store, { maxDelayMs: 5, notFoundGraceMs: 10_000 });
      let lateSettled = false;
      const lateRating = batcher.submit(rating(late!, 5)).finally(() => (lateSettled = true));
      // In the same batch as the late one, and acknowledged without waiting for it.
      expect((await batcher.submit(rating(good!))).rating.score).to.equal(4);
      expect(lateSettled).to.equal(false);
      // The router's batch commits the answer's entry: the waiting rating finds it.
      await record(store, [late!]);
      expect((await lateRating).rating.score).to.equal(5);

      const brief = new RatingBatcher(store, { maxDelayMs: 5, notFoundGraceMs: 200 });
      const unknown = await brief
        .submit({ accountId: account, requestId: 'req_' + 'Z'.repeat(20), compute: rating(good!).compute })
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(unknown).to.be.instanceOf(StoreError);
      expect((unknown as StoreError).code).to.equal('NOT_FOUND');
    });

    it('rates one by one when a whole batch fails for a reason other than an unreachable database', async () => {
      const account = accountId();
      const entries = Array.from({ length: 5 }, () => completion(account));
      await record(store, entries);
      const sizes: number[] = [];
      let failNext = true;
      // The real store behind a batch statement that fails once, as a constraint the checks missed would.
      const flaky: Pick<Store, 'rateRequests'> = {
        rateRequests(items) {
          sizes.push(items.length);
          if (failNext) {
            failNext = false;
            return Promise.reject(new StoreError('INTERNAL', 'QUERY_FAILED', 'rating requests failed'));
          }
          return store.rateRequests(items);
        },
      };
      const batcher = new RatingBatcher(flaky, { maxItems: 200, maxDelayMs: 5, maxPending: 100 });
      const results = await Promise.all(entries.map((e) => batcher.submit(rating(e))));
      expect(results).to.have.length(5);
      expect(sizes).to.deep.equal([5, 1, 1, 1, 1, 1]);
      const [cell] = await store.loadAccountCells(account);
      expect(cell!.ratings).to.equal(5);
    });

    it('fails the whole batch at once when the database is unreachable', async () => {
      const entries = [completion(accountId()), completion(accountId())];
      const sizes: number[] = [];
      const down: Pick<Store, 'rateRequests'> = {
        rateRequests(items) {
          sizes.push(items.length);
          return Promise.reject(new StoreError('UNAVAILABLE', 'QUERY_FAILED', 'the database is not reachable'));
        },
      };
      const batcher = new RatingBatcher(down, { maxItems: 200, maxDelayMs: 5, maxPending: 100 });
      const settled = await Promise.allSettled(entries.map((e) => batcher.submit(rating(e))));
      expect(settled.map((s) => s.status)).to.deep.equal(['rejected', 'rejected']);
      expect(((settled[0] as PromiseRejectedResult).reason as StoreError).code).to.equal('UNAVAILABLE');
      expect(sizes).to.deep.equal([2]);
    });

    it('refuses ratings beyond maxPending, and after close commits the waiting ones and refuses new ones', async () => {
      const account = accountId();
      const entries = Array.from({ length: 4 }, () => completion(account));
      await record(store, entries);
      const batcher = new RatingBatcher(store, { maxItems: 200, maxDelayMs: 1000, maxPending: 3 });
      const waiting = entries.slice(0, 3).map((e) => batcher.submit(rating(e)));
      const over = await batcher.submit(rating(entries[3]!)).catch((e: unknown) => e);
      expect((over as DomainError).code).to.equal('RESOURCE_EXHAUSTED');
      await batcher.close();
      // The 1 s delay did not run out: close committed them.
      expect(batcher.pendingCount).to.equal(0);
      expect((await Promise.all(waiting)).map((r) => r.rating.score)).to.deep.equal([4, 4, 4]);
      const late = await batcher.submit(rating(entries[3]!)).catch((e: unknown) => e);
      expect((late as DomainError).code).to.equal('UNAVAILABLE');
    });

    it('refuses options that are not whole numbers in range (a grace of 0 is allowed)', () => {
      expect(() => new RatingBatcher(store, { maxItems: 0, maxDelayMs: 5, maxPending: 10 })).to.throw(
        DomainError,
        /maxItems must be an integer of at least 1; got 0/,
      );
      expect(() => new RatingBatcher(store, { notFoundGraceMs: -1 })).to.throw(
        DomainError,
        /notFoundGraceMs must be an integer of at least 0; got -1/,
      );
      expect(() => new RatingBatcher(store, { notFoundGraceMs: 0 })).not.to.throw();
    });
  });
}

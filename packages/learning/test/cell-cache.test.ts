import { expect } from 'chai';
import { contributionCell, defaultScoringConfig, emptyCell } from '@routeplex/scoring';
import {
  newRequestId,
  openStore,
  type ChangeEvent,
  type ChangeListener,
  type EntryWrite,
  type Store,
} from '@routeplex/store';
import { LearningCache, type CellDeltaInput } from '../src/cell-cache.js';

const NOW = Date.parse('2026-06-01T00:00:00Z');
const cell = (quality: number) =>
  contributionCell({ quality, latencyMs: 100, costUsd: 0.001, atMs: NOW }, defaultScoringConfig);

function write(accountId: string, queryType: string, model: string, quality: number): EntryWrite {
  return {
    entry: {
      id: newRequestId(),
      accountId,
      createdAt: new Date(NOW),
      kind: 'completion',
      queryType,
      complexity: 'low',
      model,
      provider: 'simulator',
      stage: 'cold_start',
      personalWeight: 0,
      changedByPersonal: false,
      autoRouted: true,
      enhanced: false,
      preference: 'balanced',
      status: 'ok',
      heuristicQuality: quality,
      signals: {},
      latencyMs: 100,
      promptTokens: 10,
      completionTokens: 10,
      costUsd: 0.001,
      messageHmac: null,
    },
    cellDeltas: [{ accountId, queryType, model, delta: cell(quality) }],
  };
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** One read of the store that the test lets go step by step, to place changes before or after it. */
class HeldRead {
  asked = false;
  readonly mayRead = deferred();
  readonly didRead = deferred();
  readonly mayAnswer = deferred();

  constructor(readFirst: boolean) {
    if (readFirst) this.mayRead.resolve();
  }

  /** Lets the read's rows reach the cache, or fails the read as an unreachable database would. */
  answer(error?: Error): void {
    if (error) this.mayAnswer.reject(error);
    else this.mayAnswer.resolve();
  }
}

/**
 * The real store's cells, with its reads held where a test says and its change events delivered by the
 * test: the store's own notifications arrive when they will, and these tests each need one interleaving.
 */
class HeldSource {
  readonly instanceId: string;
  readonly reads = { global: 0, account: 0 };
  private readonly holds = { global: [] as HeldRead[], account: [] as HeldRead[] };
  private listener: ChangeListener = () => undefined;

  constructor(private readonly store: Store) {
    this.instanceId = store.instanceId;
  }

  hold(kind: 'global' | 'account', options: { readFirst: boolean } = { readFirst: true }): HeldRead {
    const held = new HeldRead(options.readFirst);
    this.holds[kind].push(held);
    return held;
  }

  emit(event: ChangeEvent): void {
    this.listener(event);
  }

  onChange(listener: ChangeListener): () => void {
    this.listener = listener;
    return () => (this.listener = () => undefined);
  }

  loadGlobalCells() {
    this.reads.global += 1;
    return this.held(this.holds.global.shift(), () => this.store.loadGlobalCells());
  }

  loadAccountCells(accountId: string) {
    this.reads.account += 1;
    return this.held(this.holds.account.shift(), () => this.store.loadAccountCells(accountId));
  }

  private async held<T>(held: HeldRead | undefined, read: () => Promise<T>): Promise<T> {
    if (!held) return read();
    held.asked = true;
    await held.mayRead.promise;
    const rows = await read();
    held.didRead.resolve();
    await held.mayAnswer.promise;
    return rows;
  }
}

/** Once a held read is answered, the cache takes it in within the same round of promise callbacks. */
const settled = () => new Promise((r) => setImmediate(r));

let unique = 0;
const uniqueId = (prefix: string) => `${prefix}_${Date.now().toString(36)}_${unique++}`;

const localDeltas = (w: EntryWrite): CellDeltaInput[] =>
  w.cellDeltas.map(({ queryType, model, delta }) => ({ queryType, model, delta }));

describe('LearningCache', function () {
  let store: Store;
  let cache: LearningCache;

  before(async () => {
    store = await openStore({ batch: { maxDelayMs: 5 } });
    await store.enqueue(write('acc_a', 'math', 'm1', 0.8));
    await store.enqueue(write('acc_a', 'code_debug', 'm1', 0.4));
    cache = new LearningCache(store, { maxAccounts: 100, globalRefreshDebounceMs: 10, ownBatchRefreshMs: 0 });
    await cache.start();
  });
  after(async () => {
    cache.close();
    await store.close();
  });

  it('loads an account per query type and pools each model over every type', async () => {
    const { cells, pooled } = await cache.personal('acc_a', 'math');
    expect(cells.get('m1')!.q).to.be.closeTo(cell(0.8).q, 1e-9);
    expect(pooled.get('m1')!.n).to.be.closeTo(cell(0.8).n + cell(0.4).n, 1e-9);
    expect(cache.globalCells('math').cells.get('m1')!.contributors).to.equal(1);
  });

  it('serves plain cells, without the columns of the rows they were read from', async () => {
    const { cells, pooled } = await cache.personal('acc_a', 'math');
    const sumFields = Object.keys(emptyCell());
    expect(Object.keys(cells.get('m1')!)).to.deep.equal(sumFields);
    expect(Object.keys(pooled.get('m1')!)).to.deep.equal(sumFields);
    expect(Object.keys(cache.globalCells('math').cells.get('m1')!)).to.deep.equal([...sumFields, 'contributors']);
    expect(Object.keys(cache.globalCells('math').pooled.get('m1')!)).to.deep.equal([...sumFields, 'contributors']);
  });

  it('shows a replica its own deltas at once, before they are written', async () => {
    await cache.personal('acc_a', 'math');
    cache.applyLocal('acc_a', [{ queryType: 'math', model: 'm2', delta: cell(0.5) }]);
    await new Promise((r) => setImmediate(r));
    expect((await cache.personal('acc_a', 'math')).cells.get('m2')!.q).to.be.closeTo(cell(0.5).q, 1e-9);
    expect(cache.globalCells('math').cells.get('m2')!.n).to.be.closeTo(cell(0.5).n, 1e-9);
  });

  it("counts an account's first answered request in a cell as a new contributor, and failed calls not", async () => {
    await cache.personal('acc_c', 'math');
    const contributors = () => cache.globalCells('math').cells.get('m1')!.contributors;
    const before = contributors();
    const failed = contributionCell({ failed: true, costUsd: 0, atMs: NOW }, defaultScoringConfig);
    cache.applyLocal('acc_c', [{ queryType: 'math', model: 'm1', delta: failed }]);
    await settled();
    expect(contributors()).to.equal(before);
    cache.applyLocal('acc_c', [{ queryType: 'math', model: 'm1', delta: cell(0.5) }]);
    await settled();
    expect(contributors()).to.equal(before + 1);
    cache.applyLocal('acc_c', [{ queryType: 'math', model: 'm1', delta: cell(0.6) }]);
    await settled();
    expect(contributors()).to.equal(before + 1);
  });

  it('drops an account on a rating so that the next decision reads the store', async () => {
    const entry = write('acc_a', 'math', 'm3', 0.9);
    await store.enqueue(entry);
    expect((await cache.personal('acc_a', 'math')).cells.has('m3')).to.equal(false); // not told yet: a stale view
    await store.rateRequest('acc_a', entry.entry.id, () => ({
      rating: { score: 1, isHelpful: false, quality: 0 },
      cellDelta: cell(0),
    }));
    const deadline = Date.now() + 2000;
    while (!(await cache.personal('acc_a', 'math')).cells.has('m3') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    expect((await cache.personal('acc_a', 'math')).cells.get('m3')!.n).to.be.closeTo(cell(0.9).n + cell(0).n, 1e-9);
  });

  describe('while the store changes under a reload', function () {
    let source: HeldSource;
    let held: LearningCache;
    let warnings: string[];

    beforeEach(async () => {
      source = new HeldSource(store);
      warnings = [];
      held = new LearningCache(source, {
        maxAccounts: 100,
        globalRefreshDebounceMs: 0,
        ownBatchRefreshMs: 0,
        logger: { warn: (_fields, message) => warnings.push(message) },
      });
      await held.start();
    });
    afterEach(() => held.close());

    it('keeps its global cells when a reload fails in the background, and reads again on the next change', async () => {
      const account = uniqueId('acc');
      const model = uniqueId('m');
      const entry = write(account, 'math', model, 0.8);
      await store.enqueue(entry);
      await held.reloadGlobal();
      await store.rateRequest(account, entry.entry.id, () => ({
        rating: { score: 1, isHelpful: false, quality: 0 },
        cellDelta: cell(0),
      }));

      const failing = source.hold('global');
      source.emit({ kind: 'rating', accountId: account });
      await failing.didRead.promise;
      failing.answer(new Error('database unreachable'));
      await settled();
      expect(warnings).to.have.length(1);
      expect(held.globalCells('math').cells.get(model)!.n).to.be.closeTo(cell(0.8).n, 1e-9);

      const retry = source.hold('global');
      source.emit({ kind: 'rating', accountId: account });
      await retry.didRead.promise;
      retry.answer();
      await settled();
      expect(held.globalCells('math').cells.get(model)!.n).to.be.closeTo(cell(0.8).n + cell(0).n, 1e-9);
    });

    it('reads the global cells once more when a deletion comes in during a read that may predate it', async () => {
      const [gone, kept] = [uniqueId('acc'), uniqueId('acc')];
      const model = uniqueId('m');
      await store.enqueue(write(gone, 'math', model, 0.8));
      await store.enqueue(write(kept, 'math', model, 0.4));
      await held.reloadGlobal();
      expect(held.globalCells('math').cells.get(model)!.contributors).to.equal(2);
      const readsBefore = source.reads.global;

      // A batch's timer started this read before the deletion committed.
      const inFlight = source.hold('global');
      const reload = held.reloadGlobal();
      await inFlight.didRead.promise;
      await store.deleteAccountData(gone);
      // The deletion is told twice, in this process and by the database: one more read answers both.
      source.emit({ kind: 'delete', accountId: gone });
      source.emit({ kind: 'delete', accountId: gone });
      inFlight.answer();
      await reload;

      expect(source.reads.global - readsBefore).to.equal(2);
      const global = held.globalCells('math').cells.get(model)!;
      expect(global.contributors).to.equal(1);
      expect(global.n).to.be.closeTo(cell(0.4).n, 1e-9);
    });

    it('keeps the deltas applied while an account reloads in the background', async () => {
      const account = uniqueId('acc');
      const [m1, m2] = [uniqueId('m'), uniqueId('m')];
      await store.enqueue(write(account, 'math', m1, 0.8));
      await held.personal(account, 'math');
      // Another replica's batch: the next use reloads the account and serves what is in memory meanwhile.
      await store.enqueue(write(account, 'math', m1, 0.6));
      source.emit({ kind: 'cells', accountIds: [account], origin: 'another replica' });

      const reload = source.hold('account');
      await held.personal(account, 'math');
      await reload.didRead.promise;
      // A decision made while the reload was reading; its batch has not committed.
      held.applyLocal(account, localDeltas(write(account, 'math', m2, 0.5)));
      reload.answer();
      await settled();

      const { cells } = await held.personal(account, 'math');
      expect(cells.get(m1)!.n).to.be.closeTo(cell(0.8).n + cell(0.6).n, 1e-9);
      expect(cells.get(m2)!.q).to.be.closeTo(cell(0.5).q, 1e-9);
    });

    it('reads an account again when a batch commits during its reload, so that no delta counts twice', async () => {
      const account = uniqueId('acc');
      const model = uniqueId('m');
      await store.enqueue(write(account, 'math', model, 0.8));
      await held.personal(account, 'math');
      source.emit({ kind: 'cells', accountIds: [account], origin: 'another replica' });

      const reload = source.hold('account', { readFirst: false });
      await held.personal(account, 'math');
      expect(reload.asked).to.equal(true);
      // A decision whose batch commits before the reload reads: the read holds its delta, and so does the replay.
      const decision = write(account, 'math', model, 0.5);
      held.applyLocal(account, localDeltas(decision));
      await store.enqueue(decision);
      source.emit({ kind: 'cells', accountIds: [account], origin: store.instanceId });
      reload.mayRead.resolve();
      await reload.didRead.promise;
      reload.answer();
      await settled();

      const again = source.hold('account');
      await held.personal(account, 'math');
      expect(again.asked).to.equal(true);
      await again.didRead.promise;
      again.answer();
      await settled();
      const { cells } = await held.personal(account, 'math');
      expect(cells.get(model)!.n).to.be.closeTo(cell(0.8).n + cell(0.5).n, 1e-9);
    });
  });

  describe('with the production refresh limit (own batches re-read an account at most once a second)', function () {
    let source: HeldSource;
    let limited: LearningCache;
    let clock: number;

    beforeEach(async () => {
      source = new HeldSource(store);
      clock = Date.now();
      limited = new LearningCache(
        source,
        { maxAccounts: 100, globalRefreshDebounceMs: 0, ownBatchRefreshMs: 1000 },
        () => clock,
      );
      await limited.start();
    });
    afterEach(() => limited.close());

    it('reads an account again after it was dropped while a local delta was still queued', async () => {
      const account = uniqueId('acc');
      const model = uniqueId('m');
      const first = write(account, 'math', model, 0.8);
      await store.enqueue(first);
      await limited.personal(account, 'math');
      // A new answer, applied at once; its batch has not committed when a rating drops the account.
      const pending = write(account, 'math', model, 0.4);
      limited.applyLocal(account, localDeltas(pending));
      source.emit({ kind: 'rating', accountId: account });
      clock += 50;
      await limited.personal(account, 'math');
      await store.enqueue(pending);
      source.emit({ kind: 'cells', accountIds: [account], origin: store.instanceId });
      clock += 100;
      // Too soon after the reload for an own batch to re-read it: the answer is missing for now...
      expect((await limited.personal(account, 'math')).cells.get(model)!.n).to.be.closeTo(cell(0.8).n, 1e-9);
      // ... and read again on the first use a second after the reload, though no more batches come.
      clock += 1000;
      await limited.personal(account, 'math');
      await settled();
      await new Promise((r) => setTimeout(r, 20));
      expect((await limited.personal(account, 'math')).cells.get(model)!.n).to.be.closeTo(
        cell(0.8).n + cell(0.4).n,
        1e-9,
      );
    });

    it('does not start a second reload over one in flight, which would take over the deltas the first replays', async () => {
      const account = uniqueId('acc');
      const model = uniqueId('m');
      await store.enqueue(write(account, 'math', model, 0.8));
      const queued = write(account, 'math', model, 0.6);
      limited.applyLocal(account, localDeltas(queued));
      await limited.personal(account, 'math'); // read soon after a local delta: to be read again
      await store.enqueue(queued);
      clock += 500;
      source.emit({ kind: 'cells', accountIds: [account], origin: 'another replica' });
      clock += 100;
      const first = source.hold('account', { readFirst: false });
      await limited.personal(account, 'math');
      clock += 400;
      // The read-again is due now, but a reload is in flight: it must not start another.
      const second = source.hold('account');
      await limited.personal(account, 'math');
      expect(second.asked).to.equal(false);
      const during = write(account, 'math', model, 0.4);
      limited.applyLocal(account, localDeltas(during));
      first.mayRead.resolve();
      await first.didRead.promise;
      first.answer();
      await settled();
      expect((await limited.personal(account, 'math')).cells.get(model)!.n).to.be.closeTo(
        cell(0.8).n + cell(0.6).n + cell(0.4).n,
        1e-9,
      );
      second.answer();
    });

    it('reads an account again after a background reload whose read may hold a delta it also replayed', async () => {
      const account = uniqueId('acc');
      const model = uniqueId('m');
      await store.enqueue(write(account, 'math', model, 0.8));
      await limited.personal(account, 'math');
      source.emit({ kind: 'cells', accountIds: [account], origin: 'another replica' });

      const reload = source.hold('account', { readFirst: false });
      await limited.personal(account, 'math');
      // A decision whose batch commits before the reload reads (the pool was busy): read and replay both hold it.
      const decision = write(account, 'math', model, 0.5);
      limited.applyLocal(account, localDeltas(decision));
      await store.enqueue(decision);
      clock += 100;
      source.emit({ kind: 'cells', accountIds: [account], origin: store.instanceId });
      reload.mayRead.resolve();
      await reload.didRead.promise;
      reload.answer();
      await settled();

      clock += 1000;
      const again = source.hold('account');
      await limited.personal(account, 'math');
      expect(again.asked).to.equal(true);
      await again.didRead.promise;
      again.answer();
      await settled();
      expect((await limited.personal(account, 'math')).cells.get(model)!.n).to.be.closeTo(
        cell(0.8).n + cell(0.5).n,
        1e-9,
      );
    });
  });
});

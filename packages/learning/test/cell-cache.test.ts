import { expect } from 'chai';
import { contributionCell, defaultScoringConfig, emptyCell } from '@routeplex/scoring';
import { newRequestId, openStore, type EntryWrite, type Store } from '@routeplex/store';
import { LearningCache } from '../src/cell-cache.js';

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
});

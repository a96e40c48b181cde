import { expect } from 'chai';
import { typeV1 } from '@routeplex/contracts';
import { addCells, contributionCell, defaultScoringConfig, emptyCell, type ScoringConfig } from '@routeplex/scoring';
import type { Store, WindowedModelStat } from '@routeplex/store';
import { windowRows, windowedModelStats } from '../src/windowed.js';
import { backends, completion, record } from '@routeplex/testkit';

const { QueryType } = typeV1;
const NOW = Date.parse('2026-03-01T12:00:00Z');
const HOUR = 3600 * 1000;

const stat = (overrides: Partial<WindowedModelStat> = {}): WindowedModelStat => ({
  queryType: 'code_debug',
  model: 'model-a',
  provider: 'sim',
  requests: 2,
  ratings: 1,
  n: 4,
  q: 0.4 + 3 * 1,
  q2: 0.16 + 3 * 1,
  avgQuality: (0.4 + 3) / 4,
  latencyP50Ms: 200,
  latencyP95Ms: 290,
  avgCostUsd: 0.002,
  ...overrides,
});

describe('window statistics', () => {
  it('turns the store’s sums into rows: weighted mean, interval, and the failure rate of the cell', () => {
    const failures = addCells(emptyCell(), contributionCell({ failed: true, atMs: NOW }, defaultScoringConfig));
    const withRequests = addCells(failures, contributionCell({ quality: 0.5, atMs: NOW }, defaultScoringConfig));
    const [row] = windowRows(
      [stat()],
      [{ accountId: 'acc_a', queryType: 'code_debug', model: 'model-a', ...withRequests }],
      NOW,
      defaultScoringConfig,
    );
    expect(row).to.include({
      queryType: QueryType.QUERY_TYPE_CODE_DEBUG,
      model: 'model-a',
      provider: 'sim',
      requestCount: '2',
      ratingCount: '1',
      latencyP50Ms: 200,
      latencyP95Ms: 290,
      avgCostUsd: 0.002,
    });
    const mean = (0.4 + 3) / 4;
    expect(row!.avgQuality).to.be.closeTo(mean, 1e-12);
    const variance = (0.16 + 3) / 4 - mean * mean;
    expect(row!.qualityInterval).to.be.closeTo(1.96 * Math.sqrt(variance), 1e-2);
    // Failed attempts are only in the cells: the row takes the cell's failure rate.
    expect(row!.failureRate).to.be.closeTo(0.5, 1e-9);
  });

  it('sorts rows by query type then quality, and leaves out query types it cannot report', () => {
    const rows = windowRows(
      [
        stat({ queryType: 'math', model: 'model-b', q: 0.8, n: 1, requests: 1 }),
        stat({ queryType: 'math', model: 'model-a', q: 0.9, n: 1, requests: 1 }),
        stat({ queryType: 'code_debug', model: 'model-c' }),
        stat({ queryType: 'astrology', model: 'model-a' }),
      ],
      [],
      NOW,
      defaultScoringConfig,
    );
    expect(rows.map((r) => `${r.queryType}/${r.model}`)).to.deep.equal([
      `${QueryType.QUERY_TYPE_CODE_DEBUG}/model-c`,
      `${QueryType.QUERY_TYPE_MATH}/model-a`,
      `${QueryType.QUERY_TYPE_MATH}/model-b`,
    ]);
    // One request: no spread to measure, the widest interval.
    expect(rows[1]!.qualityInterval).to.equal(0.5);
    expect(rows[1]!.failureRate).to.equal(0);
  });

  for (const backend of backends('insights')) {
    describe(`from the store (${backend.name})`, function () {
      this.timeout(60_000);
      let store: Store;
      before(async () => {
        store = await backend.open();
      });
      after(async () => {
        await backend.close();
      });

      it('weighs ratings with the configured rating weight and counts only the window', async () => {
        const inside = [0.2, 0.6, 0.9].map((q, i) =>
          completion('acc_w', { heuristicQuality: q, latencyMs: 100 * (i + 1), createdAt: new Date(NOW - i * HOUR) }),
        );
        const outside = completion('acc_w', { heuristicQuality: 0.1, createdAt: new Date(NOW - 48 * HOUR) });
        await record(store, [...inside, outside]);
        await store.rateRequest('acc_w', inside[0]!.id, () => ({
          rating: { score: 5, isHelpful: null, quality: 1 },
          cellDelta: { ...emptyCell(), latencyHist: [] },
        }));
        const scoring: ScoringConfig = { ...defaultScoringConfig, ratingWeight: 5 };
        const rows = await windowedModelStats(store, 'acc_w', new Date(NOW - 24 * HOUR), 'code_debug', NOW, scoring);
        expect(rows).to.have.length(1);
        expect(rows[0]).to.include({ requestCount: '3', ratingCount: '1', latencyP50Ms: 200 });
        expect(rows[0]!.avgQuality).to.be.closeTo((5 * 1 + 0.6 + 0.9) / 7, 1e-12);
        expect(rows[0]!.latencyP95Ms).to.be.closeTo(290, 1e-9);
        expect(await windowedModelStats(store, 'acc_w', new Date(NOW - 24 * HOUR), 'math', NOW, scoring)).to.deep.equal(
          [],
        );
      });
    });
  }
});

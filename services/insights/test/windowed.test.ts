import { expect } from 'chai';
import { addCells, contributionCell, defaultScoringConfig, emptyCell } from '@routeplex/scoring';
import type { ListedEntry } from '@routeplex/store';
import { accumulateEntries, quantile, windowRows } from '../src/windowed.js';
import { completion } from './support/harness.js';

const listed = (overrides: Partial<ListedEntry> = {}): ListedEntry => ({
  ...completion('acc_a'),
  rating: null,
  ...overrides,
});

describe('window statistics', () => {
  it('quantile interpolates between closest ranks', () => {
    expect(quantile([], 0.5)).to.equal(0);
    expect(quantile([7], 0.95)).to.equal(7);
    expect(quantile([1, 2, 3, 4], 0.5)).to.equal(2.5);
    expect(quantile([10, 20, 30, 40, 50], 0.95)).to.be.closeTo(48, 1e-12);
  });

  it('weighs a rated request like the cells do and skips selections', () => {
    const rating = {
      accountId: 'acc_a',
      requestId: 'req_x',
      score: 5,
      isHelpful: null,
      quality: 1,
      createdAt: new Date(),
      updatedAt: new Date(),
    };
    const acc = accumulateEntries(
      [
        listed({ heuristicQuality: 0.4, latencyMs: 100, costUsd: 0.001 }),
        listed({ heuristicQuality: 0.2, latencyMs: 300, costUsd: 0.003, rating }),
        listed({ kind: 'selection', heuristicQuality: null, latencyMs: 0, costUsd: 0 }),
      ],
      3,
    );
    expect([...acc.keys()]).to.deep.equal(['code_debug\u0000model-a']);
    const failures = addCells(emptyCell(), contributionCell({ failed: true, atMs: Date.now() }, defaultScoringConfig));
    const withRequests = addCells(failures, contributionCell({ quality: 0.5, atMs: Date.now() }, defaultScoringConfig));
    const [row] = windowRows(
      acc.values(),
      [{ accountId: 'acc_a', queryType: 'code_debug', model: 'model-a', ...withRequests }],
      Date.now(),
      defaultScoringConfig,
    );
    expect(row).to.include({
      model: 'model-a',
      provider: 'sim',
      requestCount: '2',
      ratingCount: '1',
      latencyP50Ms: 200,
      latencyP95Ms: 290,
    });
    expect(row!.avgQuality).to.be.closeTo((0.4 + 3 * 1) / 4, 1e-12);
    expect(row!.avgCostUsd).to.be.closeTo(0.002, 1e-15);
    // Failed attempts are only in the cells: the row takes the cell's failure rate.
    expect(row!.failureRate).to.be.closeTo(0.5, 1e-12);
  });
});

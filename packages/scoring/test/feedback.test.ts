import { expect } from 'chai';
import fc from 'fast-check';
import {
  addCells,
  clampCell,
  defaultScoringConfig as cfg,
  ratedRequestCell,
  ratingDelta,
  ratingToQuality,
  readCell,
  requestCell,
} from '../src/index.js';

const T0 = Date.UTC(2026, 2, 1);
const req = { heuristicQuality: 0.6, latencyMs: 1200, costUsd: 0.004, atMs: T0 };

describe('feedback', () => {
  it('maps scores 1..5 linearly to 0..1 and thumbs to strong but not absolute evidence', () => {
    expect(ratingToQuality(1, undefined)).to.equal(0);
    expect(ratingToQuality(3, undefined)).to.equal(0.5);
    expect(ratingToQuality(5, undefined)).to.equal(1);
    expect(ratingToQuality(undefined, true)).to.equal(0.85);
    expect(ratingToQuality(undefined, false)).to.equal(0.15);
    expect(ratingToQuality(5, false)).to.be.closeTo(0.8, 1e-12);
    expect(ratingToQuality(undefined, undefined)).to.equal(undefined);
    expect(() => ratingToQuality(6, undefined)).to.throw(/between 1 and 5/);
  });

  it('replaces the heuristic contribution with the rating, at the rating weight', () => {
    const cell = addCells(requestCell(req, cfg), ratingDelta({ request: req, newRatingQuality: 1 }, cfg));
    const v = readCell(cell, T0, cfg);
    expect(v.n).to.be.closeTo(cfg.ratingWeight, 1e-9);
    expect(v.mean).to.be.closeTo(1, 1e-9);
    expect(v.requests).to.be.closeTo(1, 1e-9);
    expect(v.ratings).to.be.closeTo(1, 1e-9);
    expect(v.avgLatencyMs).to.be.closeTo(1200, 1e-6);
  });

  it('never double-counts a re-rating: any sequence of ratings ends as if only the last was given', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 8 }), (scores) => {
        let cell = requestCell(req, cfg);
        let previous: number | undefined;
        for (const s of scores) {
          const q = ratingToQuality(s, undefined)!;
          cell = clampCell(
            addCells(cell, ratingDelta({ request: req, previousRatingQuality: previous, newRatingQuality: q }, cfg)),
          );
          previous = q;
        }
        const expected = ratedRequestCell(req, previous!, cfg);
        for (const k of ['n', 'q', 'q2', 'requests', 'ratings', 'latencyMs', 'costUsd'] as const)
          expect(cell[k]).to.be.closeTo(expected[k], 1e-9 * Math.max(1, expected[k]));
      }),
    );
  });

  it('withdrawing a rating returns to the heuristic contribution', () => {
    const rated = ratedRequestCell(req, 0.25, cfg);
    const back = addCells(
      rated,
      ratingDelta({ request: req, previousRatingQuality: 0.25, newRatingQuality: undefined }, cfg),
    );
    const v = readCell(back, T0, cfg);
    expect(v.n).to.be.closeTo(1, 1e-9);
    expect(v.mean).to.be.closeTo(0.6, 1e-9);
    expect(v.ratings).to.be.closeTo(0, 1e-9);
  });
});

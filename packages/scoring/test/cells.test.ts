import { expect } from 'chai';
import fc from 'fast-check';
import type { CellSums, Contribution } from '../src/index.js';
import {
  LATENCY_BUCKETS,
  LATENCY_BUCKET_BOUNDS_MS,
  addCells,
  contributionCell,
  copyCell,
  defaultScoringConfig as cfg,
  emptyCell,
  globalCell,
  histogramQuantile,
  isGlobalCellUsable,
  latencyBucket,
  mergeCells,
  readCell,
  rebaseCell,
  subtractCells,
  withContributors,
} from '../src/index.js';

const DAY = 24 * 3600 * 1000;
const T0 = Date.UTC(2026, 0, 1);

const contribution = fc.record({
  quality: fc.double({ min: 0, max: 1, noNaN: true }),
  weight: fc.constantFrom(1, 3),
  latencyMs: fc.double({ min: 1, max: 200_000, noNaN: true }),
  costUsd: fc.double({ min: 0, max: 1, noNaN: true }),
  failed: fc.boolean(),
  rated: fc.boolean(),
  atMs: fc.integer({ min: T0 - 200 * DAY, max: T0 + 200 * DAY }),
}) as fc.Arbitrary<Contribution>;

/** Equal up to float rounding, relative to the largest magnitude that went through the sums. */
function expectClose(a: CellSums, b: CellSums, involved: CellSums[]): void {
  const mags = (c: CellSums) => [c.n, c.requests, c.failures, c.costUsd, ...c.latencyHist];
  const scale = Math.max(1, ...[a, b, ...involved].flatMap(mags));
  const tol = 1e-12 * scale * (involved.length + 1);
  for (const k of ['n', 'q', 'q2', 'requests', 'ratings', 'failures', 'costUsd'] as const)
    expect(Math.abs(a[k] - b[k])).to.be.at.most(tol, k);
  const latScale = Math.max(1, a.latencyMs, b.latencyMs, ...involved.map((c) => c.latencyMs));
  expect(Math.abs(a.latencyMs - b.latencyMs)).to.be.at.most(1e-12 * latScale * (involved.length + 1));
  a.latencyHist.forEach((v, i) => expect(Math.abs(v - b.latencyHist[i]!)).to.be.at.most(tol));
}

describe('cells', () => {
  it('removing what was added restores the cell (any contributions, any order)', () => {
    fc.assert(
      fc.property(
        fc.array(contribution, { maxLength: 30 }),
        fc.array(contribution, { minLength: 1, maxLength: 10 }),
        (base, extra) => {
          const before = mergeCells(base.map((c) => contributionCell(c, cfg)));
          const extraCells = extra.map((c) => contributionCell(c, cfg));
          let cell = before;
          for (const c of extraCells) cell = addCells(cell, c);
          for (const c of [...extraCells].reverse()) cell = subtractCells(cell, c);
          expectClose(cell, before, extraCells);
        },
      ),
    );
  });

  it('never holds a negative weight, even after removing everything', () => {
    fc.assert(
      fc.property(fc.array(contribution, { minLength: 1, maxLength: 30 }), (cs) => {
        const cells = cs.map((c) => contributionCell(c, cfg));
        let cell = mergeCells(cells);
        for (const c of cells) cell = subtractCells(cell, c);
        for (const v of [
          cell.n,
          cell.q,
          cell.q2,
          cell.requests,
          cell.ratings,
          cell.failures,
          cell.latencyMs,
          cell.costUsd,
          ...cell.latencyHist,
        ])
          expect(v).to.be.at.least(0);
      }),
    );
  });

  it('halves the decayed weight of a contribution after one half-life, and keeps its mean', () => {
    const cell = contributionCell({ quality: 0.8, atMs: T0, latencyMs: 1000, costUsd: 0.01 }, cfg);
    const fresh = readCell(cell, T0, cfg);
    const later = readCell(cell, T0 + cfg.halfLifeMs, cfg);
    expect(fresh.n).to.be.closeTo(1, 1e-12);
    expect(later.n).to.be.closeTo(0.5, 1e-12);
    expect(later.mean).to.be.closeTo(0.8, 1e-12);
    expect(later.avgCostUsd).to.be.closeTo(0.01, 1e-12);
  });

  it('weights recent contributions more than old ones in the mean', () => {
    const old = contributionCell({ quality: 0, atMs: T0 - 60 * DAY }, cfg);
    const recent = contributionCell({ quality: 1, atMs: T0 }, cfg);
    const view = readCell(addCells(old, recent), T0, cfg);
    expect(view.mean).to.be.closeTo(0.8, 1e-9); // weights 1/4 and 1
  });

  it('counts a failed call as a failure only', () => {
    const cell = contributionCell({ failed: true, atMs: T0, costUsd: 0.002 }, cfg);
    const v = readCell(cell, T0, cfg);
    expect(v.n).to.equal(0);
    expect(v.mean).to.equal(undefined);
    expect(v.failureRate).to.equal(1);
    // No answer yet, so no cost per answer.
    expect(v.avgCostUsd).to.equal(undefined);
  });

  it('spreads what failed calls cost over the answers, so that failing often never looks cheaper', () => {
    const answered = contributionCell({ quality: 0.8, atMs: T0, costUsd: 0.002 }, cfg);
    const billedFailure = contributionCell({ failed: true, atMs: T0, costUsd: 0.001 }, cfg);
    const freeFailure = contributionCell({ failed: true, atMs: T0, costUsd: 0 }, cfg);
    expect(readCell(addCells(answered, billedFailure), T0, cfg).avgCostUsd).to.be.closeTo(0.003, 1e-12);
    expect(readCell(addCells(answered, freeFailure), T0, cfg).avgCostUsd).to.be.closeTo(0.002, 1e-12);
  });

  it('reads latency percentiles from the histogram within a bucket of the truth', () => {
    let cell = emptyCell();
    for (let i = 1; i <= 100; i++)
      cell = addCells(cell, contributionCell({ quality: 0.5, latencyMs: i * 100, atMs: T0 }, cfg));
    const v = readCell(cell, T0, cfg);
    expect(v.p50LatencyMs!).to.be.within(5000 / 1.5, 5000 * 1.5);
    expect(v.p95LatencyMs!).to.be.within(9500 / 1.5, 9500 * 1.5);
    expect(v.avgLatencyMs).to.be.closeTo(5050, 1e-6);
  });

  it('interpolates a quantile geometrically within the bucket that holds it', () => {
    const ratio = LATENCY_BUCKET_BOUNDS_MS[1]! / LATENCY_BUCKET_BOUNDS_MS[0]!;
    for (const bucket of [0, 1, 7, LATENCY_BUCKETS - 2, LATENCY_BUCKETS - 1]) {
      const hist = Array.from({ length: LATENCY_BUCKETS }, (_, i) => (i === bucket ? 4 : 0));
      // The first bucket starts one ratio below 25 ms, the open last one spans one ratio too.
      const lower = bucket === 0 ? LATENCY_BUCKET_BOUNDS_MS[0]! / ratio : LATENCY_BUCKET_BOUNDS_MS[bucket - 1]!;
      for (const p of [0.25, 0.5, 1])
        expect(histogramQuantile(hist, p)).to.be.closeTo(lower * ratio ** p, lower * 1e-9);
    }
    // Half the mass in bucket 2, half in bucket 5: the median is the top of bucket 2, p75 the geometric middle of bucket 5.
    const split = Array.from({ length: LATENCY_BUCKETS }, (_, i) => (i === 2 ? 3 : i === 5 ? 3 : 0));
    expect(histogramQuantile(split, 0.5)).to.be.closeTo(LATENCY_BUCKET_BOUNDS_MS[1]! * ratio, 1e-9);
    expect(histogramQuantile(split, 0.75)).to.be.closeTo(LATENCY_BUCKET_BOUNDS_MS[4]! * Math.sqrt(ratio), 1e-9);
    expect(histogramQuantile(split, 0.75, 6)).to.equal(histogramQuantile(split, 0.75));
  });

  it('maps latencies to log-spaced buckets covering 25 ms to 120 s', () => {
    expect(latencyBucket(10)).to.equal(0);
    expect(latencyBucket(25)).to.equal(0);
    expect(latencyBucket(120_000)).to.equal(LATENCY_BUCKETS - 2);
    expect(latencyBucket(10_000_000)).to.equal(LATENCY_BUCKETS - 1);
    fc.assert(
      fc.property(
        fc.double({ min: 26, max: 119_000, noNaN: true }),
        fc.double({ min: 1.01, max: 10, noNaN: true }),
        (a, f) => {
          expect(latencyBucket(a * f)).to.be.at.least(latencyBucket(a));
        },
      ),
    );
  });

  it('rejects contributions that make no sense, saying what to fix', () => {
    expect(() => contributionCell({ quality: 1.5, atMs: T0 }, cfg)).to.throw(/quality must be in \[0, 1\]/);
    expect(() => contributionCell({ quality: 0.5, weight: 0, atMs: T0 }, cfg)).to.throw(/weight must be > 0/);
    expect(() => contributionCell({ quality: 0.5, atMs: Number.NaN }, cfg)).to.throw(/atMs/);
  });

  it('rebasing to a new epoch keeps the decayed view', () => {
    const cell = contributionCell({ quality: 0.3, atMs: T0, latencyMs: 500 }, cfg);
    const newEpoch = cfg.epochMs + 365 * DAY;
    const rebased = rebaseCell(cell, cfg.epochMs, newEpoch, cfg.halfLifeMs);
    const a = readCell(cell, T0 + DAY, cfg);
    const b = readCell(rebased, T0 + DAY, { ...cfg, epochMs: newEpoch });
    expect(b.n).to.be.closeTo(a.n, 1e-12);
    expect(b.mean).to.be.closeTo(a.mean!, 1e-12);
  });

  it('reads a cell whose every contribution was subtracted again as empty, not as the ratio of rounding residue', () => {
    const day = 86_400_000;
    for (let trial = 0; trial < 200; trial++) {
      const parts = [
        contributionCell({ quality: (trial % 10) / 10, atMs: T0 - 100 * day + trial * 3_600_123, latencyMs: 900 }, cfg),
        contributionCell({ quality: (trial % 7) / 7, atMs: T0 + 7 * day + trial * 3_600_123, latencyMs: 3000 }, cfg),
        contributionCell(
          { quality: (trial % 3) / 3, weight: 3, rated: true, atMs: T0 + 33 * day + trial * 3_600_123, latencyMs: 4e4 },
          cfg,
        ),
      ];
      let cell = mergeCells(parts);
      for (const part of parts) cell = subtractCells(cell, part);
      const view = readCell(cell, T0 + 40 * day, cfg);
      expect(view.mean, `trial ${trial}`).to.equal(undefined);
      expect(view.failureRate).to.equal(undefined);
      expect(view.p50LatencyMs).to.equal(undefined);
      expect(view.avgCostUsd).to.equal(undefined);
    }
  });

  it('lets a global cell steer routing only from K distinct accounts', () => {
    const g = { ...contributionCell({ quality: 0.9, atMs: T0 }, cfg), contributors: 2 };
    expect(isGlobalCellUsable(g, cfg)).to.equal(false);
    expect(isGlobalCellUsable({ ...g, contributors: 3 }, cfg)).to.equal(true);
  });

  it('counts K accounts besides the asking one, which an answered request of its own makes a contributor', () => {
    const g = { ...contributionCell({ quality: 0.9, atMs: T0 }, cfg), contributors: 3 };
    const answered = contributionCell({ quality: 0.6, atMs: T0 }, cfg);
    const failedOnly = contributionCell({ failed: true, atMs: T0 }, cfg);
    expect(isGlobalCellUsable(g, cfg, answered)).to.equal(false);
    expect(isGlobalCellUsable({ ...g, contributors: 4 }, cfg, answered)).to.equal(true);
    expect(isGlobalCellUsable(g, cfg, failedOnly)).to.equal(true);
    expect(isGlobalCellUsable(g, cfg, emptyCell())).to.equal(true);
  });

  it('copies a cell without the extra fields of a row, and without sharing its histogram', () => {
    const sums = contributionCell({ quality: 0.7, latencyMs: 300, costUsd: 0.002, atMs: T0 }, cfg);
    const row = { accountId: 'acc_a', queryType: 'math', model: 'm1', ...sums };
    const copy = copyCell(row);
    expect(copy).to.deep.equal(sums);
    copy.latencyHist[0] = 42;
    expect(row.latencyHist[0]).to.equal(sums.latencyHist[0]);
    const g = globalCell(row, 4);
    expect(g).to.deep.equal({ ...sums, contributors: 4 });
    expect(Object.keys(g)).to.deep.equal([...Object.keys(emptyCell()), 'contributors']);
  });

  it('makes a global cell of a cell just built, in the same layout and without a copy', () => {
    const sum = addCells(emptyCell(), contributionCell({ quality: 0.7, latencyMs: 300, atMs: T0 }, cfg));
    const g = withContributors(sum, 4);
    expect(g).to.equal(sum);
    expect(g.contributors).to.equal(4);
    expect(Object.keys(g)).to.deep.equal(Object.keys(globalCell(sum, 4)));
  });
});

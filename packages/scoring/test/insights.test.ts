import { expect } from 'chai';
import type { CellSums } from '../src/index.js';
import {
  addCells,
  contributionCell,
  defaultScoringConfig as cfg,
  emptyCell,
  enhancementEffectiveness,
  modelPerformanceByType,
  mulberry32,
  recommendations,
  routingInfluence,
  Z95,
} from '../src/index.js';

const NOW = Date.UTC(2026, 3, 1);

/** A cell of `count` qualities drawn around `mean` (seeded), each with the given cost. */
function sample(mean: number, count: number, costUsd: number, seed: number): CellSums {
  const rng = mulberry32(seed);
  let c = emptyCell();
  for (let i = 0; i < count; i++) {
    const q = Math.min(1, Math.max(0, mean + (rng() - 0.5) * 0.3));
    c = addCells(c, contributionCell({ quality: q, atMs: NOW, costUsd, latencyMs: 800 }, cfg));
  }
  return c;
}

describe('insights', () => {
  it('reports per-model performance by type with an interval', () => {
    const rows = modelPerformanceByType(
      [
        { queryType: 'math', model: 'a', cell: sample(0.8, 50, 0.01, 1) },
        { queryType: 'math', model: 'b', cell: sample(0.6, 50, 0.001, 2) },
      ],
      NOW,
      cfg,
    );
    expect(rows.map((r) => r.model)).to.deep.equal(['a', 'b']);
    const [lo, hi] = rows[0]!.qualityCi95!;
    expect(lo).to.be.lessThan(rows[0]!.meanQuality!);
    expect(hi).to.be.greaterThan(rows[0]!.meanQuality!);
    expect(rows[0]!.requests).to.be.closeTo(50, 1e-9);
  });

  it("builds intervals from the sample variance (n - 1), not the cells' population variance", () => {
    const cellOf = (qualities: number[]) =>
      qualities.reduce((c, quality) => addCells(c, contributionCell({ quality, atMs: NOW }, cfg)), emptyCell());
    const qualities = [0.2, 0.8, 0.5, 0.4];
    const mean = 0.475;
    const sampleVariance = qualities.reduce((s, q) => s + (q - mean) ** 2, 0) / (qualities.length - 1);
    const half = Z95 * Math.sqrt(sampleVariance / qualities.length);
    const [row] = modelPerformanceByType([{ queryType: 'math', model: 'a', cell: cellOf(qualities) }], NOW, cfg);
    expect(row!.qualityCi95![0]).to.be.closeTo(mean - half, 1e-9);
    expect(row!.qualityCi95![1]).to.be.closeTo(mean + half, 1e-9);
    const other = [0.9, 0.7];
    const otherVariance = (0.1 ** 2 * 2) / 1;
    const c = enhancementEffectiveness(cellOf(qualities), cellOf(other), NOW, cfg);
    const se = Math.sqrt(sampleVariance / 4 + otherVariance / 2);
    expect(c.ci95![1] - c.ci95![0]).to.be.closeTo(2 * Z95 * se, 1e-9);
  });

  it('gives an enhancement verdict only when the evidence supports one', () => {
    expect(enhancementEffectiveness(sample(0.8, 5, 0, 1), sample(0.6, 5, 0, 2), NOW, cfg).verdict).to.equal(
      'insufficient_data',
    );
    expect(enhancementEffectiveness(sample(0.8, 100, 0, 1), sample(0.6, 100, 0, 2), NOW, cfg).verdict).to.equal(
      'improves',
    );
    expect(enhancementEffectiveness(sample(0.6, 100, 0, 1), sample(0.8, 100, 0, 2), NOW, cfg).verdict).to.equal(
      'worsens',
    );
    const same = enhancementEffectiveness(sample(0.7, 40, 0, 1), sample(0.7, 40, 0, 2), NOW, cfg);
    expect(same.verdict).to.equal('inconclusive');
    expect(same.ci95![0]).to.be.lessThan(0);
    expect(same.ci95![1]).to.be.greaterThan(0);
  });

  it('recommends a cheaper equivalent model with its evidence and savings per 1,000 requests', () => {
    const recs = recommendations(
      [
        { queryType: 'factual', model: 'pricey', cell: sample(0.8, 200, 0.02, 1) },
        { queryType: 'factual', model: 'cheap', cell: sample(0.8, 60, 0.002, 2) },
        { queryType: 'factual', model: 'bad', cell: sample(0.3, 60, 0.0001, 3) },
      ],
      NOW,
      cfg,
    );
    expect(recs).to.have.length(1);
    const r = recs[0]!;
    expect(r.kind).to.equal('cheaper_equivalent');
    expect(r.suggestedModel).to.equal('cheap');
    expect(r.evidence.requestsCurrent).to.be.closeTo(200, 1e-9);
    expect(r.evidence.requestsSuggested).to.be.closeTo(60, 1e-9);
    expect(r.evidence.savingsPer1000RequestsUsd).to.be.closeTo(18, 1e-9);
    expect(r.message).to.match(/save about \$18\.00 per 1,000 requests/);
  });

  it('recommends no switch between free models, which would trade quality for nothing', () => {
    const recs = recommendations(
      [
        { queryType: 'factual', model: 'local-70b', cell: sample(0.8, 200, 0, 1) },
        { queryType: 'factual', model: 'local-8b', cell: sample(0.79, 60, 0, 2) },
      ],
      NOW,
      cfg,
    );
    expect(recs.filter((r) => r.kind === 'cheaper_equivalent')).to.deep.equal([]);
  });

  it('recommends nothing below the minimum sample size', () => {
    expect(
      recommendations(
        [
          { queryType: 'math', model: 'a', cell: sample(0.8, 5, 0.02, 1) },
          { queryType: 'math', model: 'b', cell: sample(0.9, 5, 0.001, 2) },
        ],
        NOW,
        cfg,
      ),
    ).to.deep.equal([]);
  });

  it('summarises routing influence', () => {
    const r = routingInfluence({ decisions: 10, byStage: { cold_start: 2, established: 8 }, changedByPersonal: 3 });
    expect(r.stageShare).to.deep.equal({ cold_start: 0.2, warm_up: 0, established: 0.8 });
    expect(r.changedByPersonalShare).to.equal(0.3);
    expect(r.currentStage).to.equal('established');
    expect(routingInfluence({ decisions: 0, byStage: {}, changedByPersonal: 0 }).currentStage).to.equal(undefined);
  });
});

import { expect } from 'chai';
import fc from 'fast-check';
import type { CellView } from '../src/index.js';
import {
  blendQuality,
  defaultScoringConfig as cfg,
  makeScoringConfig,
  personalWeight,
  stageFor,
} from '../src/index.js';

function view(n: number, mean: number, variance = 0.04): CellView {
  return {
    n,
    mean,
    variance,
    requests: n,
    ratings: 0,
    failures: 0,
    failureRate: 0,
    avgLatencyMs: undefined,
    p50LatencyMs: undefined,
    p95LatencyMs: undefined,
    avgCostUsd: undefined,
  };
}

describe('blending and stages', () => {
  it('uses the documented stage thresholds on n_a / (n_a + k)', () => {
    // k = 30: warm-up from n_a = 0.25 k = 7.5, established from n_a = 1.5 k = 45.
    expect(cfg.priorStrength).to.equal(30);
    expect(stageFor(personalWeight(0, cfg), cfg)).to.equal('cold_start');
    expect(stageFor(personalWeight(7.4, cfg), cfg)).to.equal('cold_start');
    expect(stageFor(personalWeight(7.5, cfg), cfg)).to.equal('warm_up');
    expect(stageFor(personalWeight(44.9, cfg), cfg)).to.equal('warm_up');
    expect(stageFor(personalWeight(45, cfg), cfg)).to.equal('established');
  });

  it('falls back to the catalog prior without any data', () => {
    const e = blendQuality(0.7, undefined, undefined, cfg);
    expect(e.mean).to.equal(0.7);
    expect(e.personalWeight).to.equal(0);
  });

  it('weighs the catalog prior as globalPriorStrength observations against a global cell with no all-types record', () => {
    const e = blendQuality(0.5, undefined, view(5, 1), cfg);
    const k0 = cfg.globalPriorStrength;
    expect(e.mean).to.be.closeTo((5 * 1 + k0 * 0.5) / (5 + k0), 1e-12);
  });

  it('follows mu = (n_a mu_a + k mu_g) / (n_a + k) once global is established', () => {
    const global = view(1000, 0.5);
    const nA = cfg.priorStrength;
    const e = blendQuality(0.5, view(nA, 0.9), global, cfg);
    const muG = (1000 * 0.5 + cfg.typePoolStrength * 0.5) / (1000 + cfg.typePoolStrength);
    expect(e.mean).to.be.closeTo((nA * 0.9 + cfg.priorStrength * muG) / (nA + cfg.priorStrength), 1e-12);
    expect(e.personalWeight).to.be.closeTo(0.5, 1e-12);
  });

  it('is monotone in evidence: more personal evidence moves the estimate toward the personal mean and adds evidence', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 500, noNaN: true }),
        fc.double({ min: 0.01, max: 100, noNaN: true }),
        fc.double({ min: 0, max: 200, noNaN: true }),
        (prior, muA, muG, nA, dn, nG) => {
          const g = nG > 0 ? view(nG, muG) : undefined;
          const a = blendQuality(prior, nA > 0 ? view(nA, muA) : undefined, g, cfg);
          const b = blendQuality(prior, view(nA + dn, muA), g, cfg);
          expect(Math.abs(b.mean - muA)).to.be.at.most(Math.abs(a.mean - muA) + 1e-12);
          expect(b.personalWeight).to.be.at.least(a.personalWeight);
          expect(b.evidence).to.be.at.least(a.evidence);
        },
      ),
    );
  });

  it('borrows strength across query types through the pooled cell', () => {
    const withPool = blendQuality(0.5, undefined, undefined, cfg, view(200, 0.9));
    expect(withPool.mean).to.be.greaterThan(0.85);
    const none = blendQuality(0.5, undefined, undefined, cfg);
    expect(withPool.variance).to.be.lessThan(none.variance);
  });

  it('validates configuration with messages that say what to fix', () => {
    expect(() => makeScoringConfig({ ratingWeight: 1 })).to.throw(/ratingWeight must be greater than 1/);
    expect(() => makeScoringConfig({ stageThresholds: { warmUp: 0.7, established: 0.6 } })).to.throw(
      /0 < warmUp < established < 1/,
    );
    expect(makeScoringConfig({ lambdas: { cost: { cost: 1 } } }).lambdas.cost).to.deep.equal({
      ...cfg.lambdas.cost,
      cost: 1,
    });
  });
});

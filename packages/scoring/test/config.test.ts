import { expect } from 'chai';
import { ScoringError, defaultScoringConfig, makeScoringConfig, validateScoringConfig } from '../src/index.js';

describe('scoring config', () => {
  it('has valid, documented defaults', () => {
    expect(() => validateScoringConfig(defaultScoringConfig)).to.not.throw();
    expect(defaultScoringConfig.epochMs).to.equal(Date.UTC(2025, 0, 1));
    expect(defaultScoringConfig.halfLifeMs).to.equal(30 * 24 * 3600 * 1000);
    expect(defaultScoringConfig.ratingWeight).to.equal(3);
    expect(defaultScoringConfig.anonymityK).to.equal(3);
    expect(defaultScoringConfig.stageThresholds).to.deep.equal({ warmUp: 0.2, established: 0.6 });
  });

  it('merges overrides one level deep and keeps the rest', () => {
    const cfg = makeScoringConfig({ exploration: { scale: 0.5 }, halfLifeMs: 1000 });
    expect(cfg.exploration).to.deep.equal({ ...defaultScoringConfig.exploration, scale: 0.5 });
    expect(cfg.halfLifeMs).to.equal(1000);
    expect(cfg.lambdas).to.deep.equal(defaultScoringConfig.lambdas);
  });

  it('rejects invalid settings with a typed error that names the field', () => {
    for (const [overrides, field] of [
      [{ halfLifeMs: 0 }, 'halfLifeMs'],
      [{ anonymityK: 1.5 }, 'anonymityK'],
      [{ priorStrength: -1 }, 'priorStrength'],
      [{ lambdas: { speed: { latency: -1 } } }, 'lambdas.speed'],
    ] as const) {
      try {
        makeScoringConfig(overrides);
        expect.fail(`expected ${field} to be rejected`);
      } catch (err) {
        expect(err).to.be.instanceOf(ScoringError);
        expect((err as ScoringError).code).to.equal('INVALID_ARGUMENT');
        expect((err as Error).message).to.include(field);
      }
    }
  });
});

import { expect } from 'chai';
import {
  MAX_SCALE_EXPONENT,
  MIN_SCALE_HORIZON_YEARS,
  ScoringError,
  addCells,
  contributionCell,
  defaultScoringConfig,
  makeScoringConfig,
  readCell,
  scaleHorizonMs,
  validateScoringConfig,
} from '../src/index.js';

const DAY = 24 * 3600 * 1000;

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
    const cfg = makeScoringConfig({ exploration: { scale: 0.5 }, halfLifeMs: 7 * DAY });
    expect(cfg.exploration).to.deep.equal({ ...defaultScoringConfig.exploration, scale: 0.5 });
    expect(cfg.halfLifeMs).to.equal(7 * DAY);
    expect(cfg.lambdas).to.deep.equal(defaultScoringConfig.lambdas);
  });

  it('rejects invalid settings with a typed error that names the field', () => {
    for (const [overrides, field] of [
      [{ halfLifeMs: 0 }, 'halfLifeMs'],
      [{ halfLifeMs: DAY }, 'halfLifeMs'],
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

  it('accepts only half-lives that keep the scaled statistics finite for years, and says until when', () => {
    expect(new Date(scaleHorizonMs(defaultScoringConfig)).getUTCFullYear()).to.equal(2103);
    const shortest = Math.ceil((MIN_SCALE_HORIZON_YEARS * 365.25 * DAY) / MAX_SCALE_EXPONENT);
    const cfg = makeScoringConfig({ halfLifeMs: shortest });
    expect(() => makeScoringConfig({ halfLifeMs: shortest - 3_600_000 })).to.throw(ScoringError, /at least 137 hours/);
    // At the horizon, a billion answers of two minutes each in one cell still sum to finite numbers.
    const at = scaleHorizonMs(cfg);
    const one = contributionCell({ quality: 0.7, latencyMs: 120_000, costUsd: 0.5, atMs: at }, cfg);
    let cell = one;
    for (let i = 0; i < 30; i++) cell = addCells(cell, cell);
    for (const v of [cell.n, cell.q, cell.q2, cell.requests, cell.latencyMs, cell.costUsd, ...cell.latencyHist])
      expect(Number.isFinite(v)).to.equal(true);
    expect(readCell(cell, at, cfg).mean).to.be.closeTo(0.7, 1e-9);
  });
});

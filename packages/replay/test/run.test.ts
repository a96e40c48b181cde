import { expect } from 'chai';
import { hullQualityAt, runReplay } from '../src/index.js';
import { arenaSubset } from './helpers.js';

describe('replay run', () => {
  const { rows, prices } = arenaSubset(60);

  it('is deterministic for a seed and differs across seeds', () => {
    const a = runReplay(rows, prices, { passes: 1, seed: 5 });
    const b = runReplay(rows, prices, { passes: 1, seed: 5 });
    const c = runReplay(rows, prices, { passes: 1, seed: 6 });
    expect(a).to.deep.equal(b);
    expect(a.policies.map((p) => p.meanQuality)).to.not.deep.equal(c.policies.map((p) => p.meanQuality));
  });

  it('reports every policy side by side, bounded by the per-prompt oracle', () => {
    const r = runReplay(rows, prices, { passes: 2, seed: 1, windows: 4 });
    const names = r.policies.map((p) => p.name);
    expect(names[0]).to.equal('random');
    expect(names).to.include('per-prompt oracle');
    expect(names.some((n) => n.startsWith('litellm-style'))).to.equal(true);
    expect(names).to.include('routeplex (heuristic only)');
    expect(names).to.include('routeplex (ratings 0.3)');
    const oracle = r.policies.find((p) => p.name === 'per-prompt oracle')!;
    for (const p of r.policies) {
      expect(p.meanQuality).to.be.at.most(oracle.meanQuality + 1e-12);
      expect(p.curve).to.have.length(4);
    }
    expect(oracle.pctOfOracle).to.equal(1);
    expect(r.requests).to.equal(120);
    const typeOracle = r.policies.find((p) => p.name === 'best per type (hindsight)')!;
    expect(typeOracle.regretVsTypeOracle).to.equal(0);
  });

  it('learns: routeplex with ratings beats random routing on real outcomes', () => {
    const r = runReplay(rows, prices, { passes: 3, seed: 2 });
    const random = r.policies.find((p) => p.name === 'random')!;
    const rp = r.policies.find((p) => p.name === 'routeplex (ratings 0.3)')!;
    expect(rp.secondHalfQuality).to.be.greaterThan(random.secondHalfQuality + 0.1);
  });

  it('adds the global-only comparison and its target with several accounts', () => {
    const r = runReplay(rows, prices, { passes: 1, seed: 3, accounts: 4 });
    expect(r.policies.some((p) => p.name.startsWith('routeplex global-only'))).to.equal(true);
    expect(r.targets.some((t) => t.name.includes('personal learning'))).to.equal(true);
  });

  it('measures the heuristic signal against recorded quality', () => {
    const r = runReplay(rows, prices, { passes: 1 });
    expect(r.spearmanOverall).to.be.a('number');
    expect(r.spearmanOverall!).to.be.within(-1, 1);
  });

  it('interpolates the single-model frontier on its upper hull', () => {
    const pts = [
      { model: 'a', meanQuality: 0.2, meanCostUsd: 1 },
      { model: 'b', meanQuality: 0.3, meanCostUsd: 2 }, // below the a-c line: not on the hull
      { model: 'c', meanQuality: 0.8, meanCostUsd: 3 },
    ];
    expect(hullQualityAt(pts, 2)).to.be.closeTo(0.5, 1e-12);
    expect(hullQualityAt(pts, 0.5)).to.equal(0.2);
    expect(hullQualityAt(pts, 10)).to.equal(0.8);
  });

  it('keeps the frontier flat beyond the best single model (a dearer, worse model does not lower it)', () => {
    const pts = [
      { model: 'cheap', meanQuality: 0.6, meanCostUsd: 1 },
      { model: 'best', meanQuality: 0.9, meanCostUsd: 3 },
      { model: 'dear', meanQuality: 0.8, meanCostUsd: 5 },
    ];
    expect(hullQualityAt(pts, 2)).to.be.closeTo(0.75, 1e-12);
    expect(hullQualityAt(pts, 4)).to.equal(0.9);
    expect(hullQualityAt(pts, 5)).to.equal(0.9);
  });
});

import { expect } from 'chai';
import fc from 'fast-check';
import { beta, mulberry32, normal, seedFromString } from '../src/index.js';

describe('seeded random sources', () => {
  it('repeats the same sequence for the same seed, within [0, 1)', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const a = mulberry32(seed);
        const b = mulberry32(seed);
        for (let i = 0; i < 20; i++) {
          const x = a();
          expect(x).to.equal(b());
          expect(x).to.be.at.least(0).and.lessThan(1);
        }
      }),
    );
  });

  it('draws normals and betas with the right means', () => {
    const rng = mulberry32(123);
    let sn = 0;
    let sb = 0;
    const N = 20_000;
    for (let i = 0; i < N; i++) {
      sn += normal(rng);
      sb += beta(rng, 2, 6);
    }
    expect(sn / N).to.be.closeTo(0, 0.03);
    expect(sb / N).to.be.closeTo(0.25, 0.01);
  });

  it('derives stable seeds from strings', () => {
    expect(seedFromString('account-1')).to.equal(seedFromString('account-1'));
    expect(seedFromString('account-1')).to.not.equal(seedFromString('account-2'));
  });
});

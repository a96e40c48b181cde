import { expect } from 'chai';
import fc from 'fast-check';
import { pearson, ranks, spearman } from '../src/index.js';

describe('statistics helpers', () => {
  it('gives tied values their average rank', () => {
    expect(ranks([10, 20, 20, 5])).to.deep.equal([2, 3.5, 3.5, 1]);
  });

  it('computes Spearman as Pearson on ranks: 1 for any increasing relation, -1 for decreasing', () => {
    expect(spearman([1, 2, 3, 4], [1, 8, 27, 64])).to.be.closeTo(1, 1e-12);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).to.be.closeTo(-1, 1e-12);
    expect(pearson([1, 2, 3], [2, 4, 6])).to.be.closeTo(1, 1e-12);
  });

  it('is undefined when a side is constant or too short', () => {
    expect(spearman([1, 1, 1], [1, 2, 3])).to.equal(undefined);
    expect(spearman([1], [2])).to.equal(undefined);
  });

  it('stays within [-1, 1]', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.double({ min: -1e6, max: 1e6, noNaN: true })),
          { minLength: 2, maxLength: 50 },
        ),
        (pairs) => {
          const rho = spearman(
            pairs.map((p) => p[0]),
            pairs.map((p) => p[1]),
          );
          if (rho !== undefined) expect(rho).to.be.within(-1 - 1e-9, 1 + 1e-9);
        },
      ),
    );
  });
});

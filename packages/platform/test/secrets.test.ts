import { expect } from 'chai';
import { randomId } from '../src/secrets.js';

describe('randomId', () => {
  it('is the prefix and the requested number of base62 characters', () => {
    expect(randomId('req_')).to.match(/^req_[A-Za-z0-9]{22}$/);
    expect(randomId('key_', 30)).to.match(/^key_[A-Za-z0-9]{30}$/);
  });

  it('never repeats and uses every character about equally, across many refills of its random pool', () => {
    const ids = Array.from({ length: 20_000 }, () => randomId('', 22));
    expect(new Set(ids).size).to.equal(ids.length);
    const counts = new Map<string, number>();
    for (const id of ids) for (const c of id) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).to.equal(62);
    // 440,000 characters: each expected ~7,097 times; a biased mapping (e.g. modulo 256) would skew by ~25%.
    const expected = (20_000 * 22) / 62;
    for (const [c, n] of counts) expect(Math.abs(n - expected) / expected, c).to.be.below(0.06);
  });
});

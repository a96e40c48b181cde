import { expect } from 'chai';
import { FEATURE_DIM, FeatureBuffer, extractFeatures, focusText } from '../../src/index.js';
import { LEXICONS } from '../../src/classifier/lexicon.js';

describe('classifier features', () => {
  it('reads the last user turn, with earlier user turns as context', () => {
    const { main, context } = focusText([
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'first question' },
      { role: 'assistant', content: 'an answer' },
      { role: 'user', content: 'second question' },
    ]);
    expect(main).to.equal('second question');
    expect(context).to.include('first question');
    expect(context).to.not.include('an answer');
  });

  it('lists only domain words a prompt can hold: as the tokenizer splits words, or by their five-letter stem', () => {
    // The tokenizer keeps a-z, 0-9, _ and non-ASCII letters in a word (after lower-casing) and splits on the rest.
    const word = /^[a-z0-9_\u0080-\uffff]+$/;
    const unreachable = LEXICONS.flat().filter((w) => !word.test(w) && !(w.length > 5 && word.test(w.slice(0, 5))));
    expect(unreachable).to.deep.equal([]);
  });

  it('reads the head and tail of a very long turn only', () => {
    const long = 'a'.repeat(5000) + 'THE END';
    const { main } = focusText([{ role: 'user', content: long }]);
    expect(main.length).to.be.lessThan(1100);
    expect(main.endsWith('THE END')).to.equal(true);
  });

  it('hashes into the feature space, identically for the same text and case-insensitively', () => {
    const a = extractFeatures([{ role: 'user', content: 'Write a Python function' }], new FeatureBuffer(4));
    const b = extractFeatures([{ role: 'user', content: 'write a python FUNCTION' }]);
    expect(a.length).to.be.greaterThan(10);
    expect(Array.from(a.indices.subarray(0, a.length))).to.deep.equal(Array.from(b.indices.subarray(0, b.length)));
    for (let i = 0; i < a.length; i++) expect(a.indices[i]).to.be.within(0, FEATURE_DIM - 1);
  });

  it('gives the words of one domain list a shared feature, and stems of longer words too', () => {
    const features = (text: string) => {
      const buf = extractFeatures([{ role: 'user', content: text }]);
      return new Set(buf.indices.subarray(0, buf.length));
    };
    const shared = (a: string, b: string) => [...features(a)].filter((f) => features(b).has(f)).length;
    // Same length and shape, so the length and script features are shared by all three.
    const control = shared('xq elegy', 'xq kernel');
    expect(shared('xq elegy', 'xq sonnet')).to.be.greaterThan(control);
    // "summarizations" is in no list, but its stem is that of "summarize", which is in the list of "synopsis".
    expect(shared('xq summarizations', 'xq synopsis')).to.be.greaterThan(shared('xq summarizations', 'xq sandpaper'));
  });

  it('grows its buffer as needed and reuses it across calls', () => {
    const buf = new FeatureBuffer(2);
    extractFeatures([{ role: 'user', content: 'x'.repeat(500) }], buf);
    const first = buf.length;
    extractFeatures([{ role: 'user', content: 'hi' }], buf);
    expect(first).to.be.greaterThan(buf.length);
  });
});

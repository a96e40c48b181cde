import { expect } from 'chai';
import { parseReplay, ReplayDataError } from '../src/index.js';

describe('replay dataset', () => {
  it('parses the DESIGN.md format and skips prompts without outcomes', () => {
    const rows = parseReplay(
      [
        JSON.stringify({ id: 'q1', messages: [{ role: 'user', content: 'hi' }], outcomes: { a: { quality: 0.5 } } }),
        '',
        JSON.stringify({ id: 'q2', messages: [{ role: 'user', content: 'x' }], outcomes: {} }),
      ].join('\n'),
    );
    expect(rows.map((r) => r.id)).to.deep.equal(['q1']);
  });

  it('says which line is wrong and what it needs', () => {
    expect(() => parseReplay('{not json')).to.throw(/replay:1 is not valid JSON/);
    expect(() => parseReplay(JSON.stringify({ id: 'q', messages: [] }))).to.throw(
      /needs "id" \(string\), "messages" \(array\) and "outcomes"/,
    );
    expect(() => parseReplay(JSON.stringify({ id: 'q', messages: [], outcomes: { m: { quality: 2 } } }))).to.throw(
      /outcome m needs "quality" in \[0, 1\]/,
    );
  });

  it('refuses a file with no prompt that has outcomes, instead of a report of NaN figures', () => {
    const withoutOutcomes = JSON.stringify({ id: 'q', messages: [{ role: 'user', content: 'x' }], outcomes: {} });
    for (const text of ['', '\n\n', withoutOutcomes]) {
      expect(() => parseReplay(text, 'empty.jsonl'))
        .to.throw(ReplayDataError)
        .with.property('message')
        .that.matches(/^empty\.jsonl holds no prompt with outcomes/);
    }
  });
});

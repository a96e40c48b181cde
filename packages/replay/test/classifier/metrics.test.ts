import { expect } from 'chai';
import { evaluatePredictions, formatReport } from '../../src/classifier/metrics.js';

describe('classifier metrics', () => {
  it('computes accuracy, per-type precision and recall and the confusion matrix', () => {
    const r = evaluatePredictions([
      { expected: 'math', predicted: 'math' },
      { expected: 'math', predicted: 'reasoning' },
      { expected: 'reasoning', predicted: 'reasoning' },
      { expected: 'factual', predicted: 'math' },
    ]);
    expect(r.accuracy).to.equal(0.5);
    const math = r.perType.find((t) => t.type === 'math')!;
    expect(math.precision).to.equal(0.5);
    expect(math.recall).to.equal(0.5);
    expect(r.perType.find((t) => t.type === 'translation')!.recall).to.equal(undefined);
    expect(r.confusion.math.reasoning).to.equal(1);
    expect(formatReport('t', r)).to.match(/accuracy {2}50\.0% \(2\/4\)/);
  });
});

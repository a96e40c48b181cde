import { expect } from 'chai';
import { createClassifier } from '@routeplex/scoring';
import { loadOwnPrompts } from '../../src/classifier/dataset.js';
import { crossValidate } from '../../src/classifier/crossval.js';
import { evaluatePredictions } from '../../src/classifier/metrics.js';
import { trainClassifier } from '../../src/classifier/train.js';

describe('classifier training', () => {
  const own = loadOwnPrompts();

  it('loads the committed labelled prompts, every type represented', () => {
    expect(own.length).to.be.at.least(400);
    expect(new Set(own.map((e) => e.expected)).size).to.equal(12);
  });

  it('fits its training data and generalises to held-out prompts well above chance', () => {
    const model = trainClassifier(own, { epochs: 10 });
    const clf = createClassifier(model);
    const trainAcc = own.filter((e) => clf.classify(e.messages).queryType === e.expected).length / own.length;
    expect(trainAcc).to.be.greaterThan(0.95);
    const cv = crossValidate(own, 3, { epochs: 10 });
    const heldOut = evaluatePredictions(
      cv.map((r) => ({ expected: r.example.expected, predicted: r.predicted })),
    ).accuracy;
    expect(heldOut).to.be.greaterThan(0.5); // chance is 1/12
  });
});

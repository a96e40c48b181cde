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
    // One training order keeps this quick; averaging has its own test below.
    const options = { epochs: 10, averageOf: 1 };
    const model = trainClassifier(own, options);
    const clf = createClassifier(model);
    const trainAcc = own.filter((e) => clf.classify(e.messages).queryType === e.expected).length / own.length;
    expect(trainAcc).to.be.greaterThan(0.95);
    const cv = crossValidate(own, 3, options);
    const heldOut = evaluatePredictions(
      cv.map((r) => ({ expected: r.example.expected, predicted: r.predicted })),
    ).accuracy;
    expect(heldOut).to.be.greaterThan(0.5); // chance is 1/12
  });

  it('averages the weights of models trained on differently shuffled orders', () => {
    const few = own.slice(0, 120);
    const options = { epochs: 2, seed: 11, averageOf: 1 };
    const averaged = trainClassifier(few, { ...options, averageOf: 2 });
    const first = trainClassifier(few, options);
    const second = trainClassifier(few, { ...options, seed: 1011 });
    let differ = 0;
    let worst = 0;
    for (let i = 0; i < averaged.weights.length; i++) {
      worst = Math.max(worst, Math.abs(averaged.weights[i]! - (first.weights[i]! + second.weights[i]!) / 2));
      if (first.weights[i] !== second.weights[i]) differ++;
    }
    expect(differ, 'the two orders must give different models').to.be.greaterThan(0);
    expect(worst).to.be.lessThan(1e-6);
    for (let c = 0; c < averaged.bias.length; c++)
      expect(averaged.bias[c]).to.be.closeTo((first.bias[c]! + second.bias[c]!) / 2, 1e-9);
  });
});

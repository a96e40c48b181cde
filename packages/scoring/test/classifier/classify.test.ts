import { expect } from 'chai';
import fc from 'fast-check';
import { CLASSIFIER_WEIGHTS } from '../../src/classifier/weights.generated.js';
import { QUERY_TYPES, classify, denseFromSerialized, estimateComplexity, serializeDense } from '../../src/index.js';

const user = (content: string) => [{ role: 'user', content }];

describe('query-type classifier', () => {
  const cases: [string, string][] = [
    ['Write a Python function that merges two sorted lists into one sorted list.', 'code_algorithm'],
    ['Translate "good evening, how was your day?" into Italian.', 'translation'],
    ['Solve for x: 5x - 3 = 2x + 9', 'math'],
    ['Write a short poem about a lighthouse keeper and the sea.', 'creative'],
    [
      'Summarize the following article in three bullet points: The council voted on Monday to expand the tram network...',
      'summarization',
    ],
    ['hey, how are you doing today?', 'conversation'],
  ];
  for (const [prompt, expected] of cases) {
    it(`labels "${prompt.slice(0, 40)}..." as ${expected}`, () => {
      expect(classify(user(prompt)).queryType).to.equal(expected);
    });
  }

  // Every domain word below is absent from all labelled prompts: only the domain lists can place them.
  const unseen: [string, string][] = [
    ['an ode, an elegy or a quatrain?', 'creative'],
    ['from Cantonese to Ukrainian', 'translation'],
    ['stacktrace: segfault in the mutex', 'code_debug'],
    ['heartbroken and overwhelmed, need to vent', 'conversation'],
    ['feasibility, drawbacks and stakeholders of the okr rollout', 'analysis'],
  ];
  for (const [prompt, expected] of unseen) {
    it(`places "${prompt}", made of words no labelled prompt has, in ${expected}`, () => {
      expect(classify(user(prompt)).queryType).to.equal(expected);
    });
  }

  it('reads mostly the last user turn', () => {
    const messages = [
      { role: 'user', content: 'Write a Python function that parses dates.' },
      { role: 'assistant', content: 'def parse(s): ...' },
      { role: 'user', content: 'Now translate this sentence to German: the parser is ready.' },
    ];
    expect(classify(messages).queryType).to.equal('translation');
  });

  it('is deterministic and returns a known type with a probability', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        const a = classify(user(text));
        expect(a).to.deep.equal(classify(user(text)));
        expect(QUERY_TYPES).to.include(a.queryType);
        expect(a.confidence).to.be.greaterThan(0).and.at.most(1);
      }),
    );
  });

  it('copes with no messages at all', () => {
    expect(QUERY_TYPES).to.include(classify([]).queryType);
  });

  it('round-trips the committed weights through the compact encoding', () => {
    const dense = denseFromSerialized(CLASSIFIER_WEIGHTS);
    const again = denseFromSerialized(serializeDense(dense, 'test'));
    expect(again.weights.length).to.equal(dense.weights.length);
    const [f, g] = [dense.scale ?? 1, again.scale ?? 1];
    let maxDiff = 0;
    for (let i = 0; i < dense.weights.length; i++)
      maxDiff = Math.max(maxDiff, Math.abs(again.weights[i]! * g - dense.weights[i]! * f));
    expect(maxDiff).to.be.at.most(CLASSIFIER_WEIGHTS.scale);
  });

  it('estimates complexity from the size and demands of the ask', () => {
    expect(estimateComplexity(user('hi'))).to.equal('low');
    expect(estimateComplexity(user('What is the capital of Peru?'))).to.equal('low');
    const hard =
      'Design and implement a distributed rate limiter from scratch. Requirements:\n1. sliding window\n2. Redis backend\n3. step by step proof of correctness\n' +
      'x'.repeat(1600);
    expect(estimateComplexity(user(hard))).to.equal('high');
  });
});

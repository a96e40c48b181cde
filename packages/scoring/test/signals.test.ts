import { expect } from 'chai';
import { qualitySignals } from '../src/index.js';

const codeAnswer =
  'Here is a solution:\n\n```python\ndef reverse(s):\n    return s[::-1]\n```\n\nIt slices the string with a negative step, which is O(n).\n\n' +
  'More detail about edge cases and complexity. '.repeat(20);

describe('quality signals', () => {
  it('scores an empty answer zero', () => {
    expect(qualitySignals({ queryType: 'factual', responseText: '   ' }).score).to.equal(0);
  });

  it('scores a refusal far below a real answer', () => {
    const refusal = qualitySignals({
      queryType: 'code_algorithm',
      responseText: "I'm sorry, but I can't help with that request.",
    });
    const answer = qualitySignals({ queryType: 'code_algorithm', responseText: codeAnswer });
    expect(refusal.features.refusal).to.equal(1);
    expect(refusal.score).to.be.lessThan(0.2);
    expect(answer.score).to.be.greaterThan(0.6);
  });

  it('rewards code fences where the type calls for code', () => {
    const prose = codeAnswer.replace(/```python\n|```/g, '');
    const a = qualitySignals({ queryType: 'code_algorithm', responseText: codeAnswer });
    const b = qualitySignals({ queryType: 'code_algorithm', responseText: prose });
    expect(a.features.structure_score).to.be.greaterThan(b.features.structure_score!);
  });

  it('judges the structure of an answer asked for in JSON by whether it parses, not by fences or lists', () => {
    const object = JSON.stringify({ name: 'reverse', code: 'def reverse(s): return s[::-1]', steps: ['slice'] });
    const valid = qualitySignals({ queryType: 'code_algorithm', responseText: object, json: true });
    const broken = qualitySignals({ queryType: 'code_algorithm', responseText: object.slice(0, -2), json: true });
    const asText = qualitySignals({ queryType: 'code_algorithm', responseText: object });
    expect(valid.features).to.include({ json_valid: 1, structure_score: 1 });
    expect(broken.features).to.include({ json_valid: 0, structure_score: 0 });
    expect(valid.score).to.be.greaterThan(asText.score);
    expect(asText.features).not.to.have.property('json_valid');
  });

  it('penalises a truncated answer and a filtered one', () => {
    const full = qualitySignals({ queryType: 'writing', responseText: codeAnswer, finishReason: 'stop' }).score;
    expect(
      qualitySignals({ queryType: 'writing', responseText: codeAnswer, finishReason: 'length' }).score,
    ).to.be.lessThan(full);
    expect(
      qualitySignals({ queryType: 'writing', responseText: codeAnswer, finishReason: 'content_filter' }).score,
    ).to.be.lessThan(0.15);
  });

  it('infers truncation from an answer that stops mid-sentence when the finish reason is unknown', () => {
    const clean = qualitySignals({ queryType: 'factual', responseText: 'Paris is the capital of France.' });
    const cut = qualitySignals({
      queryType: 'factual',
      responseText: 'Paris is the capital of France and its largest',
    });
    expect(clean.features.ends_cleanly).to.equal(1);
    expect(cut.features.ends_cleanly).to.equal(0);
    expect(cut.features.finish_score).to.be.lessThan(clean.features.finish_score!);
    // A known finish reason wins over the guess.
    expect(
      qualitySignals({
        queryType: 'factual',
        responseText: 'Paris is the capital of France and its largest',
        finishReason: 'stop',
      }).features.finish_score,
    ).to.equal(1);
  });

  it('penalises a very short answer to a long prompt, except for summaries', () => {
    const short = 'Yes, that works.';
    const debug = qualitySignals({ queryType: 'code_debug', responseText: short, promptTokens: 2000 });
    const summary = qualitySignals({ queryType: 'summarization', responseText: short, promptTokens: 2000 });
    expect(debug.features.ratio_score).to.be.lessThan(summary.features.ratio_score!);
  });

  it('returns only numbers, in [0, 1] for the score', () => {
    const s = qualitySignals({
      queryType: 'analysis',
      responseText: '- one\n- two\n- three\n\n## Heading\ntext',
      promptTokens: 30,
      completionTokens: 40,
    });
    expect(s.score).to.be.within(0, 1);
    for (const v of Object.values(s.features)) expect(v).to.be.a('number');
  });
});

import { classify, qualitySignals } from '@routeplex/scoring';
import { expect } from 'chai';
import { loadCatalog } from '../src/catalog.js';
import { QUERY_TYPES, type QueryType } from '../src/query-types.js';
import type { ProviderError } from '../src/errors.js';
import {
  EXPECTED_TOKENS,
  SimulatorProvider,
  estimateTokens,
  guessQueryType,
  type SimulatedProfile,
} from '../src/simulator.js';
import type { ChatCall } from '../src/types.js';
import { collect, rejectionOf } from './support/http-server.js';

const strong: SimulatedProfile = {
  quality: { code_algorithm: 0.95 },
  defaultQuality: 0.9,
  ttftMs: 200,
  outputTokensPerSecond: 100,
};
const weak: SimulatedProfile = {
  quality: { code_algorithm: 0.2 },
  defaultQuality: 0.2,
  ttftMs: 50,
  outputTokensPerSecond: 300,
};

function simulator(latencyScale = 0) {
  return new SimulatorProvider({ models: { 'sim-strong': strong, 'sim-weak': weak }, latencyScale });
}

function codeCall(model: string, i: number): ChatCall {
  return {
    model,
    messages: [{ role: 'user', content: `Implement a function that sorts list number ${i} in javascript` }],
  };
}

describe('SimulatorProvider', () => {
  it('answers the same request identically every time, and differently for another request', async () => {
    const sim = simulator();
    const first = await sim.complete(codeCall('sim-strong', 1));
    const again = await simulator().complete(codeCall('sim-strong', 1));
    const other = await sim.complete(codeCall('sim-strong', 2));
    expect(again).to.deep.equal(first);
    expect(other.text).to.not.equal(first.text);
  });

  it('marks every answer as simulated and reports usage from the text', async () => {
    const result = await simulator().complete(codeCall('sim-weak', 3));
    expect(result.text.startsWith('[simulated sim-weak] ')).to.equal(true);
    expect(result.providerModel).to.equal('sim-weak');
    expect(result.usage!.completionTokens).to.equal(estimateTokens(result.text));
    expect(result.usage!.promptTokens).to.be.greaterThan(0);
  });

  it('gives better-shaped answers from the better profile (in range, fenced, complete, no refusal)', async () => {
    const sim = simulator();
    const [low, high] = EXPECTED_TOKENS.code_algorithm;
    const rate = async (model: string) => {
      let good = 0;
      for (let i = 0; i < 200; i++) {
        const r = await sim.complete(codeCall(model, i));
        const tokens = r.usage!.completionTokens;
        const isGood =
          r.finishReason === 'stop' &&
          r.text.includes('```') &&
          tokens >= low &&
          tokens <= high * 1.2 &&
          !/sorry/i.test(r.text);
        if (isGood) good++;
      }
      return good / 200;
    };
    const strongRate = await rate('sim-strong');
    const weakRate = await rate('sim-weak');
    expect(strongRate).to.be.greaterThan(0.8);
    expect(weakRate).to.be.below(0.35);
  });

  it('gives refusals and length-truncated answers from a weak profile', async () => {
    const sim = simulator();
    const reasons = new Set<string>();
    let refusals = 0;
    for (let i = 0; i < 100; i++) {
      const r = await sim.complete(codeCall('sim-weak', i));
      reasons.add(r.finishReason);
      if (r.text.includes("I'm sorry")) refusals++;
    }
    expect([...reasons].sort()).to.deep.equal(['length', 'stop']);
    expect(refusals).to.be.greaterThan(5);
  });

  it('honours maxTokens with finish reason length, and stop sequences', async () => {
    const sim = simulator();
    const capped = await sim.complete({ ...codeCall('sim-strong', 4), maxTokens: 10 });
    expect(capped.finishReason).to.equal('length');
    expect(capped.usage!.completionTokens).to.be.at.most(10);
    const stopped = await sim.complete({ ...codeCall('sim-strong', 4), stop: ['```'] });
    expect(stopped.text).to.not.include('```');
  });

  it('answers in JSON when asked: an object, or one that follows the schema', async () => {
    const sim = simulator();
    const object = JSON.parse(
      (await sim.complete({ ...codeCall('sim-strong', 6), responseFormat: { type: 'json_object' } })).text,
    );
    expect(object.answer).to.be.a('string').and.contain('[simulated sim-strong]');
    const schema = {
      type: 'object',
      properties: {
        city: { type: 'string' },
        population: { type: 'integer', minimum: 1 },
        tags: { type: 'array', items: { type: 'string' } },
        kind: { type: 'string', enum: ['capital', 'town'] },
      },
      required: ['city', 'population', 'tags', 'kind'],
      additionalProperties: false,
    };
    const shaped = JSON.parse(
      (
        await sim.complete({
          ...codeCall('sim-strong', 6),
          responseFormat: { type: 'json_schema', name: 'place', schema },
        })
      ).text,
    );
    expect(Object.keys(shaped)).to.deep.equal(['city', 'population', 'tags', 'kind']);
    expect(shaped.population).to.equal(1);
    expect(shaped.tags).to.have.length(1);
    expect(shaped.kind).to.equal('capital');
  });

  it('streams the same text in several chunks and ends with finish reason and usage', async () => {
    const sim = simulator();
    const whole = await sim.complete(codeCall('sim-strong', 5));
    const chunks = await collect(sim.stream(codeCall('sim-strong', 5)));
    expect(chunks.length).to.be.greaterThan(3);
    expect(chunks.map((c) => c.deltaText ?? '').join('')).to.equal(whole.text);
    expect(chunks.at(-1)).to.deep.equal({
      finishReason: whole.finishReason,
      usage: whole.usage,
      providerModel: 'sim-strong',
    });
  });

  it('waits the profile latency times latencyScale, and fails with DEADLINE_EXCEEDED past the timeout', async () => {
    const quick: SimulatedProfile = { ...strong, outputTokensPerSecond: 1e6 };
    const sim = new SimulatorProvider({ models: { 'sim-strong': quick }, latencyScale: 0.2 });
    const started = Date.now();
    await sim.complete(codeCall('sim-strong', 6)); // 200 ms to the first token x 0.2 x jitter >= 34 ms
    expect(Date.now() - started).to.be.at.least(30);
    const error = await rejectionOf(simulator(1).complete({ ...codeCall('sim-strong', 6), timeoutMs: 20 }));
    expect(error).to.include({ code: 'DEADLINE_EXCEEDED' });
  });

  it('stops with CANCELLED when the caller aborts', async () => {
    const controller = new AbortController();
    const pending = simulator(1).complete({ ...codeCall('sim-strong', 7), signal: controller.signal });
    setTimeout(() => controller.abort(), 10);
    expect(await rejectionOf(pending)).to.include({ code: 'CANCELLED' });
  });

  it('fails deterministically at the profile failure rate with a retryable UNAVAILABLE', async () => {
    const flaky = new SimulatorProvider({
      models: { 'sim-flaky': { ...strong, failureRate: 0.5 } },
      latencyScale: 0,
    });
    const outcomes: string[] = [];
    for (let i = 0; i < 40; i++) {
      outcomes.push(
        await flaky.complete(codeCall('sim-flaky', i)).then(
          () => 'ok',
          (e: ProviderError) => e.code,
        ),
      );
    }
    expect(outcomes).to.include('ok').and.to.include('UNAVAILABLE');
    const again = await flaky.complete(codeCall('sim-flaky', 0)).then(
      () => 'ok',
      (e: ProviderError) => e.code,
    );
    expect(again).to.equal(outcomes[0]);
  });

  it('rejects an unknown model with NOT_FOUND naming the known ones', async () => {
    const error = (await rejectionOf(simulator().complete(codeCall('sim-nope', 1)))) as ProviderError;
    expect(error.code).to.equal('NOT_FOUND');
    expect(error.message).to.include('sim-strong');
  });

  it('shapes answers by a query type guessed from the last user message, or by the injected classifier', () => {
    expect(guessQueryType('Translate this into French: good morning')).to.equal('translation');
    expect(guessQueryType('Why do I get a TypeError exception here?')).to.equal('code_debug');
    expect(guessQueryType('Solve the equation 3x + 2 = 11')).to.equal('math');
    expect(guessQueryType('Write a haiku about rain')).to.equal('creative');
    expect(guessQueryType('hello there!')).to.equal('conversation');
    const sim = new SimulatorProvider({
      models: { m: strong },
      classify: (messages) => (messages.length > 0 ? 'extraction' : 'math'),
    });
    expect(sim.queryTypeOf(codeCall('m', 1))).to.equal('extraction');
  });
});

describe('shipped simulator models under the project heuristic scorer', () => {
  // The embedded default must visibly learn: the router's own classifier and quality signals must see the shipped
  // profiles' differences, so that better-suited models earn better statistics.
  const prompts: Record<QueryType, string> = {
    code_algorithm: 'Implement a function in python that merges two sorted lists',
    code_debug: 'My code throws TypeError: undefined is not a function when I call map, how do I fix this bug?',
    math: 'Solve the equation 3x + 7 = 22 for x',
    reasoning: 'If all bloops are razzies and all razzies are lazzies, are all bloops lazzies? Explain the logic',
    analysis: 'Compare the pros and cons of microservices versus a monolith',
    creative: 'Write a poem about the autumn sea',
    writing: 'Draft a cover letter for a junior developer job',
    factual: 'What is the capital of Australia?',
    summarization: 'Summarize the following article in three sentences: The city council met on Tuesday',
    extraction: 'Extract all email addresses from this text: contact a@b.com',
    translation: 'Translate into French: where is the train station?',
    conversation: 'hey, how is your day going?',
  };

  const SAMPLES = 60;

  it('scores the models in the order of their simulated quality, type by type', async () => {
    const catalog = loadCatalog({ env: {}, latencyScale: 0, classify: (messages) => classify(messages).queryType });
    const models = catalog.models().filter((m) => m.simulated);
    let ordered = 0;
    let pairs = 0;
    for (const type of QUERY_TYPES) {
      const means: number[] = [];
      for (const model of models) {
        let sum = 0;
        for (let i = 0; i < SAMPLES; i++) {
          const r = await catalog.provider(model.id).complete({
            model: model.providerModel,
            messages: [{ role: 'user', content: `${prompts[type]} (${i})` }],
          });
          sum += qualitySignals({
            queryType: type,
            responseText: r.text,
            finishReason: r.finishReason,
            promptTokens: r.usage!.promptTokens,
            completionTokens: r.usage!.completionTokens,
          }).score;
        }
        means.push(sum / SAMPLES);
      }
      const truth = models.map((m) => m.simulation!.quality[type]!);
      const best = truth.indexOf(Math.max(...truth));
      const worst = truth.indexOf(Math.min(...truth));
      expect(means[best]! - means[worst]!, `${type}: best vs worst model`).to.be.greaterThan(0.1);
      for (let a = 0; a < models.length; a++) {
        for (let b = 0; b < models.length; b++) {
          if (truth[a]! - truth[b]! < 0.15) continue;
          pairs++;
          if (means[a]! > means[b]!) ordered++;
        }
      }
    }
    expect(ordered / pairs).to.be.at.least(0.9);
    await catalog.close();
  });
});

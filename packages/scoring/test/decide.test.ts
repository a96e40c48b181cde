import { expect } from 'chai';
import fc from 'fast-check';
import type { CandidateModel, CellSums, DecideInput, GlobalCellSums } from '../src/index.js';
import {
  NoEligibleModelError,
  addCells,
  contributionCell,
  decide,
  defaultScoringConfig as cfg,
  emptyCell,
  makeScoringConfig,
  mulberry32,
} from '../src/index.js';

const NOW = Date.UTC(2026, 5, 1);

const catalog: CandidateModel[] = [
  {
    id: 'big',
    provider: 'p1',
    inputPerMTok: 10,
    outputPerMTok: 30,
    contextWindow: 128_000,
    capabilities: ['tools', 'vision'],
    priorQuality: 0.6,
    typicalLatencyMs: 4000,
  },
  {
    id: 'mid',
    provider: 'p2',
    inputPerMTok: 1,
    outputPerMTok: 2,
    contextWindow: 16_000,
    capabilities: ['tools'],
    priorQuality: 0.6,
    typicalLatencyMs: 1500,
  },
  {
    id: 'small',
    provider: 'p3',
    inputPerMTok: 0.1,
    outputPerMTok: 0.2,
    contextWindow: 8_000,
    capabilities: [],
    priorQuality: 0.6,
    typicalLatencyMs: 500,
  },
];

function cellOf(quality: number, count: number, weight = 1, costUsd = 0.001, latencyMs = 1000): CellSums {
  let c = emptyCell();
  for (let i = 0; i < count; i++)
    c = addCells(c, contributionCell({ quality, weight, atMs: NOW - i * 60_000, latencyMs, costUsd }, cfg));
  return c;
}

function base(overrides: Partial<DecideInput> = {}): DecideInput {
  return {
    candidates: catalog,
    queryType: 'code_algorithm',
    promptTokens: 500,
    preference: 'quality',
    nowMs: NOW,
    rng: mulberry32(1),
    ...overrides,
  };
}

describe('decide', () => {
  it('applies constraints first and explains each rejection', () => {
    const d = decide(base({ promptTokens: 10_000, constraints: { unhealthy: new Set(['mid']) } }));
    expect(d.model).to.equal('big');
    expect(d.rejected).to.deep.include.members([
      { model: 'mid', reason: 'unhealthy', detail: 'provider p2 is marked unhealthy' },
      { model: 'small', reason: 'context_window', detail: 'needs 10700 tokens, window is 8000' },
    ]);
    expect(d.candidates.map((c) => c.model)).to.deep.equal(['big']);
  });

  it('throws a typed error naming the constraint to relax when nothing is eligible', () => {
    try {
      decide(base({ constraints: { requiredCapabilities: ['vision'], maxCostUsd: 0.000001 } }));
      expect.fail('should throw');
    } catch (err) {
      expect(err).to.be.instanceOf(NoEligibleModelError);
      const e = err as NoEligibleModelError;
      expect(e.code).to.equal('FAILED_PRECONDITION');
      expect(e.blocking).to.equal('missing_capability');
      expect(e.message).to.match(/drop a required capability/);
      expect(e.rejections).to.have.length(3);
    }
  });

  it('checks allowed models and the cost ceiling', () => {
    const d = decide(base({ constraints: { allowedModels: ['big', 'small'], maxCostUsd: 0.001 } }));
    expect(d.model).to.equal('small');
    expect(d.rejected.map((r) => r.reason).sort()).to.deep.equal(['not_allowed', 'over_budget']);
  });

  it('keeps room in the context window for the max_tokens a request reserves, up to the model output cap', () => {
    const windowed: CandidateModel[] = [
      { ...catalog[2]!, id: 'w8k', contextWindow: 8000, maxOutputTokens: 2000 },
      { ...catalog[0]!, id: 'w128k' },
    ];
    const pick = (promptTokens: number, maxCompletionTokens: number | undefined) =>
      decide(base({ candidates: windowed, promptTokens, maxCompletionTokens, expectedCompletionTokens: 300 }));
    // 7,000 + 2,000 reserved does not fit 8,000, though the typical 300 would.
    expect(pick(7000, 2000).rejected).to.deep.include({
      model: 'w8k',
      reason: 'context_window',
      detail: 'needs 9000 tokens, window is 8000',
    });
    expect(pick(7000, 500).rejected.map((r) => r.model)).not.to.include('w8k');
    // The model writes at most 2,000: a larger max_tokens reserves no more than that.
    expect(pick(5000, 100_000).rejected.map((r) => r.model)).not.to.include('w8k');
  });

  it('calls a model unhealthy only when it would otherwise serve the request', () => {
    // 20,000 tokens fit only big's window; small's provider is failing too, but it could never have served.
    const d = () => decide(base({ promptTokens: 20_000, constraints: { unhealthy: new Set(['small', 'big']) } }));
    expect(() => d()).to.throw(NoEligibleModelError);
    try {
      d();
    } catch (err) {
      expect((err as NoEligibleModelError).rejections.map((r) => [r.model, r.reason])).to.deep.equal([
        ['big', 'unhealthy'],
        ['mid', 'context_window'],
        ['small', 'context_window'],
      ]);
    }
  });

  it("holds a long prompt to the cost ceiling however cheap the account's short requests were", () => {
    // 30 answers of big at $0.001 each; this prompt alone costs 12,000 x $10 / 1M = $0.12 to send.
    const history = { big: cellOf(0.9, 30, 1, 0.001) };
    const constraints = { allowedModels: ['big', 'mid'], maxCostUsd: 0.1 };
    const d = decide(base({ promptTokens: 12_000, personal: history, constraints }));
    expect(d.model).to.equal('mid');
    expect(d.rejected.map((r) => [r.model, r.reason])).to.deep.include(['big', 'over_budget']);
  });

  it('is reproducible from its seed', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.constantFrom('quality', 'balanced', 'cost', 'speed' as const),
        (seed, preference) => {
          const personal = { big: cellOf(0.8, 3), small: cellOf(0.4, 2) };
          const a = decide(base({ rng: mulberry32(seed), preference, personal }));
          const b = decide(base({ rng: mulberry32(seed), preference, personal }));
          expect(a).to.deep.equal(b);
        },
      ),
    );
  });

  it('prefers the cheap model under the cost preference and the strong one under quality, once evidence is in', () => {
    const global: Record<string, GlobalCellSums> = {
      big: { ...cellOf(0.9, 200, 1, 0.02), contributors: 10 },
      mid: { ...cellOf(0.75, 200, 1, 0.002), contributors: 10 },
      small: { ...cellOf(0.7, 200, 1, 0.0002), contributors: 10 },
    };
    const q = decide(base({ global, rng: mulberry32(3) }));
    const c = decide(base({ global, rng: mulberry32(3), preference: 'cost' }));
    expect(q.model).to.equal('big');
    expect(c.model).to.equal('small');
    expect(q.ranked).to.have.length(3);
    expect(q.ranked[0]).to.equal(q.model);
  });

  it('weighs cost in dollars: between two budget models the better one wins, though ten times the price', () => {
    // Both budget models cost a few percent of the frontier model, so their tenfold price ratio is a
    // fraction of a cent; on a log scale it weighed as much as frontier against mid-price.
    const sameSpeed = catalog.map((c) => ({ ...c, typicalLatencyMs: 1000 }));
    const global: Record<string, GlobalCellSums> = {
      big: { ...cellOf(0.9, 200, 1, 0.02), contributors: 10 },
      mid: { ...cellOf(0.75, 200, 1, 0.0006), contributors: 10 },
      small: { ...cellOf(0.68, 200, 1, 0.00006), contributors: 10 },
    };
    const d = decide(base({ candidates: sameSpeed, global, rng: mulberry32(5), preference: 'balanced' }));
    expect(d.model).to.equal('mid');
    const lambda = cfg.lambdas.balanced.cost;
    const big = d.candidates.find((x) => x.model === 'big')!;
    for (const c of d.candidates)
      expect(c.estimatedQuality - c.utility).to.be.closeTo((lambda * c.estimatedCostUsd) / big.estimatedCostUsd, 1e-12);
  });

  it("lifts an untried model to the level of its tier's best tried model, whatever poor siblings show", () => {
    const tier = (id: string, priorQuality: number): CandidateModel => ({
      id,
      provider: 'p',
      inputPerMTok: 1,
      outputPerMTok: 1,
      contextWindow: 100_000,
      priorQuality,
      typicalLatencyMs: 1000,
    });
    const candidates = [tier('frontier-poor', 0.65), tier('frontier-good', 0.65), tier('frontier-untried', 0.65)];
    const good = { ...cellOf(0.85, 3), contributors: 5 };
    const poor = { ...cellOf(0.45, 40), contributors: 5 };
    const untried = (global: Record<string, GlobalCellSums>) =>
      decide(base({ candidates, global })).candidates.find((c) => c.model === 'frontier-untried')!.estimatedQuality;
    // A poor sibling with far more evidence does not pull the untried model down (a mean would: to ~0.50).
    expect(untried({ 'frontier-poor': poor, 'frontier-good': good })).to.equal(untried({ 'frontier-good': good }));
    expect(untried({ 'frontier-good': good })).to.be.greaterThan(0.65);
    // With only poor evidence in the tier, the level does fall.
    expect(untried({ 'frontier-poor': poor })).to.be.lessThan(0.65);
  });

  it('ignores global cells below the anonymity threshold', () => {
    const global: Record<string, GlobalCellSums> = { small: { ...cellOf(1, 500), contributors: 2 } };
    const d = decide(base({ global, rng: mulberry32(5) }));
    const small = d.candidates.find((c) => c.model === 'small')!;
    expect(small.estimatedQuality).to.equal(0.6);
  });

  it("does not count the asking account among a global cell's K contributors", () => {
    const own = { small: cellOf(0.5, 4) };
    const estimate = (global?: Record<string, GlobalCellSums>, pooledGlobal?: Record<string, GlobalCellSums>) =>
      decide(
        base({ personal: own, global, pooled: { personal: own, global: pooledGlobal }, rng: mulberry32(5) }),
      ).candidates.find((c) => c.model === 'small')!.estimatedQuality;
    const alone = estimate();
    // Three contributors, one of them this account: only two others, below K = 3.
    expect(estimate({ small: { ...cellOf(1, 500), contributors: 3 } })).to.equal(alone);
    expect(estimate(undefined, { small: { ...cellOf(1, 500), contributors: 3 } })).to.equal(alone);
    expect(estimate({ small: { ...cellOf(1, 500), contributors: 4 } })).to.be.greaterThan(alone + 0.1);
    expect(estimate(undefined, { small: { ...cellOf(1, 500), contributors: 4 } })).to.be.greaterThan(alone + 0.1);
  });

  it("leaves the account's own failures, costs and latencies out of the global-only choice", () => {
    const twin = (id: string): CandidateModel => ({ ...catalog[1]!, id, provider: id });
    let failures = emptyCell();
    for (let i = 0; i < 20; i++)
      failures = addCells(failures, contributionCell({ failed: true, atMs: NOW - i * 60_000 }, cfg));
    for (let seed = 0; seed < 40; seed++) {
      const input = { candidates: [twin('a'), twin('b')], preference: 'balanced' as const };
      const plain = decide(base({ ...input, rng: mulberry32(seed) }));
      const failing = decide(base({ ...input, personal: { a: failures }, rng: mulberry32(seed) }));
      // The same draws without personal data: the choice of the account with no data at all.
      expect(failing.globalOnlyModel, `seed ${seed}`).to.equal(plain.model);
      expect(failing.changedByPersonal).to.equal(failing.model !== plain.model);
    }
  });

  it('says when personal data changed the choice, and reports the stage', () => {
    const global: Record<string, GlobalCellSums> = {
      big: { ...cellOf(0.9, 200), contributors: 10 },
      mid: { ...cellOf(0.5, 200), contributors: 10 },
      small: { ...cellOf(0.5, 200), contributors: 10 },
    };
    const personal = { small: cellOf(1, 30, 3), big: cellOf(0.1, 30, 3) };
    const d = decide(base({ global, personal, rng: mulberry32(9) }));
    expect(d.model).to.equal('small');
    expect(d.globalOnlyModel).to.equal('big');
    expect(d.changedByPersonal).to.equal(true);
    expect(d.stage).to.equal('established');
    const cold = decide(base({ global, rng: mulberry32(9) }));
    expect(cold.stage).to.equal('cold_start');
    expect(cold.changedByPersonal).to.equal(false);
  });

  it("carries an account's taste for a model, learned over all types, to a type it has no record of", () => {
    const everyone = (q: number) => ({ ...cellOf(q, 300), contributors: 10 });
    // Everyone: big 0.8, mid 0.7, over all types and in math; this account has never asked math.
    const pooledGlobal = { big: everyone(0.8), mid: everyone(0.7) };
    const global = { big: everyone(0.8), mid: everyone(0.7) };
    const greedy = makeScoringConfig({ exploration: { scale: 0 } });
    const inMath = (accountPool: Record<string, CellSums> | undefined) =>
      decide(
        base({
          candidates: [catalog[0]!, catalog[1]!],
          queryType: 'math',
          global,
          pooled: { global: pooledGlobal, personal: accountPool },
          config: greedy,
          rng: mulberry32(3),
        }),
      );
    // Its own record elsewhere: mid rated far above everyone's view of it, big below.
    const likesMid = inMath({ big: cellOf(0.6, 60, 3), mid: cellOf(0.95, 60, 3) });
    expect(likesMid.model).to.equal('mid');
    expect(likesMid.globalOnlyModel).to.equal('big');
    expect(likesMid.changedByPersonal).to.equal(true);
    expect(inMath(undefined).model).to.equal('big');
    // Relative, not absolute: an account that scores every model 0.3 lower has no taste for either.
    const strict = inMath({ big: cellOf(0.5, 60, 3), mid: cellOf(0.4, 60, 3) });
    const plain = inMath(undefined);
    for (const id of ['big', 'mid'])
      expect(strict.candidates.find((c) => c.model === id)!.estimatedQuality).to.be.closeTo(
        plain.candidates.find((c) => c.model === id)!.estimatedQuality,
        1e-9,
      );
  });

  it('explores less as evidence grows (Thompson sampling with a shrinking posterior)', () => {
    const chosenSmall = (n: number) => {
      const global: Record<string, GlobalCellSums> = {
        big: { ...cellOf(0.8, n), contributors: 5 },
        small: { ...cellOf(0.7, n), contributors: 5 },
      };
      let count = 0;
      const rng = mulberry32(11);
      for (let i = 0; i < 400; i++)
        if (decide(base({ candidates: [catalog[0]!, catalog[2]!], global, rng })).model === 'small') count++;
      return count;
    };
    expect(chosenSmall(300)).to.be.lessThan(chosenSmall(3));
  });

  it('is greedy with exploration scale 0', () => {
    // Enough evidence that observed cost and latency (equal here) outweigh the catalog's guesses.
    const global: Record<string, GlobalCellSums> = {
      big: { ...cellOf(0.8, 300), contributors: 5 },
      small: { ...cellOf(0.78, 300), contributors: 5 },
    };
    const greedy = makeScoringConfig({ exploration: { scale: 0 } });
    for (let s = 0; s < 20; s++)
      expect(
        decide(base({ candidates: [catalog[0]!, catalog[2]!], global, config: greedy, rng: mulberry32(s) })).model,
      ).to.equal('big');
  });

  it('learns the level of the catalog priors from the models of the same tier that have a record', () => {
    // Tier prior 0.6 for all three; 'big' scores 0.9 over 200 observations, the others have none.
    const global: Record<string, GlobalCellSums> = { big: { ...cellOf(0.9, 200), contributors: 5 } };
    const d = decide(base({ global }));
    const mid = d.candidates.find((c) => c.model === 'mid')!;
    const shift = (200 * (0.9 - 0.6)) / (200 + cfg.globalPriorStrength);
    expect(mid.estimatedQuality).to.be.closeTo(0.6 + shift, 1e-4); // n is 200 decayed by up to 200 minutes
    // A model of another tier (prior 0.1 lower or more) keeps its catalog prior.
    const other = { ...catalog[1]!, id: 'other', priorQuality: 0.45 };
    const d2 = decide(base({ candidates: [catalog[0]!, other], global }));
    expect(d2.candidates.find((c) => c.model === 'other')!.estimatedQuality).to.be.closeTo(0.45, 1e-12);
    // Without any record, the catalog priors are used as they are.
    expect(decide(base()).candidates.every((c) => Math.abs(c.estimatedQuality - 0.6) < 1e-12)).to.equal(true);
  });

  it('keeps each of many candidates apart (more than its reused arrays first hold)', () => {
    const many: CandidateModel[] = Array.from({ length: 40 }, (_, i) => ({
      ...catalog[0]!,
      id: `m${i}`,
      inputPerMTok: i + 1,
      priorQuality: 0.3 + i * 0.01,
      typicalLatencyMs: 1000 + i,
    }));
    const d = decide(base({ candidates: many, config: makeScoringConfig({ exploration: { scale: 0 } }) }));
    for (const [i, c] of d.candidates.entries()) {
      expect(c.model).to.equal(`m${i}`);
      expect(c.estimatedLatencyMs).to.equal(1000 + i);
      expect(c.estimatedQuality).to.be.closeTo(0.3 + i * 0.01, 1e-12);
      expect(c.estimatedCostUsd).to.be.closeTo((500 * (i + 1) + 700 * 30) / 1e6, 1e-15);
    }
    expect(decide(base()).candidates).to.have.length(3);
  });

  it('decides the same when the random source makes a decision of its own', () => {
    const personal = { big: cellOf(0.8, 3), small: cellOf(0.4, 2) };
    const plain = decide(base({ rng: mulberry32(9), personal }));
    const draw = mulberry32(9);
    let nested: string | undefined;
    const rng = () => {
      nested ??= decide(base({ rng: mulberry32(1), global: {} })).model;
      return draw();
    };
    expect(decide(base({ rng, personal }))).to.deep.equal(plain);
    expect(nested).to.be.a('string');
  });

  it('rejects an unknown preference with a clear message', () => {
    expect(() => decide(base({ preference: 'fastest' as never }))).to.throw(
      /preference must be one of quality, balanced, cost, speed/,
    );
  });
});

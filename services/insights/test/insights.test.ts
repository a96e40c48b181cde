import { expect } from 'chai';
import { insightsV1, typeV1 } from '@routeplex/contracts';
import { addCells, contributionCell, emptyCell, makeScoringConfig, type CellSums } from '@routeplex/scoring';
import type { AccountCell, AccountCounters, GlobalCell } from '@routeplex/store';
import {
  enhancementEffects,
  learningDashboard,
  modelStatsFromCells,
  recommendationsFor,
  routingInfluenceFromCounters,
  typeStages,
  type InsightsInput,
} from '../src/insights.js';

// The computations are checked with k = 10 (the stage arithmetic in the comments below), whatever the default.
const scoring = makeScoringConfig({ priorStrength: 10 });
const NOW = Date.parse('2026-02-01T00:00:00Z');
const { RecommendationKind: Kind, EnhancementVerdict: Verdict } = insightsV1;

/** A cell of `count` successful calls with the given qualities (cycled), latency and cost, plus failures. */
function cellOf(options: {
  qualities: number[];
  count?: number;
  latencyMs?: number;
  costUsd?: number;
  failures?: number;
  weight?: number;
}): CellSums {
  let cell = emptyCell();
  const count = options.count ?? options.qualities.length;
  for (let i = 0; i < count; i++) {
    const quality = options.qualities[i % options.qualities.length]!;
    cell = addCells(
      cell,
      contributionCell(
        {
          quality,
          weight: options.weight ?? 1,
          latencyMs: options.latencyMs ?? 1000,
          costUsd: options.costUsd ?? 0.001,
          atMs: NOW,
        },
        scoring,
      ),
    );
  }
  for (let i = 0; i < (options.failures ?? 0); i++)
    cell = addCells(cell, contributionCell({ failed: true, atMs: NOW }, scoring));
  return cell;
}

const mine = (queryType: string, model: string, cell: CellSums): AccountCell => ({
  accountId: 'acc_a',
  queryType,
  model,
  ...cell,
});
const global = (queryType: string, model: string, cell: CellSums, contributors: number): GlobalCell => ({
  queryType,
  model,
  contributors,
  ...cell,
});

function counters(queryType: string, partial: Partial<AccountCounters> = {}): AccountCounters {
  return {
    accountId: 'acc_a',
    queryType,
    requests: 0,
    autoRouted: 0,
    changedByPersonal: 0,
    coldStart: 0,
    warmUp: 0,
    established: 0,
    enhancedN: 0,
    enhancedQ: 0,
    enhancedQ2: 0,
    plainN: 0,
    plainQ: 0,
    plainQ2: 0,
    ...partial,
  };
}

/** Counter sums of n observations alternating between mean - spread and mean + spread. */
function sums(n: number, mean: number, spread: number): { n: number; q: number; q2: number } {
  let q = 0;
  let q2 = 0;
  for (let i = 0; i < n; i++) {
    const v = mean + (i % 2 === 0 ? -spread : spread);
    q += v;
    q2 += v * v;
  }
  return { n, q, q2 };
}

function input(partial: Partial<InsightsInput>): InsightsInput {
  return { cells: [], counters: [], global: [], nowMs: NOW, scoring, providerOf: () => 'sim', ...partial };
}

describe('insights computations', () => {
  describe('modelStatsFromCells', () => {
    it('reads quality, interval, latency percentiles, cost and failure rate from a cell, best quality first within a type', () => {
      const good = mine(
        'math',
        'good',
        cellOf({ qualities: [0.8, 0.9], count: 40, latencyMs: 800, costUsd: 0.002, failures: 10 }),
      );
      const weak = mine('math', 'weak', cellOf({ qualities: [0.5], count: 10, latencyMs: 3000 }));
      const code = mine('code_algorithm', 'good', cellOf({ qualities: [0.7], count: 3 }));
      const rows = modelStatsFromCells([weak, good, code], NOW, scoring, (m) => (m === 'good' ? 'acme' : undefined));
      expect(rows.map((r) => [r.queryType, r.model])).to.deep.equal([
        [typeV1.QueryType.QUERY_TYPE_CODE_ALGORITHM, 'good'],
        [typeV1.QueryType.QUERY_TYPE_MATH, 'good'],
        [typeV1.QueryType.QUERY_TYPE_MATH, 'weak'],
      ]);
      const row = rows[1]!;
      expect(row.provider).to.equal('acme');
      expect(rows[2]!.provider).to.equal('');
      expect(row.requestCount).to.equal('40');
      expect(row.avgQuality).to.be.closeTo(0.85, 1e-9);
      // sd 0.05 over 40 requests: 1.96 * 0.05 * sqrt(40/39) / sqrt(40)
      expect(row.qualityInterval).to.be.closeTo((1.959963984540054 * 0.05 * Math.sqrt(40 / 39)) / Math.sqrt(40), 1e-9);
      expect(row.failureRate).to.be.closeTo(10 / 50, 1e-12);
      // Per answer: the ten failures were not billed, and do not make the model look cheaper.
      expect(row.avgCostUsd).to.be.closeTo(0.002, 1e-12);
      // Every latency sits in one bucket, so both percentiles fall inside it (log buckets, +-18%).
      expect(row.latencyP50Ms).to.be.within(800 / 1.4, 800 * 1.4);
      expect(rows[2]!.latencyP95Ms).to.be.within(3000 / 1.4, 3000 * 1.4);
    });

    it('filters by query type', () => {
      const rows = modelStatsFromCells(
        [mine('math', 'a', cellOf({ qualities: [0.5] })), mine('factual', 'a', cellOf({ qualities: [0.5] }))],
        NOW,
        scoring,
        () => undefined,
        'factual',
      );
      expect(rows.map((r) => r.queryType)).to.deep.equal([typeV1.QueryType.QUERY_TYPE_FACTUAL]);
    });
  });

  describe('enhancementEffects', () => {
    const verdictFor = (enhanced: ReturnType<typeof sums>, plain: ReturnType<typeof sums>) =>
      enhancementEffects([
        counters('writing', {
          enhancedN: enhanced.n,
          enhancedQ: enhanced.q,
          enhancedQ2: enhanced.q2,
          plainN: plain.n,
          plainQ: plain.q,
          plainQ2: plain.q2,
        }),
      ])[0]!;

    it('says HELPS or HURTS only when the interval excludes zero with enough requests on both sides', () => {
      const helps = verdictFor(sums(40, 0.8, 0.05), sums(40, 0.6, 0.05));
      expect(helps.verdict).to.equal(Verdict.ENHANCEMENT_VERDICT_HELPS);
      expect(helps.difference).to.be.closeTo(0.2, 1e-9);
      expect(helps.intervalLow).to.be.greaterThan(0);
      expect(helps.intervalHigh).to.be.greaterThan(helps.intervalLow);
      expect(helps.enhancedCount).to.equal('40');
      expect(verdictFor(sums(40, 0.5, 0.05), sums(40, 0.7, 0.05)).verdict).to.equal(Verdict.ENHANCEMENT_VERDICT_HURTS);
    });

    it('says NO_DIFFERENCE for a narrow interval around zero, and INSUFFICIENT_EVIDENCE for a wide one or few requests', () => {
      expect(verdictFor(sums(200, 0.7, 0.05), sums(200, 0.7, 0.05)).verdict).to.equal(
        Verdict.ENHANCEMENT_VERDICT_NO_DIFFERENCE,
      );
      expect(verdictFor(sums(20, 0.5, 0.45), sums(20, 0.52, 0.45)).verdict).to.equal(
        Verdict.ENHANCEMENT_VERDICT_INSUFFICIENT_EVIDENCE,
      );
      const few = verdictFor(sums(5, 0.9, 0.01), sums(40, 0.3, 0.01));
      expect(few.verdict).to.equal(Verdict.ENHANCEMENT_VERDICT_INSUFFICIENT_EVIDENCE);
      expect(few.intervalLow).to.be.greaterThan(0); // the interval is still reported
    });
  });

  describe('routingInfluenceFromCounters', () => {
    it('adds up the types: classified share, share changed by personal learning, requests by stage', () => {
      const influence = routingInfluenceFromCounters([
        counters('math', { requests: 10, autoRouted: 8, changedByPersonal: 2, coldStart: 5, warmUp: 3 }),
        counters('factual', { requests: 10, autoRouted: 2, changedByPersonal: 0, established: 2 }),
      ]);
      expect(influence.totalRequests).to.equal('20');
      expect(influence.classifiedFraction).to.equal(0.5);
      expect(influence.personalChangedFraction).to.equal(0.2);
      expect(influence.byStage.map((s) => s.requestCount)).to.deep.equal(['5', '3', '2']);
    });
  });

  describe('typeStages', () => {
    it('derives the stage from n_a / (n_a + k) and counts the ratings that reach the next stage', () => {
      // k = 10: warm-up from n = 2.5, established from n = 15; a rating weighs 3.
      const stages = typeStages(
        [
          mine('math', 'a', cellOf({ qualities: [0.5], count: 2 })),
          mine('factual', 'a', cellOf({ qualities: [0.5], count: 16 })),
        ],
        NOW,
        scoring,
      );
      const math = stages.find((s) => s.queryType === 'math')!;
      expect(math.stage).to.equal('cold_start');
      // 0.5 short of warm-up; rating one of its two answers replaces a signal of weight 1 with 3.
      expect(math.ratingsToNextStage).to.equal(1);
      expect(math.personalWeight).to.be.closeTo(2 / 12, 1e-9);
      expect(stages.find((s) => s.queryType === 'factual')!.stage).to.equal('established');
      expect(stages.find((s) => s.queryType === 'factual')!.ratingsToNextStage).to.equal(0);
      const untouched = stages.find((s) => s.queryType === 'creative')!;
      expect(untouched).to.include({ stage: 'cold_start', ratingsToNextStage: 1, personalWeight: 0 });
      expect(stages).to.have.length(12);
      const warm = typeStages([mine('math', 'a', cellOf({ qualities: [0.5], count: 3 }))], NOW, scoring)[2]!;
      // 12 short of established: its 3 answers rated add 2 each, then 6 more from new answers rated (3 each).
      expect(warm).to.include({ queryType: 'math', stage: 'warm_up', ratingsToNextStage: 5 });
      const manyUnrated = typeStages([mine('math', 'a', cellOf({ qualities: [0.5], count: 14 }))], NOW, scoring)[2]!;
      // 1 short of established, with 14 answers to rate: one rating (+2) is enough.
      expect(manyUnrated).to.include({ stage: 'warm_up', ratingsToNextStage: 1 });
      const rated = typeStages([mine('math', 'a', cellOf({ qualities: [0.5], count: 9 }))], NOW, scoring)[2]!;
      // 6 short, 9 answers unrated: three ratings of them (+2 each), where the rating weight alone said two.
      expect(rated).to.include({ stage: 'warm_up', ratingsToNextStage: 3 });
    });
  });

  describe('recommendationsFor', () => {
    it('suggests a cheaper model of equal quality from the caller’s own cells, with its evidence', () => {
      const recs = recommendationsFor(
        input({
          cells: [
            mine('code_debug', 'pricey', cellOf({ qualities: [0.78, 0.82], count: 60, costUsd: 0.01 })),
            mine('code_debug', 'cheap', cellOf({ qualities: [0.77, 0.81], count: 30, costUsd: 0.002 })),
          ],
        }),
      );
      const rec = recs.find((r) => r.kind === Kind.RECOMMENDATION_KIND_SWITCH_MODEL)!;
      expect(rec).to.include({
        model: 'cheap',
        baselineModel: 'pricey',
        queryType: typeV1.QueryType.QUERY_TYPE_CODE_DEBUG,
      });
      expect(rec.message).to.match(
        /^Use cheap for code debug: quality within 0\.01 of pricey .* saves \$8\.00 per 1,000 requests\.$/,
      );
      expect(rec.evidence).to.include({ sampleSize: '30', baselineSampleSize: '60' });
      expect(rec.evidence!.savingsPer1kUsd).to.be.closeTo(8, 1e-9);
      expect(rec.evidence!.qualityDifference).to.be.closeTo(-0.01, 1e-9);
      expect(rec.evidence!.intervalLow).to.be.lessThan(-0.01);
    });

    it('reports a model that fails often, first', () => {
      const recs = recommendationsFor(
        input({
          cells: [
            mine('factual', 'flaky', cellOf({ qualities: [0.7], count: 8, failures: 4 })),
            mine('math', 'a', cellOf({ qualities: [0.5], count: 6 })),
          ],
          counters: [counters('math', { requests: 6 })],
        }),
      );
      expect(recs[0]).to.include({ kind: Kind.RECOMMENDATION_KIND_UNRELIABLE_MODEL, model: 'flaky' });
      expect(recs[0]!.evidence!.failureRate).to.be.closeTo(1 / 3, 1e-9);
      expect(recs[0]!.evidence!.sampleSize).to.equal('12');
    });

    it('suggests switching enhancement on or off from a verdict, and rating more for a type close to the next stage', () => {
      const e = sums(40, 0.5, 0.05);
      const p = sums(40, 0.7, 0.05);
      const recs = recommendationsFor(
        input({
          cells: [mine('math', 'a', cellOf({ qualities: [0.5], count: 6 }))],
          counters: [
            counters('writing', {
              requests: 80,
              enhancedN: e.n,
              enhancedQ: e.q,
              enhancedQ2: e.q2,
              plainN: p.n,
              plainQ: p.q,
              plainQ2: p.q2,
            }),
            counters('math', { requests: 6 }),
          ],
        }),
      );
      const off = recs.find((r) => r.kind === Kind.RECOMMENDATION_KIND_DISABLE_ENHANCEMENT)!;
      expect(off.queryType).to.equal(typeV1.QueryType.QUERY_TYPE_WRITING);
      expect(off.message).to.match(/^Switch prompt enhancement off for writing/);
      expect(off.evidence).to.include({ sampleSize: '40', baselineSampleSize: '40' });
      const rate = recs.find(
        (r) => r.kind === Kind.RECOMMENDATION_KIND_RATE_MORE && r.queryType === typeV1.QueryType.QUERY_TYPE_MATH,
      )!;
      // 9 short of established with 6 answers to rate, each rating adding 2 (it replaces a signal of weight 1).
      expect(rate.message).to.equal(
        'Rate 5 more math answers to move this type to established: routing then follows your own results more than global patterns.',
      );
      // writing is used but has no cell yet (cold start, one rating away from warm-up): the closest goal comes first.
      expect(recs.filter((r) => r.kind === Kind.RECOMMENDATION_KIND_RATE_MORE).map((r) => r.queryType)).to.deep.equal([
        typeV1.QueryType.QUERY_TYPE_WRITING,
        typeV1.QueryType.QUERY_TYPE_MATH,
      ]);
    });

    it('uses a global pattern only when at least K accounts back both cells', () => {
      const cells = [mine('translation', 'pricey', cellOf({ qualities: [0.8], count: 30, costUsd: 0.01 }))];
      const globals = (k: number) => [
        global('translation', 'pricey', cellOf({ qualities: [0.78, 0.82], count: 300, costUsd: 0.01 }), 5),
        global('translation', 'cheap', cellOf({ qualities: [0.77, 0.83], count: 300, costUsd: 0.001 }), k),
      ];
      const below = recommendationsFor(input({ cells, global: globals(scoring.anonymityK - 1) }));
      expect(below.filter((r) => r.kind === Kind.RECOMMENDATION_KIND_SWITCH_MODEL)).to.deep.equal([]);
      expect(JSON.stringify(below)).not.to.contain('cheap');
      const at = recommendationsFor(input({ cells, global: globals(scoring.anonymityK) }));
      const rec = at.find((r) => r.kind === Kind.RECOMMENDATION_KIND_SWITCH_MODEL)!;
      expect(rec).to.include({ model: 'cheap', baselineModel: 'pricey' });
      expect(rec.message).to.match(/^Try cheap for translation: across accounts/);
      expect(rec.evidence).to.include({ sampleSize: '300', baselineSampleSize: '300' });
      expect(rec.evidence!.savingsPer1kUsd).to.be.closeTo(9, 1e-9);
    });

    it("counts K accounts besides the caller's own in a global pattern", () => {
      const cells = [
        mine('translation', 'pricey', cellOf({ qualities: [0.8], count: 30, costUsd: 0.01 })),
        // One answer of cheap: hardly tried, but the caller is one of the global cell's contributors.
        mine('translation', 'cheap', cellOf({ qualities: [0.8], count: 1, costUsd: 0.001 })),
      ];
      const globals = (k: number) => [
        global('translation', 'pricey', cellOf({ qualities: [0.78, 0.82], count: 300, costUsd: 0.01 }), 5),
        global('translation', 'cheap', cellOf({ qualities: [0.77, 0.83], count: 300, costUsd: 0.001 }), k),
      ];
      const withCaller = recommendationsFor(input({ cells, global: globals(scoring.anonymityK) }));
      expect(JSON.stringify(withCaller)).not.to.contain('cheap');
      const others = recommendationsFor(input({ cells, global: globals(scoring.anonymityK + 1) }));
      expect(others.find((r) => r.kind === Kind.RECOMMENDATION_KIND_SWITCH_MODEL)).to.include({ model: 'cheap' });
    });

    it('does not count the caller among the contributors of a cell where it has only failed calls', () => {
      // As the store counts contributors: an account with no answer in a cell held no quality there.
      const cells = [
        mine('translation', 'pricey', cellOf({ qualities: [0.8], count: 30, costUsd: 0.01 })),
        mine('translation', 'cheap', cellOf({ qualities: [], count: 0, failures: 2 })),
      ];
      const globals = [
        global('translation', 'pricey', cellOf({ qualities: [0.78, 0.82], count: 300, costUsd: 0.01 }), 5),
        global(
          'translation',
          'cheap',
          cellOf({ qualities: [0.77, 0.83], count: 300, costUsd: 0.001 }),
          scoring.anonymityK,
        ),
      ];
      const recs = recommendationsFor(input({ cells, global: globals }));
      expect(recs.find((r) => r.kind === Kind.RECOMMENDATION_KIND_SWITCH_MODEL)).to.include({ model: 'cheap' });
    });
  });

  it('learningDashboard assembles every part and stamps the time', () => {
    const dash = learningDashboard(
      input({
        cells: [mine('math', 'a', cellOf({ qualities: [0.5], count: 6 }))],
        counters: [counters('math', { requests: 6, autoRouted: 6 })],
      }),
    );
    expect(dash.modelStats).to.have.length(1);
    expect(dash.stages).to.have.length(12);
    expect(dash.routingInfluence!.classifiedFraction).to.equal(1);
    expect(dash.computeTime!.getTime()).to.equal(NOW);
    expect(dash.recommendations.map((r) => r.kind)).to.include(Kind.RECOMMENDATION_KIND_RATE_MORE);
  });
});

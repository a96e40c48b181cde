import { expect } from 'chai';
import type { ReplayOptions, StreamItem } from '../src/index.js';
import {
  DEFAULT_REPLAY_OPTIONS,
  accountTaste,
  buildStream,
  catalogFromPrices,
  litellmPolicy,
  prepareRows,
  ratingFromQuality,
  runPolicy,
  tierFromPrice,
} from '../src/index.js';
import { arenaSubset } from './helpers.js';

describe('replay simulation', () => {
  const { rows, prices } = arenaSubset(30);
  const prepared = prepareRows(rows, prices);

  it('prepares each outcome with the production classifier and heuristic, and catalog costs', () => {
    const r = prepared[0]!;
    const gpt4 = r.outcomes.find((o) => o.model === 'gpt-4-0314')!;
    expect(gpt4.costUsd).to.be.closeTo((r.promptTokens * 30 + gpt4.completionTokens * 60) / 1e6, 1e-12);
    expect(gpt4.heuristic).to.be.within(0, 1);
    expect(r.queryType).to.be.a('string');
  });

  it('gives each simulated account a stable taste within the spread, and none to a lone account', () => {
    expect(accountTaste(1, 0, 'm', 0.2, 1)).to.equal(0);
    const t = accountTaste(1, 3, 'm', 0.2, 20);
    expect(t).to.equal(accountTaste(1, 3, 'm', 0.2, 20));
    expect(Math.abs(t)).to.be.at.most(0.2);
    expect(t).to.not.equal(accountTaste(1, 4, 'm', 0.2, 20));
  });

  it('rates about the requested fraction of requests and clamps account qualities to [0, 1]', () => {
    const opt: ReplayOptions = { ...DEFAULT_REPLAY_OPTIONS, passes: 10, feedbackRate: 0.3, accounts: 5 };
    const s = buildStream(prepared, opt);
    const rated = s.filter((i) => i.rated).length / s.length;
    expect(rated).to.be.within(0.24, 0.36);
    for (const it of s) for (const q of it.quality.values()) expect(q).to.be.within(0, 1);
  });

  it('derives 1..5 ratings from quality', () => {
    expect(ratingFromQuality(0)).to.equal(1);
    expect(ratingFromQuality(0.5)).to.equal(3);
    expect(ratingFromQuality(1)).to.equal(5);
  });

  it('maps list prices to catalog quality tiers', () => {
    expect(tierFromPrice(60)).to.equal(3);
    expect(tierFromPrice(2)).to.equal(2);
    expect(tierFromPrice(0.2)).to.equal(1);
  });

  it('keeps the LiteLLM-style cells at no more than 200 observations', () => {
    const opt: ReplayOptions = { ...DEFAULT_REPLAY_OPTIONS, passes: 1 };
    const catalog = catalogFromPrices(prices, prepared);
    const policy = litellmPolicy('baseline', catalog, opt, true);
    const one = prepared[0]!;
    const item: StreamItem = {
      row: one,
      account: 0,
      rated: true,
      ratingScore: 0,
      quality: new Map(one.outcomes.map((o) => [o.model, 1])),
    };
    // Feed one model 1,000 perfect ratings: with the cap, the posterior stays a Beta with mass <= 210, so draws vary.
    for (let i = 0; i < 1000; i++) policy.observe(item, one.outcomes[0]!.model, i);
    const res = runPolicy(policy, [item]);
    expect(res.chosen).to.have.length(1);
  });
});

import { expect } from 'chai';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// The dashboard's display helpers are plain browser ES modules with no DOM access, so Node runs the very
// file the page loads. It is imported by URL (it is JavaScript, outside the TypeScript project).

interface FormatModule {
  queryTypeName(value: unknown): string;
  stageName(value: unknown): string;
  verdictName(value: unknown): string;
  recommendationKindName(value: unknown): string;
  queryTypeRank(value: unknown): number;
  toNumber(value: unknown): number;
  formatCount(value: unknown): string;
  formatCountOf(value: unknown, singular: string, plural?: string): string;
  formatQuality(value: unknown): string;
  formatQualityInterval(quality: unknown, interval: unknown): string;
  formatDifference(value: unknown): string;
  formatPercent(value: unknown): string;
  formatLatency(ms: unknown): string;
  formatCost(usd: unknown): string;
  formatTime(rfc3339: unknown, locale?: string, now?: Date): string;
  formatRating(score: unknown, isHelpful: unknown): string;
}

const FILE = resolve(dirname(fileURLToPath(import.meta.url)), '../../services/gateway/static/dashboard/format.js');

describe('dashboard format helpers (services/gateway/static/dashboard/format.js)', () => {
  let f: FormatModule;
  before(async () => {
    f = (await import(pathToFileURL(FILE).href)) as FormatModule;
  });

  it('names every query type and stage of the contract in words', () => {
    expect(f.queryTypeName('QUERY_TYPE_CODE_ALGORITHM')).to.equal('Code: algorithms');
    expect(f.queryTypeName('QUERY_TYPE_CODE_DEBUG')).to.equal('Code: debugging');
    expect(f.queryTypeName('QUERY_TYPE_CONVERSATION')).to.equal('Conversation');
    expect(f.stageName('STAGE_COLD_START')).to.equal('Cold start');
    expect(f.stageName('STAGE_WARM_UP')).to.equal('Warming up');
    expect(f.stageName('STAGE_ESTABLISHED')).to.equal('Established');
    expect(f.verdictName('ENHANCEMENT_VERDICT_INSUFFICIENT_EVIDENCE')).to.equal('Not enough evidence yet');
    expect(f.recommendationKindName('RECOMMENDATION_KIND_SWITCH_MODEL')).to.equal('Switch model');
  });

  it('turns enum values it does not know into words instead of raw names', () => {
    expect(f.queryTypeName('QUERY_TYPE_LEGAL_REVIEW')).to.equal('Legal review');
    expect(f.stageName(7)).to.equal('Unknown (7)');
    expect(f.verdictName(undefined)).to.equal('Unknown');
  });

  it('orders query types as the contract declares them, unknown ones last', () => {
    expect(f.queryTypeRank('QUERY_TYPE_CODE_ALGORITHM')).to.be.lessThan(f.queryTypeRank('QUERY_TYPE_MATH'));
    expect(f.queryTypeRank('QUERY_TYPE_CONVERSATION')).to.be.lessThan(f.queryTypeRank('QUERY_TYPE_NEW'));
  });

  it('reads int64 fields whether they arrive as numbers or as decimal strings', () => {
    expect(f.toNumber(12)).to.equal(12);
    expect(f.toNumber('9007199254740993')).to.be.greaterThan(9e15);
    expect(f.toNumber(undefined)).to.equal(0);
    expect(f.toNumber('not a number')).to.equal(0);
    expect(f.formatCount('12345')).to.equal('12,345');
  });

  it('formats counts with their noun', () => {
    expect(f.formatCountOf(1, 'rating')).to.equal('1 rating');
    expect(f.formatCountOf('3', 'rating')).to.equal('3 ratings');
    expect(f.formatCountOf(0, 'statistics cell')).to.equal('0 statistics cells');
  });

  it('formats qualities, signed differences and percentages', () => {
    expect(f.formatQuality(0.8149)).to.equal('0.81');
    expect(f.formatQualityInterval(0.8, 0.054)).to.equal('0.80 ± 0.05');
    expect(f.formatQualityInterval(0.8, 0)).to.equal('0.80');
    expect(f.formatDifference(0.04)).to.equal('+0.04');
    expect(f.formatDifference(-0.1)).to.equal('\u22120.10');
    expect(f.formatDifference(-0.001)).to.equal('0.00');
    expect(f.formatPercent(0.372)).to.equal('37%');
    expect(f.formatPercent(0.05)).to.equal('5.0%');
    expect(f.formatPercent(0)).to.equal('0%');
  });

  it('formats latencies and tiny per-request costs readably', () => {
    expect(f.formatLatency(849.6)).to.equal('850 ms');
    expect(f.formatLatency(2400)).to.equal('2.4 s');
    expect(f.formatLatency(12_500)).to.equal('13 s');
    expect(f.formatCost(0)).to.equal('$0');
    expect(f.formatCost(0.000123456)).to.equal('$0.000123');
    expect(f.formatCost(0.0021)).to.equal('$0.0021');
    expect(f.formatCost(0.0123456)).to.equal('$0.0123');
    expect(f.formatCost(0.5)).to.equal('$0.5');
    expect(f.formatCost(0.0000002)).to.equal('<$0.000001');
    expect(f.formatCost(1.987)).to.equal('$1.99');
  });

  it('shows the year of a timestamp only when it is not the current one', () => {
    const now = new Date('2026-11-27T12:00:00Z');
    expect(f.formatTime('2026-11-27T08:05:09Z', 'en-US', now)).not.to.match(/2026/);
    expect(f.formatTime('2025-01-02T08:05:09Z', 'en-US', now)).to.match(/2025/);
    expect(f.formatTime('', 'en-US', now)).to.equal('');
    expect(f.formatTime('garbage', 'en-US', now)).to.equal('');
  });

  it('describes a rating in words', () => {
    expect(f.formatRating(5, true)).to.equal('5/5, helpful');
    expect(f.formatRating(undefined, false)).to.equal('not helpful');
    expect(f.formatRating(2, undefined)).to.equal('2/5');
    expect(f.formatRating(undefined, undefined)).to.equal('Not rated');
  });
});

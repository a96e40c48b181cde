// Display helpers of the Insights dashboard: friendly names for the API's enums and number formats.
// Pure functions with no DOM access, so that Node can test them as well as the browser can run them.

const QUERY_TYPE_NAMES = {
  QUERY_TYPE_UNSPECIFIED: 'Unclassified',
  QUERY_TYPE_CODE_ALGORITHM: 'Code: algorithms',
  QUERY_TYPE_CODE_DEBUG: 'Code: debugging',
  QUERY_TYPE_MATH: 'Math',
  QUERY_TYPE_REASONING: 'Reasoning',
  QUERY_TYPE_ANALYSIS: 'Analysis',
  QUERY_TYPE_CREATIVE: 'Creative writing',
  QUERY_TYPE_WRITING: 'Writing',
  QUERY_TYPE_FACTUAL: 'Factual questions',
  QUERY_TYPE_SUMMARIZATION: 'Summarization',
  QUERY_TYPE_EXTRACTION: 'Extraction',
  QUERY_TYPE_TRANSLATION: 'Translation',
  QUERY_TYPE_CONVERSATION: 'Conversation',
};

// The order in which the proto declares the query types, used to sort tables the same way everywhere.
const QUERY_TYPE_ORDER = Object.keys(QUERY_TYPE_NAMES);

const STAGE_NAMES = {
  STAGE_UNSPECIFIED: 'Not applicable',
  STAGE_COLD_START: 'Cold start',
  STAGE_WARM_UP: 'Warming up',
  STAGE_ESTABLISHED: 'Established',
};

const STAGE_DESCRIPTIONS = {
  STAGE_UNSPECIFIED: 'the request named its model',
  STAGE_COLD_START: 'global patterns decide',
  STAGE_WARM_UP: 'your own results take over gradually',
  STAGE_ESTABLISHED: 'your own results carry most of the weight',
};

const VERDICT_NAMES = {
  ENHANCEMENT_VERDICT_UNSPECIFIED: 'Not computed',
  ENHANCEMENT_VERDICT_INSUFFICIENT_EVIDENCE: 'Not enough evidence yet',
  ENHANCEMENT_VERDICT_HELPS: 'Helps',
  ENHANCEMENT_VERDICT_HURTS: 'Hurts',
  ENHANCEMENT_VERDICT_NO_DIFFERENCE: 'No difference',
};

const RECOMMENDATION_NAMES = {
  RECOMMENDATION_KIND_UNSPECIFIED: 'Suggestion',
  RECOMMENDATION_KIND_SWITCH_MODEL: 'Switch model',
  RECOMMENDATION_KIND_UNRELIABLE_MODEL: 'Unreliable model',
  RECOMMENDATION_KIND_ENABLE_ENHANCEMENT: 'Enable prompt enhancement',
  RECOMMENDATION_KIND_DISABLE_ENHANCEMENT: 'Disable prompt enhancement',
  RECOMMENDATION_KIND_RATE_MORE: 'Rate a few more answers',
};

/** Turns an enum name the table does not know (a newer server) into words rather than showing the raw name. */
function fallbackName(value, prefix) {
  if (typeof value === 'number') return `Unknown (${value})`;
  const text = String(value ?? '')
    .replace(prefix, '')
    .toLowerCase()
    .replace(/_/g, ' ');
  return text === '' ? 'Unknown' : text.charAt(0).toUpperCase() + text.slice(1);
}

export function queryTypeName(value) {
  return QUERY_TYPE_NAMES[value] ?? fallbackName(value, 'QUERY_TYPE_');
}

export function stageName(value) {
  return STAGE_NAMES[value] ?? fallbackName(value, 'STAGE_');
}

export function stageDescription(value) {
  return STAGE_DESCRIPTIONS[value] ?? '';
}

export function verdictName(value) {
  return VERDICT_NAMES[value] ?? fallbackName(value, 'ENHANCEMENT_VERDICT_');
}

export function recommendationKindName(value) {
  return RECOMMENDATION_NAMES[value] ?? fallbackName(value, 'RECOMMENDATION_KIND_');
}

/** Sort key of a query type: the proto's order, unknown types last. */
export function queryTypeRank(value) {
  const index = QUERY_TYPE_ORDER.indexOf(value);
  return index === -1 ? QUERY_TYPE_ORDER.length : index;
}

/** int64 fields arrive as JSON numbers when safe and as decimal strings otherwise; both become numbers. */
export function toNumber(value) {
  if (value === undefined || value === null || value === '') return 0;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : 0;
}

/** Integers with thousands separators: 12,345. */
export function formatCount(value) {
  return Math.round(toNumber(value)).toLocaleString('en-US');
}

/** A count with its noun: "1 rating", "3 ratings" (the plural given when it is not noun + "s"). */
export function formatCountOf(value, singular, plural = `${singular}s`) {
  const n = Math.round(toNumber(value));
  return `${formatCount(n)} ${n === 1 ? singular : plural}`;
}

/** A quality in [0, 1] with two decimals: 0.82. */
export function formatQuality(value) {
  return toNumber(value).toFixed(2);
}

/** A quality with its 95% interval: 0.82 ± 0.05 (the interval omitted when it is zero). */
export function formatQualityInterval(quality, interval) {
  const half = toNumber(interval);
  return half > 0 ? `${formatQuality(quality)} ± ${half.toFixed(2)}` : formatQuality(quality);
}

/** A signed difference of qualities: +0.04, −0.10. */
export function formatDifference(value) {
  const n = toNumber(value);
  const text = Math.abs(n).toFixed(2);
  if (text === '0.00') return '0.00';
  return (n > 0 ? '+' : '\u2212') + text;
}

/** A fraction in [0, 1] as a percentage: 37% (one decimal below 10%). */
export function formatPercent(value) {
  const pct = toNumber(value) * 100;
  if (pct === 0) return '0%';
  return pct < 10 ? `${pct.toFixed(1)}%` : `${Math.round(pct)}%`;
}

/** Milliseconds as 850 ms or 2.4 s. */
export function formatLatency(ms) {
  const n = toNumber(ms);
  if (n < 1000) return `${Math.round(n)} ms`;
  return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)} s`;
}

/**
 * US dollars with enough digits for tiny per-request costs: $0 for zero, three significant digits below one
 * dollar ($0.000123, $0.0123), two decimals from one dollar on ($1.99).
 */
export function formatCost(usd) {
  const n = toNumber(usd);
  if (n === 0) return '$0';
  if (Math.abs(n) >= 1) return `$${n.toFixed(2)}`;
  // toPrecision switches to exponent notation below 1e-6.
  if (Math.abs(n) < 0.000001) return n > 0 ? '<$0.000001' : '>\u2212$0.000001';
  return `$${n.toPrecision(3).replace(/0+$/, '').replace(/\.$/, '')}`;
}

/** An RFC 3339 timestamp in the reader's locale, to the second (the year only when not the current one). */
export function formatTime(rfc3339, locale, now = new Date()) {
  if (!rfc3339) return '';
  const date = new Date(rfc3339);
  if (Number.isNaN(date.getTime())) return '';
  return date.toLocaleString(locale, {
    ...(date.getFullYear() === now.getFullYear() ? {} : { year: 'numeric' }),
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

/** The rating of a request in words: "5/5, helpful", "not helpful", or "Not rated". */
export function formatRating(score, isHelpful) {
  const parts = [];
  if (score !== undefined && score !== null) parts.push(`${score}/5`);
  if (isHelpful === true) parts.push('helpful');
  if (isHelpful === false) parts.push('not helpful');
  return parts.length === 0 ? 'Not rated' : parts.join(', ');
}

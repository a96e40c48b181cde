import { StoreError } from './errors.js';
import {
  ACCOUNT_ID_PATTERN,
  API_KEY_ID_PATTERN,
  COMPLEXITY_PATTERN,
  HEX64_PATTERN,
  MAX_ACCOUNT_NAME_LENGTH,
  MAX_LATENCY_BUCKETS,
  MAX_SIGNALS_JSON_BYTES,
  MODEL_PATTERN,
  PROVIDER_PATTERN,
  QUERY_TYPE_PATTERN,
  REQUEST_ID_PATTERN,
  SIGNAL_NAME_PATTERN,
  STATUS_PATTERN,
} from './migrations/0001_initial_schema.js';
import {
  CELL_SUM_FIELDS,
  COUNTER_INTEGER_FIELDS,
  COUNTER_SUM_FIELDS,
  ENTRY_KINDS,
  PREFERENCES,
  STAGES,
  type CellDelta,
  type CellSums,
  type CounterDelta,
  type CounterIncrements,
  type EntryWrite,
  type RatingInput,
  type RequestEntry,
} from './types.js';

/**
 * Checks writes before they are queued, with the same rules as the schema's CHECK constraints, so that
 * one bad write is refused on its own instead of failing the whole batch it would have joined.
 * Messages name the field and the rule, never the offending value (it could be user text).
 */

const patterns = {
  accountId: new RegExp(ACCOUNT_ID_PATTERN),
  requestId: new RegExp(REQUEST_ID_PATTERN),
  apiKeyId: new RegExp(API_KEY_ID_PATTERN),
  queryType: new RegExp(QUERY_TYPE_PATTERN),
  model: new RegExp(MODEL_PATTERN),
  provider: new RegExp(PROVIDER_PATTERN),
  status: new RegExp(STATUS_PATTERN),
  complexity: new RegExp(COMPLEXITY_PATTERN),
  hex64: new RegExp(HEX64_PATTERN),
  signalName: new RegExp(SIGNAL_NAME_PATTERN),
};

function invalid(field: string, rule: string): StoreError {
  return StoreError.invalid(`${field} is invalid: ${rule}`);
}

function checkPattern(value: unknown, field: string, pattern: RegExp, rule: string): void {
  if (typeof value !== 'string' || !pattern.test(value)) throw invalid(field, rule);
}

export function checkAccountId(value: unknown, field = 'accountId'): void {
  checkPattern(value, field, patterns.accountId, 'use 1-64 characters among letters, digits and _.:@|+-');
}

export function checkRequestId(value: unknown, field = 'requestId'): void {
  checkPattern(value, field, patterns.requestId, "use 'req_' followed by 8-64 letters or digits");
}

export function isRequestId(value: unknown): boolean {
  return typeof value === 'string' && patterns.requestId.test(value);
}

export function isApiKeyId(value: unknown): boolean {
  return typeof value === 'string' && patterns.apiKeyId.test(value);
}

export function isHex64(value: unknown): boolean {
  return typeof value === 'string' && patterns.hex64.test(value);
}

export function checkQueryType(value: unknown, field = 'queryType'): void {
  checkPattern(
    value,
    field,
    patterns.queryType,
    'use a lowercase identifier of at most 32 characters, such as code_debug',
  );
}

export function checkModel(value: unknown, field = 'model'): void {
  checkPattern(value, field, patterns.model, 'use a model identifier of at most 128 characters without spaces');
}

// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

export function checkAccountName(value: unknown): void {
  if (
    typeof value !== 'string' ||
    value.length < 1 ||
    value.length > MAX_ACCOUNT_NAME_LENGTH ||
    CONTROL_CHARACTERS.test(value)
  ) {
    throw invalid('name', `use 1-${MAX_ACCOUNT_NAME_LENGTH} characters without control characters`);
  }
}

function isFiniteNumber(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value);
}

function checkFinite(value: unknown, field: string): void {
  if (!isFiniteNumber(value)) throw invalid(field, 'must be a finite number');
}

function checkRange(value: unknown, field: string, min: number, max: number): void {
  if (typeof value !== 'number' || !(value >= min && value <= max))
    throw invalid(field, `must be a number in [${min}, ${max}]`);
}

function checkNonNegative(value: unknown, field: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw invalid(field, 'must be a finite number >= 0');
}

function checkCount(value: unknown, field: string): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 2_147_483_647) {
    throw invalid(field, 'must be an integer in [0, 2147483647]');
  }
}

function checkBoolean(value: unknown, field: string): void {
  if (typeof value !== 'boolean') throw invalid(field, 'must be true or false');
}

function checkOneOf(value: unknown, field: string, allowed: readonly string[]): void {
  if (typeof value !== 'string' || !allowed.includes(value))
    throw invalid(field, `must be one of ${allowed.join(', ')}`);
}

/**
 * A finite number as PostgreSQL's jsonb text writes it: the digits of the JSON text it receives, never an
 * exponent (numeric keeps the input's digits and prints them in positional notation).
 */
function jsonbNumberText(value: number): string {
  const json = JSON.stringify(value);
  const e = json.indexOf('e');
  if (e < 0) return json;
  const sign = json.startsWith('-') ? '-' : '';
  const mantissa = json.slice(sign.length, e);
  const point = mantissa.indexOf('.');
  const digits = mantissa.replace('.', '');
  // Where the decimal point falls in `digits` once the exponent is applied.
  const position = (point < 0 ? mantissa.length : point) + Number(json.slice(e + 1));
  if (position <= 0) return `${sign}0.${'0'.repeat(-position)}${digits}`;
  if (position >= digits.length) return `${sign}${digits}${'0'.repeat(position - digits.length)}`;
  return `${sign}${digits.slice(0, position)}.${digits.slice(position)}`;
}

/**
 * Bytes of the signals' jsonb text, which the schema's CHECK limits: '{"a": 1, "b": 0.0000001}', a space
 * after every ':' and ',' and numbers without exponents, where JSON.stringify writes '{"a":1,"b":1e-7}'.
 * Names are identifiers (checked first), so they need no escapes and count one byte a character.
 */
export function signalsJsonbBytes(signals: Record<string, number>): number {
  let bytes = 2;
  let pairs = 0;
  for (const [name, value] of Object.entries(signals)) {
    bytes += name.length + 4 + jsonbNumberText(value).length;
    pairs++;
  }
  return pairs === 0 ? bytes : bytes + 2 * (pairs - 1);
}

export function checkSignals(value: unknown, field = 'entry.signals'): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid(field, 'must be an object of named numbers');
  for (const [name, number] of Object.entries(value)) {
    if (!patterns.signalName.test(name)) throw invalid(field, 'signal names are identifiers of at most 48 characters');
    if (typeof number !== 'number' || !Number.isFinite(number))
      throw invalid(field, 'every signal must be a finite number');
  }
  if (signalsJsonbBytes(value as Record<string, number>) > MAX_SIGNALS_JSON_BYTES)
    throw invalid(field, `must take at most ${MAX_SIGNALS_JSON_BYTES} bytes as jsonb text`);
}

export function checkEntry(entry: RequestEntry): void {
  if (typeof entry !== 'object' || entry === null) throw invalid('entry', 'must be an object');
  checkRequestId(entry.id, 'entry.id');
  checkAccountId(entry.accountId, 'entry.accountId');
  if (!(entry.createdAt instanceof Date) || Number.isNaN(entry.createdAt.getTime()))
    throw invalid('entry.createdAt', 'must be a valid Date');
  checkOneOf(entry.kind, 'entry.kind', ENTRY_KINDS);
  checkQueryType(entry.queryType, 'entry.queryType');
  if (entry.complexity !== null)
    checkPattern(
      entry.complexity,
      'entry.complexity',
      patterns.complexity,
      'use null or an identifier of at most 16 characters',
    );
  checkModel(entry.model, 'entry.model');
  checkPattern(
    entry.provider,
    'entry.provider',
    patterns.provider,
    'use a provider identifier of at most 64 characters',
  );
  checkOneOf(entry.stage, 'entry.stage', STAGES);
  checkRange(entry.personalWeight, 'entry.personalWeight', 0, 1);
  checkBoolean(entry.changedByPersonal, 'entry.changedByPersonal');
  checkBoolean(entry.autoRouted, 'entry.autoRouted');
  checkBoolean(entry.enhanced, 'entry.enhanced');
  checkOneOf(entry.preference, 'entry.preference', PREFERENCES);
  checkPattern(entry.status, 'entry.status', patterns.status, 'use a lowercase identifier of at most 32 characters');
  if (entry.heuristicQuality !== null) checkRange(entry.heuristicQuality, 'entry.heuristicQuality', 0, 1);
  checkSignals(entry.signals);
  checkNonNegative(entry.latencyMs, 'entry.latencyMs');
  checkCount(entry.promptTokens, 'entry.promptTokens');
  checkCount(entry.completionTokens, 'entry.completionTokens');
  checkNonNegative(entry.costUsd, 'entry.costUsd');
  if (entry.messageHmac !== null)
    checkPattern(
      entry.messageHmac,
      'entry.messageHmac',
      patterns.hex64,
      'use null or 64 lowercase hex characters (HMAC-SHA-256)',
    );
}

export function checkCellSums(sums: CellSums, field: string): void {
  if (typeof sums !== 'object' || sums === null) throw invalid(field, 'must be an object of cell sums');
  // Field names are built only for the message of a failure: this runs for every write the router makes.
  for (const name of CELL_SUM_FIELDS) if (!isFiniteNumber(sums[name])) checkFinite(sums[name], `${field}.${name}`);
  const hist = sums.latencyHist;
  if (!Array.isArray(hist) || hist.length > MAX_LATENCY_BUCKETS) {
    throw invalid(`${field}.latencyHist`, `must be an array of at most ${MAX_LATENCY_BUCKETS} numbers`);
  }
  for (let i = 0; i < hist.length; i++)
    if (!isFiniteNumber(hist[i])) checkFinite(hist[i], `${field}.latencyHist[${i}]`);
}

export function checkCellDelta(delta: CellDelta, accountId: string, field: string): void {
  if (delta.accountId !== accountId) throw invalid(`${field}.accountId`, "must be the entry's account");
  checkQueryType(delta.queryType, `${field}.queryType`);
  checkModel(delta.model, `${field}.model`);
  checkCellSums(delta.delta, `${field}.delta`);
}

export function checkCounterIncrements(increments: CounterIncrements, field: string): void {
  for (const name of COUNTER_INTEGER_FIELDS) {
    const value = increments[name];
    if (value !== undefined && (typeof value !== 'number' || !Number.isSafeInteger(value)))
      throw invalid(`${field}.${name}`, 'must be an integer');
  }
  for (const name of COUNTER_SUM_FIELDS) {
    const value = increments[name];
    if (value !== undefined && !isFiniteNumber(value)) checkFinite(value, `${field}.${name}`);
  }
}

export function checkCounterDelta(delta: CounterDelta, accountId: string, field: string): void {
  if (delta.accountId !== accountId) throw invalid(`${field}.accountId`, "must be the entry's account");
  checkQueryType(delta.queryType, `${field}.queryType`);
  checkCounterIncrements(delta, field);
}

export function checkWrite(write: EntryWrite): void {
  if (typeof write !== 'object' || write === null)
    throw invalid('write', 'must be an object with entry and cellDeltas');
  checkEntry(write.entry);
  if (!Array.isArray(write.cellDeltas)) throw invalid('write.cellDeltas', 'must be an array');
  write.cellDeltas.forEach((delta, index) =>
    checkCellDelta(delta, write.entry.accountId, `write.cellDeltas[${index}]`),
  );
  if (write.counterDelta !== undefined)
    checkCounterDelta(write.counterDelta, write.entry.accountId, 'write.counterDelta');
}

export function checkRatingInput(rating: RatingInput): void {
  if (typeof rating !== 'object' || rating === null) throw invalid('rating', 'must be an object');
  if (
    rating.score !== null &&
    (typeof rating.score !== 'number' || !Number.isInteger(rating.score) || rating.score < 1 || rating.score > 5)
  ) {
    throw invalid('rating.score', 'must be null or an integer from 1 to 5');
  }
  if (rating.isHelpful !== null && typeof rating.isHelpful !== 'boolean')
    throw invalid('rating.isHelpful', 'must be null, true or false');
  if (rating.score === null && rating.isHelpful === null) throw invalid('rating', 'give a score, isHelpful, or both');
  checkRange(rating.quality, 'rating.quality', 0, 1);
}

export function checkPositiveInteger(value: unknown, field: string, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new StoreError('INVALID_ARGUMENT', 'INVALID_OPTION', `${field} is invalid: use an integer from 1 to ${max}`);
  }
}

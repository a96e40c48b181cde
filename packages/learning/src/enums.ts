import { typeV1 } from '@routeplex/contracts';
import type { Complexity, Preference, QueryType, Stage } from '@routeplex/scoring';

// Protobuf enums on the wire, short names inside: the services translate at their edges with these tables.

const QUERY_TYPE_TO_PROTO: Record<QueryType, typeV1.QueryType> = {
  code_algorithm: typeV1.QueryType.QUERY_TYPE_CODE_ALGORITHM,
  code_debug: typeV1.QueryType.QUERY_TYPE_CODE_DEBUG,
  math: typeV1.QueryType.QUERY_TYPE_MATH,
  reasoning: typeV1.QueryType.QUERY_TYPE_REASONING,
  analysis: typeV1.QueryType.QUERY_TYPE_ANALYSIS,
  creative: typeV1.QueryType.QUERY_TYPE_CREATIVE,
  writing: typeV1.QueryType.QUERY_TYPE_WRITING,
  factual: typeV1.QueryType.QUERY_TYPE_FACTUAL,
  summarization: typeV1.QueryType.QUERY_TYPE_SUMMARIZATION,
  extraction: typeV1.QueryType.QUERY_TYPE_EXTRACTION,
  translation: typeV1.QueryType.QUERY_TYPE_TRANSLATION,
  conversation: typeV1.QueryType.QUERY_TYPE_CONVERSATION,
};
const STAGE_TO_PROTO: Record<Stage, typeV1.Stage> = {
  cold_start: typeV1.Stage.STAGE_COLD_START,
  warm_up: typeV1.Stage.STAGE_WARM_UP,
  established: typeV1.Stage.STAGE_ESTABLISHED,
};
const PREFERENCE_TO_PROTO: Record<Preference, typeV1.Preference> = {
  quality: typeV1.Preference.PREFERENCE_QUALITY,
  balanced: typeV1.Preference.PREFERENCE_BALANCED,
  cost: typeV1.Preference.PREFERENCE_COST,
  speed: typeV1.Preference.PREFERENCE_SPEED,
};
const COMPLEXITY_TO_PROTO: Record<Complexity, typeV1.Complexity> = {
  low: typeV1.Complexity.COMPLEXITY_LOW,
  medium: typeV1.Complexity.COMPLEXITY_MEDIUM,
  high: typeV1.Complexity.COMPLEXITY_HIGH,
};

function invert<K extends string, V extends number>(table: Record<K, V>): Map<number, K> {
  return new Map(Object.entries(table).map(([k, v]) => [v as number, k as K]));
}
const QUERY_TYPE_FROM_PROTO = invert(QUERY_TYPE_TO_PROTO);
const PREFERENCE_FROM_PROTO = invert(PREFERENCE_TO_PROTO);

export const queryTypeToProto = (t: string): typeV1.QueryType =>
  QUERY_TYPE_TO_PROTO[t as QueryType] ?? typeV1.QueryType.QUERY_TYPE_UNSPECIFIED;
export const stageToProto = (s: string): typeV1.Stage => STAGE_TO_PROTO[s as Stage] ?? typeV1.Stage.STAGE_UNSPECIFIED;
export const preferenceToProto = (p: string): typeV1.Preference =>
  PREFERENCE_TO_PROTO[p as Preference] ?? typeV1.Preference.PREFERENCE_UNSPECIFIED;
export const complexityToProto = (c: string | null): typeV1.Complexity =>
  COMPLEXITY_TO_PROTO[c as Complexity] ?? typeV1.Complexity.COMPLEXITY_UNSPECIFIED;

/** undefined for UNSPECIFIED; null for a value this build does not know (the caller reports it). */
export function queryTypeFromProto(v: typeV1.QueryType): QueryType | undefined | null {
  if (v === typeV1.QueryType.QUERY_TYPE_UNSPECIFIED) return undefined;
  return QUERY_TYPE_FROM_PROTO.get(v) ?? null;
}
/** Balanced for UNSPECIFIED; null for an unknown value. */
export function preferenceFromProto(v: typeV1.Preference | undefined): Preference | null {
  if (v === undefined || v === typeV1.Preference.PREFERENCE_UNSPECIFIED) return 'balanced';
  return PREFERENCE_FROM_PROTO.get(v) ?? null;
}

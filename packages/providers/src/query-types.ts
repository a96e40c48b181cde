/** The query types (v1) that catalog priors and simulator profiles are keyed by. */
export const QUERY_TYPES = [
  'code_algorithm',
  'code_debug',
  'math',
  'reasoning',
  'analysis',
  'creative',
  'writing',
  'factual',
  'summarization',
  'extraction',
  'translation',
  'conversation',
] as const;

export type QueryType = (typeof QUERY_TYPES)[number];

const QUERY_TYPE_SET: ReadonlySet<string> = new Set(QUERY_TYPES);

export function isQueryType(value: string): value is QueryType {
  return QUERY_TYPE_SET.has(value);
}

/** The twelve query types of v1, in a fixed order (the classifier's class index follows it). */
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

export const STAGES = ['cold_start', 'warm_up', 'established'] as const;
export type Stage = (typeof STAGES)[number];

export const PREFERENCES = ['quality', 'balanced', 'cost', 'speed'] as const;
export type Preference = (typeof PREFERENCES)[number];

export type Complexity = 'low' | 'medium' | 'high';

export function isQueryType(value: unknown): value is QueryType {
  return typeof value === 'string' && (QUERY_TYPES as readonly string[]).includes(value);
}

export function isPreference(value: unknown): value is Preference {
  return typeof value === 'string' && (PREFERENCES as readonly string[]).includes(value);
}

/** A uniform random source on [0, 1). Scoring never creates one itself: callers pass it in. */
export type Rng = () => number;

export interface ChatMessage {
  role: string;
  content: string;
}

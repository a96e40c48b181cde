import type { QueryType } from './types.js';

export interface QualitySignalInput {
  queryType: QueryType;
  responseText: string;
  finishReason?: string | undefined;
  promptTokens?: number | undefined;
  completionTokens?: number | undefined;
  /**
   * The request asked for a JSON answer (OpenAI's response_format): its structure is whether it parses as
   * JSON, not the markdown (fences, lists) its query type would call for.
   */
  json?: boolean | undefined;
}

export interface QualitySignals {
  /** Heuristic quality in [0, 1]. */
  score: number;
  /** The numbers the score was computed from; never any text. */
  features: Record<string, number>;
}

/** Expected completion length per type, tokens: [shortest fully adequate, longest before verbosity costs]. */
const LENGTH_RANGE: Record<QueryType, [number, number]> = {
  code_algorithm: [150, 1800],
  code_debug: [100, 1500],
  math: [100, 1200],
  reasoning: [80, 1000],
  analysis: [200, 1500],
  creative: [200, 1800],
  writing: [200, 1500],
  factual: [60, 900],
  summarization: [40, 500],
  extraction: [15, 800],
  translation: [5, 1500],
  conversation: [10, 600],
};

type StructureKind = 'code' | 'math' | 'list' | 'none';
const STRUCTURE: Record<QueryType, StructureKind> = {
  code_algorithm: 'code',
  code_debug: 'code',
  math: 'math',
  reasoning: 'list',
  analysis: 'list',
  creative: 'none',
  writing: 'none',
  factual: 'none',
  summarization: 'none',
  extraction: 'list',
  translation: 'none',
  conversation: 'none',
};

const REFUSAL =
  /\b(I(?:'m| am) (?:sorry|unable|not able)|I can(?:no|')t (?:help|assist|provide|answer|comply|do that|fulfill)|I (?:cannot|won't|will not) (?:help|assist|provide|answer|comply|fulfill)|as an AI(?: language model)?,? I|against my (?:guidelines|programming)|I don't have (?:access|the ability))/i;

/** Estimate tokens from characters (about 4 characters a token in English). */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/**
 * A heuristic quality score from the response and its metadata. The text is read here and nowhere
 * else: only the returned numbers may be stored.
 */
export function qualitySignals(input: QualitySignalInput): QualitySignals {
  const text = input.responseText ?? '';
  const trimmed = text.trim();
  const empty = trimmed.length === 0 ? 1 : 0;
  const completionTokens = input.completionTokens ?? estimateTokens(text);
  const promptTokens = input.promptTokens ?? 0;
  const [lo, hi] = LENGTH_RANGE[input.queryType];

  // Length against the type's range, graded on a log scale: below lo an answer is too thin, up to hi
  // more substance scores higher, beyond hi verbosity costs a little (0.2 at 2*hi, at most 0.4).
  const lengthScore =
    completionTokens <= 0
      ? 0
      : completionTokens < lo
        ? 0.4 * Math.sqrt(completionTokens / lo)
        : completionTokens <= hi
          ? 0.4 + 0.6 * (Math.log(completionTokens / lo) / Math.log(hi / lo))
          : Math.max(0.6, 1 - (0.4 * Math.log2(completionTokens / hi)) / 2);

  const head = trimmed.slice(0, 400);
  const refusal = REFUSAL.test(head) && completionTokens < 250 ? 1 : REFUSAL.test(head) ? 0.5 : 0;

  const codeFences = countMatches(text, /```/g) / 2;
  const inlineCode = countMatches(text, /`[^`\n]+`/g);
  const listItems = countMatches(text, /^\s*(?:[-*•]|\d+[.)])\s+/gm);
  const headings = countMatches(text, /^\s*#{1,6}\s+\S/gm);
  const mathTokens = countMatches(text, /[=^√∑∫×÷]|\\frac|\\sqrt|\d+\s*[+\-*/]\s*\d+/g);
  const paragraphs = trimmed.length === 0 ? 0 : trimmed.split(/\n\s*\n/).length;

  // Structure the type calls for, graded by how much of it there is; a JSON answer's is being valid JSON.
  const kind = input.json ? 'json' : STRUCTURE[input.queryType];
  const jsonValid = input.json ? (parsesAsJson(trimmed) ? 1 : 0) : undefined;
  let structureScore: number;
  switch (kind) {
    case 'json':
      structureScore = jsonValid!;
      break;
    case 'code':
      structureScore =
        codeFences >= 1
          ? Math.min(1, 0.7 + 0.1 * codeFences + 0.02 * listItems)
          : inlineCode >= 3
            ? 0.5
            : looksLikeCode(text)
              ? 0.4
              : 0.2;
      break;
    case 'math':
      structureScore = Math.min(1, 0.3 + 0.05 * mathTokens + 0.03 * listItems);
      break;
    case 'list':
      structureScore = Math.min(1, 0.3 + 0.07 * listItems + 0.1 * headings + 0.05 * paragraphs);
      break;
    default:
      structureScore = Math.min(1, 0.4 + 0.1 * paragraphs + 0.03 * listItems);
  }

  // A very short answer to a long prompt usually skips the work (except summaries and extractions).
  const ratio = promptTokens > 0 ? completionTokens / promptTokens : 1;
  const ratioScore =
    input.queryType === 'summarization' || input.queryType === 'extraction'
      ? 1
      : Math.min(1, 0.4 + 0.6 * Math.sqrt(Math.min(1, ratio / 0.5)));

  // Finish reason; when the caller does not know it, an answer that stops mid-sentence was most
  // likely cut off.
  const endsCleanly = trimmed.length === 0 || /(?:[.!?)`"'*:;>\]}]|```)$/.test(trimmed) ? 1 : 0;
  const finish = input.finishReason?.toLowerCase();
  const finishScore =
    finish === undefined
      ? endsCleanly
        ? 1
        : 0.6
      : finish === 'stop' || finish === 'end_turn' || finish === 'stop_sequence'
        ? 1
        : finish === 'length' || finish === 'max_tokens'
          ? 0.6
          : finish === 'content_filter'
            ? 0.1
            : 0.9;

  let score = 0.5 * lengthScore + 0.3 * structureScore + 0.2 * ratioScore;
  score *= finishScore;
  if (refusal === 1) score *= 0.2;
  else if (refusal > 0) score *= 0.7;
  if (empty) score = 0;
  score = Math.min(1, Math.max(0, score));

  return {
    score,
    features: {
      completion_tokens: completionTokens,
      prompt_tokens: promptTokens,
      length_score: lengthScore,
      structure_score: structureScore,
      ratio_score: ratioScore,
      finish_score: finishScore,
      ends_cleanly: endsCleanly,
      refusal,
      empty,
      code_fences: codeFences,
      list_items: listItems,
      headings,
      math_tokens: mathTokens,
      paragraphs,
      ...(jsonValid === undefined ? {} : { json_valid: jsonValid }),
    },
  };
}

function parsesAsJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function countMatches(text: string, re: RegExp): number {
  let n = 0;
  re.lastIndex = 0;
  while (re.exec(text) !== null) {
    n++;
    if (n > 1000) break;
  }
  return n;
}

function looksLikeCode(text: string): boolean {
  return /(^|\n)\s*(def |class |function |import |#include|public |const |let |var |for \(|if \(|return )/.test(text);
}

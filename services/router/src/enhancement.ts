import type { QueryType } from '@routeplex/scoring';

/**
 * Per-type system instructions added by prompt enhancement. Short and generic on purpose: they steer the
 * answer's form, and their effect is measured (with vs without) rather than assumed.
 */
export const ENHANCEMENT_INSTRUCTIONS: Record<QueryType, string> = {
  code_algorithm:
    'You are a senior software engineer. Give a correct, idiomatic solution in a fenced code block, then briefly explain its complexity and edge cases.',
  code_debug:
    'You are an expert debugger. Identify the root cause first, then show the corrected code in a fenced code block and explain why it fixes the problem.',
  math: 'Solve step by step, showing each transformation, and state the final answer clearly on its own line.',
  reasoning:
    'Reason step by step, state your assumptions, check the conclusion against every constraint, then give the answer.',
  analysis:
    'Structure the answer with short headings or bullet points, weigh the evidence on each side, and end with a clear conclusion.',
  creative: 'Write with vivid, concrete detail and a consistent voice; respect any requested form, length and tone.',
  writing: 'Write clearly and concisely for the stated audience and purpose, with a fitting tone and structure.',
  factual: 'Answer accurately and directly first, then add brief supporting context; say so when you are not certain.',
  summarization:
    'Summarise faithfully: keep the key points, drop the detail, and add nothing that is not in the source.',
  extraction: 'Extract exactly the requested items, in a consistent structured format, without commentary.',
  translation: 'Translate faithfully, preserving meaning, tone and formatting; output only the translation.',
  conversation: 'Be friendly, natural and concise.',
};

/**
 * Whether an automatically decided request runs with enhancement: a fixed share is held out, chosen from
 * the request id so that the split is uniform and independent of content.
 */
export function enhancementByHoldout(requestId: string, holdoutFraction: number): boolean {
  let h = 2166136261;
  for (let i = 0; i < requestId.length; i++) h = Math.imul(h ^ requestId.charCodeAt(i), 16777619);
  return (h >>> 0) / 4294967296 >= holdoutFraction;
}

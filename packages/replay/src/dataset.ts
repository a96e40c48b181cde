import { readFileSync } from 'node:fs';
import type { ChatMessage } from '@routeplex/scoring';

/** One recorded outcome of a model on a prompt (DESIGN.md replay format). */
export interface RecordedOutcome {
  quality: number;
  response?: string;
  cost_usd?: number;
  completion_tokens?: number;
  latency_ms?: number;
}

export interface ReplayRow {
  id: string;
  messages: ChatMessage[];
  label?: string;
  outcomes: Record<string, RecordedOutcome>;
}

export interface ModelPrice {
  id: string;
  provider: string;
  input_per_mtok: number;
  output_per_mtok: number;
}

export class ReplayDataError extends Error {
  readonly code = 'INVALID_ARGUMENT';
  constructor(message: string) {
    super(message);
    this.name = 'ReplayDataError';
  }
}

/**
 * Parse a replay file; every line must have an id, messages and outcomes with quality in [0, 1]. Lines with no
 * outcome are skipped; a file left with none is refused.
 */
export function parseReplay(text: string, source = 'replay'): ReplayRow[] {
  const rows: ReplayRow[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim().length === 0) return;
    let r: ReplayRow;
    try {
      r = JSON.parse(line) as ReplayRow;
    } catch (err) {
      throw new ReplayDataError(
        `${source}:${i + 1} is not valid JSON (${(err as Error).message}); each line must be one JSON object.`,
      );
    }
    if (typeof r.id !== 'string' || !Array.isArray(r.messages) || typeof r.outcomes !== 'object' || r.outcomes === null)
      throw new ReplayDataError(`${source}:${i + 1} needs "id" (string), "messages" (array) and "outcomes" (object).`);
    for (const [model, o] of Object.entries(r.outcomes)) {
      if (!(typeof o.quality === 'number' && o.quality >= 0 && o.quality <= 1))
        throw new ReplayDataError(
          `${source}:${i + 1} outcome ${model} needs "quality" in [0, 1]; got ${JSON.stringify(o.quality)}.`,
        );
    }
    if (Object.keys(r.outcomes).length > 0) rows.push(r);
  });
  // Nothing to replay would still make a report, of NaN figures and vacuously met targets.
  if (rows.length === 0)
    throw new ReplayDataError(
      `${source} holds no prompt with outcomes; a replay needs at least one line whose "outcomes" gives a model's "quality".`,
    );
  return rows;
}

export function loadReplay(path: string): ReplayRow[] {
  return parseReplay(readFileSync(path, 'utf8'), path);
}

export function loadPrices(path: string): ModelPrice[] {
  const doc = JSON.parse(readFileSync(path, 'utf8')) as { models?: ModelPrice[] };
  if (!Array.isArray(doc.models))
    throw new ReplayDataError(`${path} needs a "models" array of {id, provider, input_per_mtok, output_per_mtok}.`);
  return doc.models;
}

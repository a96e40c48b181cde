import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChatMessage, QueryType } from '@routeplex/scoring';
import { isQueryType } from '@routeplex/scoring';

/** One labelled example. `source` says where the text came from (own prompts, mt-bench, arena). */
export interface LabelledExample {
  id: string;
  source: 'own' | 'mt-bench' | 'arena-bench-v1' | 'file';
  messages: ChatMessage[];
  expected: QueryType;
}

const here = dirname(fileURLToPath(import.meta.url));
export const CLASSIFIER_DATA_DIR = resolve(here, '../../data/classifier');
/** The shared data folder beside the repository (../shared/data from the repo root). */
export const DEFAULT_SHARED_DATA_DIR = resolve(here, '../../../../../shared/data');

function readJsonl(path: string): unknown[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l, i) => {
      try {
        return JSON.parse(l) as unknown;
      } catch (err) {
        throw new Error(`${path}:${i + 1} is not valid JSON: ${(err as Error).message}`);
      }
    });
}

function label(value: unknown, where: string): QueryType {
  if (!isQueryType(value))
    throw new Error(`${where}: "expected" must be one of the 12 query types; got ${JSON.stringify(value)}`);
  return value;
}

/** A labelled evaluation file: one {"prompt", "expected"} (optionally "id", or "messages") a line. */
export function loadEvalFile(path: string): LabelledExample[] {
  return readJsonl(path).map((row, i) => {
    const r = row as { id?: string; prompt?: string; messages?: ChatMessage[]; expected?: unknown };
    const messages = r.messages ?? (typeof r.prompt === 'string' ? [{ role: 'user', content: r.prompt }] : undefined);
    if (!messages) throw new Error(`${path}:${i + 1}: each line needs "prompt" (a string) or "messages"`);
    return {
      id: r.id ?? `line-${i + 1}`,
      source: 'file' as const,
      messages,
      expected: label(r.expected, `${path}:${i + 1}`),
    };
  });
}

/** Our own written prompts (committed with their text). */
export function loadOwnPrompts(path = join(CLASSIFIER_DATA_DIR, 'prompts.jsonl')): LabelledExample[] {
  return loadEvalFile(path).map((e) => ({ ...e, source: 'own' as const }));
}

/** mt-bench first turns, labelled by question id; the text is read from the shared data set. */
export function loadMtBench(sharedDir = DEFAULT_SHARED_DATA_DIR): LabelledExample[] {
  const labels = new Map(
    readJsonl(join(CLASSIFIER_DATA_DIR, 'mt-bench.labels.jsonl')).map((r) => {
      const x = r as { id: number; expected: unknown };
      return [x.id, label(x.expected, `mt-bench label ${x.id}`)] as const;
    }),
  );
  const out: LabelledExample[] = [];
  for (const row of readJsonl(join(sharedDir, 'mt-bench/questions.jsonl'))) {
    const q = row as { question_id: number; turns: string[] };
    const expected = labels.get(q.question_id);
    if (expected && q.turns[0])
      out.push({
        id: `mt-${q.question_id}`,
        source: 'mt-bench',
        messages: [{ role: 'user', content: q.turns[0] }],
        expected,
      });
  }
  return out;
}

/** arena-bench-v1 prompts, labelled by id; the text is read from the replay file. */
export function loadArena(sharedDir = DEFAULT_SHARED_DATA_DIR): LabelledExample[] {
  const labels = new Map(
    readJsonl(join(CLASSIFIER_DATA_DIR, 'arena-bench-v1.labels.jsonl')).map((r) => {
      const x = r as { id: string; expected: unknown };
      return [x.id, label(x.expected, `arena label ${x.id}`)] as const;
    }),
  );
  const out: LabelledExample[] = [];
  for (const row of readJsonl(join(sharedDir, 'arena-bench-v1/replay.jsonl'))) {
    const r = row as { id: string; messages: ChatMessage[] };
    const expected = labels.get(r.id);
    if (expected) out.push({ id: r.id, source: 'arena-bench-v1', messages: r.messages, expected });
  }
  return out;
}

/** Everything labelled; `ownPath` replaces the committed prompts file (to measure a candidate batch). */
export function loadAllLabelled(sharedDir = DEFAULT_SHARED_DATA_DIR, ownPath?: string): LabelledExample[] {
  return [...loadOwnPrompts(ownPath), ...loadMtBench(sharedDir), ...loadArena(sharedDir)];
}

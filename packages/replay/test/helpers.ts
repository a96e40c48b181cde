import { readFileSync } from 'node:fs';
import { DEFAULT_SHARED_DATA_DIR } from '../src/classifier/dataset.js';
import type { ModelPrice, ReplayRow } from '../src/index.js';
import { loadPrices, parseReplay } from '../src/index.js';

/** The first `n` prompts of the real arena-bench-v1 replay set (a subset keeps the suite fast). */
export function arenaSubset(n: number): { rows: ReplayRow[]; prices: ModelPrice[] } {
  const text = readFileSync(`${DEFAULT_SHARED_DATA_DIR}/arena-bench-v1/replay.jsonl`, 'utf8')
    .split('\n')
    .slice(0, n)
    .join('\n');
  return {
    rows: parseReplay(text, 'arena subset'),
    prices: loadPrices(`${DEFAULT_SHARED_DATA_DIR}/arena-bench-v1/models.json`),
  };
}

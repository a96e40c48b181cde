import { newRequestId, type CellSums, type EntryWrite, type RequestEntry } from '../../src/index.js';

export function sums(partial: Partial<CellSums> = {}): CellSums {
  return {
    n: 0,
    q: 0,
    q2: 0,
    requests: 0,
    ratings: 0,
    failures: 0,
    latencyMs: 0,
    costUsd: 0,
    latencyHist: [],
    ...partial,
  };
}

export function entry(accountId: string, overrides: Partial<RequestEntry> = {}): RequestEntry {
  return {
    id: newRequestId(),
    accountId,
    createdAt: new Date('2026-01-15T10:00:00.000Z'),
    kind: 'completion',
    queryType: 'code_debug',
    complexity: 'medium',
    model: 'gpt-4o-mini',
    provider: 'openai',
    stage: 'cold_start',
    personalWeight: 0.25,
    changedByPersonal: false,
    autoRouted: true,
    enhanced: false,
    preference: 'balanced',
    status: 'ok',
    heuristicQuality: 0.7,
    signals: { lengthScore: 0.8, structure: 1, refusal: 0 },
    latencyMs: 850,
    promptTokens: 120,
    completionTokens: 340,
    costUsd: 0.00042,
    messageHmac: 'ab'.repeat(32),
    ...overrides,
  };
}

/** A heuristic contribution as the router makes it: weight 1, scaled by s, one request in one latency bucket. */
export function heuristicWrite(
  accountId: string,
  options: { quality?: number; scale?: number; bucket?: number; overrides?: Partial<RequestEntry> } = {},
): EntryWrite {
  const e = entry(accountId, { heuristicQuality: options.quality ?? 0.7, ...options.overrides });
  const quality = e.heuristicQuality ?? 0.5;
  const s = options.scale ?? 1;
  const hist = new Array<number>(24).fill(0);
  hist[options.bucket ?? 10] = s;
  return {
    entry: e,
    cellDeltas: [
      {
        accountId,
        queryType: e.queryType,
        model: e.model,
        delta: sums({
          n: s,
          q: s * quality,
          q2: s * quality * quality,
          requests: s,
          latencyMs: s * e.latencyMs,
          costUsd: s * e.costUsd,
          latencyHist: hist,
        }),
      },
    ],
    counterDelta: {
      accountId,
      queryType: e.queryType,
      requests: 1,
      autoRouted: e.autoRouted ? 1 : 0,
      coldStart: 1,
      plainN: 1,
      plainQ: quality,
      plainQ2: quality * quality,
    },
  };
}

/** Relative closeness, with an absolute floor for values near zero. */
export function close(actual: number, expected: number, relative = 1e-9): boolean {
  return Math.abs(actual - expected) <= relative * Math.max(1, Math.abs(expected));
}

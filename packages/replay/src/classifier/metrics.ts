import type { QueryType } from '@routeplex/scoring';
import { QUERY_TYPES } from '@routeplex/scoring';

export interface ClassifierReport {
  total: number;
  correct: number;
  accuracy: number;
  perType: {
    type: QueryType;
    support: number;
    predicted: number;
    precision: number | undefined;
    recall: number | undefined;
  }[];
  /** confusion[expected][predicted] */
  confusion: Record<QueryType, Record<QueryType, number>>;
}

export function evaluatePredictions(pairs: readonly { expected: QueryType; predicted: QueryType }[]): ClassifierReport {
  const confusion = Object.fromEntries(
    QUERY_TYPES.map((e) => [e, Object.fromEntries(QUERY_TYPES.map((p) => [p, 0]))]),
  ) as ClassifierReport['confusion'];
  let correct = 0;
  for (const { expected, predicted } of pairs) {
    confusion[expected][predicted]++;
    if (expected === predicted) correct++;
  }
  const perType = QUERY_TYPES.map((type) => {
    const support = QUERY_TYPES.reduce((s, p) => s + confusion[type][p], 0);
    const predicted = QUERY_TYPES.reduce((s, e) => s + confusion[e][type], 0);
    const tp = confusion[type][type];
    return {
      type,
      support,
      predicted,
      precision: predicted > 0 ? tp / predicted : undefined,
      recall: support > 0 ? tp / support : undefined,
    };
  });
  return { total: pairs.length, correct, accuracy: pairs.length > 0 ? correct / pairs.length : 0, perType, confusion };
}

const ABBR: Record<QueryType, string> = {
  code_algorithm: 'cAlg',
  code_debug: 'cDbg',
  math: 'math',
  reasoning: 'reas',
  analysis: 'anal',
  creative: 'crea',
  writing: 'writ',
  factual: 'fact',
  summarization: 'summ',
  extraction: 'extr',
  translation: 'tran',
  conversation: 'conv',
};

export function formatReport(title: string, r: ClassifierReport): string {
  const pct = (v: number | undefined) => (v === undefined ? '   -  ' : `${(v * 100).toFixed(1).padStart(5)}%`);
  const lines = [
    `## ${title}`,
    `accuracy ${pct(r.accuracy)} (${r.correct}/${r.total})`,
    '',
    'type            support  precision  recall',
  ];
  for (const t of r.perType)
    lines.push(
      `${t.type.padEnd(15)} ${String(t.support).padStart(7)}  ${pct(t.precision).padStart(9)}  ${pct(t.recall).padStart(6)}`,
    );
  lines.push(
    '',
    'confusion (rows expected, columns predicted)',
    'expected\\pred ' + QUERY_TYPES.map((t) => ABBR[t].padStart(5)).join(''),
  );
  for (const e of QUERY_TYPES)
    lines.push(ABBR[e].padEnd(14) + QUERY_TYPES.map((p) => String(r.confusion[e][p]).padStart(5)).join(''));
  return lines.join('\n');
}

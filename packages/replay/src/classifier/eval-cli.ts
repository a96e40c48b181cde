/**
 * Evaluate the query-type classifier; prints accuracy, per-type precision/recall and the confusion matrix.
 *   --file F.jsonl   evaluate the committed model on a labelled file ({"prompt", "expected"} a line)
 *   (default)        held-out evaluation: k-fold cross-validation over the committed labelled set,
 *                    reported overall and per source (own prompts, mt-bench, arena-bench-v1)
 *   --errors         also list the held-out mistakes (id, expected, predicted) of the shared data sets
 *   --own-only       train on our written prompts only and score every mt-bench and arena prompt (no
 *                    real prompt in training at all: the best evidence about unseen real prompts)
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { classify, createClassifier } from '@routeplex/scoring';
import { DEFAULT_SHARED_DATA_DIR, loadAllLabelled, loadEvalFile } from './dataset.js';
import { crossValidate } from './crossval.js';
import { evaluatePredictions, formatReport } from './metrics.js';
import { trainClassifier } from './train.js';

const { values } = parseArgs({
  options: {
    file: { type: 'string' },
    shared: { type: 'string' },
    folds: { type: 'string', default: '5' },
    errors: { type: 'boolean', default: false },
    'own-only': { type: 'boolean', default: false },
  },
});

if (values.file) {
  const examples = loadEvalFile(resolve(values.file));
  const report = evaluatePredictions(
    examples.map((e) => ({ expected: e.expected, predicted: classify(e.messages).queryType })),
  );
  console.log(formatReport(`committed model on ${values.file}`, report));
} else if (values['own-only']) {
  const examples = loadAllLabelled(values.shared ? resolve(values.shared) : DEFAULT_SHARED_DATA_DIR);
  const clf = createClassifier(trainClassifier(examples.filter((e) => e.source === 'own')));
  for (const source of ['mt-bench', 'arena-bench-v1'] as const) {
    const rows = examples.filter((e) => e.source === source);
    const pairs = rows.map((e) => ({ expected: e.expected, predicted: clf.classify(e.messages).queryType }));
    console.log(formatReport(`trained on own prompts only, scored on ${source}`, evaluatePredictions(pairs)) + '\n');
    if (values.errors)
      rows.forEach((e, i) => {
        if (pairs[i]!.predicted !== e.expected)
          console.log(`${source} ${e.id} expected ${e.expected}, predicted ${pairs[i]!.predicted}`);
      });
  }
} else {
  const examples = loadAllLabelled(values.shared ? resolve(values.shared) : DEFAULT_SHARED_DATA_DIR);
  const cv = crossValidate(examples, Number(values.folds));
  for (const source of [undefined, 'own', 'mt-bench', 'arena-bench-v1'] as const) {
    const rows = cv.filter((r) => source === undefined || r.example.source === source);
    const report = evaluatePredictions(rows.map((r) => ({ expected: r.example.expected, predicted: r.predicted })));
    console.log(formatReport(`${values.folds}-fold held-out: ${source ?? 'all labelled prompts'}`, report) + '\n');
  }
  if (values.errors)
    for (const r of cv)
      if (r.example.source !== 'own' && r.predicted !== r.example.expected)
        console.log(`${r.example.source} ${r.example.id} expected ${r.example.expected}, predicted ${r.predicted}`);
}

/**
 * Evaluate the query-type classifier; prints accuracy, per-type precision/recall and the confusion matrix.
 *   --file F.jsonl   evaluate the committed model on a labelled file ({"prompt", "expected"} a line)
 *   (default)        held-out evaluation: k-fold cross-validation over the committed labelled set,
 *                    reported overall and per source (own prompts, mt-bench, arena-bench-v1)
 *   --errors         also list the held-out mistakes (id, expected, predicted) of the shared data sets
 *   --own-only       train on our written prompts only and score every mt-bench and arena prompt (no
 *                    real prompt in training at all: the best evidence about unseen real prompts)
 *   --seed N         training-order seed (default that of DEFAULT_TRAIN_OPTIONS)
 *   --seeds 7,1,2,3,4  summary only: for each seed, the k-fold held-out and the own-only accuracy on
 *                    mt-bench and arena, then their means (the seed alone moves arena by about 1 point)
 *   --prompts F.jsonl  use this file instead of the committed prompts.jsonl as our written prompts
 *   --train JSON     override training options, e.g. --train '{"l2":0.0003}'
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { QueryType } from '@routeplex/scoring';
import { classify, createClassifier } from '@routeplex/scoring';
import { DEFAULT_SHARED_DATA_DIR, loadAllLabelled, loadEvalFile } from './dataset.js';
import { crossValidate } from './crossval.js';
import { evaluatePredictions, formatReport } from './metrics.js';
import type { TrainOptions } from './train.js';
import { trainClassifier } from './train.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    seeds: { type: 'string' },
    train: { type: 'string' },
    prompts: { type: 'string' },
    file: { type: 'string' },
    shared: { type: 'string' },
    folds: { type: 'string', default: '5' },
    errors: { type: 'boolean', default: false },
    'own-only': { type: 'boolean', default: false },
  },
});

const loadLabelled = () =>
  loadAllLabelled(
    values.shared ? resolve(values.shared) : DEFAULT_SHARED_DATA_DIR,
    values.prompts ? resolve(values.prompts) : undefined,
  );

const trainOptions: Partial<TrainOptions> = {
  ...(values.train ? (JSON.parse(values.train) as Partial<TrainOptions>) : {}),
  ...(values.seed !== undefined ? { seed: Number(values.seed) } : {}),
};

if (values.seeds) {
  const examples = loadLabelled();
  const own = examples.filter((e) => e.source === 'own');
  const columns = ['cv all', 'cv own', 'cv mt-bench', 'cv arena', 'own-only mt-bench', 'own-only arena'];
  const sums = new Array<number>(columns.length).fill(0);
  const seeds = values.seeds.split(',').map(Number);
  // Held-out arena predictions pooled over the seeds, for per-type counts (no prompt text).
  const arenaPairs: { expected: QueryType; predicted: QueryType }[] = [];
  console.log(`training options ${JSON.stringify(trainOptions)}, ${values.folds}-fold`);
  console.log('seed ' + columns.map((c) => c.padStart(8)).join(' '));
  for (const seed of seeds) {
    const opt = { ...trainOptions, seed };
    const cv = crossValidate(examples, Number(values.folds), opt);
    const cvAcc = (source?: string) =>
      evaluatePredictions(
        cv
          .filter((r) => source === undefined || r.example.source === source)
          .map((r) => ({ expected: r.example.expected, predicted: r.predicted })),
      ).accuracy;
    const clf = createClassifier(trainClassifier(own, opt));
    const ownOnly = (source: string) =>
      evaluatePredictions(
        examples
          .filter((e) => e.source === source)
          .map((e) => ({ expected: e.expected, predicted: clf.classify(e.messages).queryType })),
      ).accuracy;
    const row = [
      cvAcc(),
      cvAcc('own'),
      cvAcc('mt-bench'),
      cvAcc('arena-bench-v1'),
      ownOnly('mt-bench'),
      ownOnly('arena-bench-v1'),
    ];
    row.forEach((v, i) => (sums[i]! += v));
    for (const r of cv)
      if (r.example.source === 'arena-bench-v1')
        arenaPairs.push({ expected: r.example.expected, predicted: r.predicted });
    console.log(
      String(seed).padEnd(5) +
        row.map((v, i) => `${(v * 100).toFixed(1)}%`.padStart(Math.max(8, columns[i]!.length))).join(' '),
    );
  }
  console.log(
    'mean ' +
      sums
        .map((v, i) => `${((v / seeds.length) * 100).toFixed(2)}%`.padStart(Math.max(8, columns[i]!.length)))
        .join(' '),
  );
  console.log(
    '\n' +
      formatReport(
        `${values.folds}-fold held-out arena-bench-v1, pooled over seeds ${values.seeds}`,
        evaluatePredictions(arenaPairs),
      ),
  );
} else if (values.file) {
  const examples = loadEvalFile(resolve(values.file));
  const report = evaluatePredictions(
    examples.map((e) => ({ expected: e.expected, predicted: classify(e.messages).queryType })),
  );
  console.log(formatReport(`committed model on ${values.file}`, report));
} else if (values['own-only']) {
  const examples = loadLabelled();
  const clf = createClassifier(
    trainClassifier(
      examples.filter((e) => e.source === 'own'),
      trainOptions,
    ),
  );
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
  const examples = loadLabelled();
  const cv = crossValidate(examples, Number(values.folds), trainOptions);
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

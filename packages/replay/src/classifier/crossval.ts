import type { QueryType } from '@routeplex/scoring';
import { createClassifier, seedFromString } from '@routeplex/scoring';
import type { LabelledExample } from './dataset.js';
import type { TrainOptions } from './train.js';
import { trainClassifier } from './train.js';

/**
 * k-fold cross-validation: every example is predicted by a model that never saw it. Folds are
 * assigned by a hash of the example id, so the split is stable across runs and machines.
 */
export function crossValidate(
  examples: readonly LabelledExample[],
  folds = 5,
  options: Partial<TrainOptions> = {},
): { example: LabelledExample; predicted: QueryType }[] {
  const foldOf = (e: LabelledExample) => seedFromString(e.id) % folds;
  const out: { example: LabelledExample; predicted: QueryType }[] = [];
  for (let f = 0; f < folds; f++) {
    const train = examples.filter((e) => foldOf(e) !== f);
    const test = examples.filter((e) => foldOf(e) === f);
    const clf = createClassifier(trainClassifier(train, options));
    for (const e of test) out.push({ example: e, predicted: clf.classify(e.messages).queryType });
  }
  return out;
}

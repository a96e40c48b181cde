/**
 * routeplex replay: stream a replay file through the production scoring code and compare policies.
 * Usage: pnpm exec tsx packages/replay/src/cli.ts --dataset FILE [--models PRICES] [--preference P]
 *        [--feedback-rate R] [--accounts N] [--passes N] [--seed S] [--windows W] [--json]
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Preference } from '@routeplex/scoring';
import { isPreference } from '@routeplex/scoring';
import { loadPrices, loadReplay, ReplayDataError, type ModelPrice, type ReplayRow } from './dataset.js';
import { formatReplayReport } from './report.js';
import { runReplay } from './run.js';

export const REPLAY_USAGE = `usage: routeplex replay --dataset FILE [options]
  --dataset FILE        replay JSONL (DESIGN.md format), e.g. ../shared/data/arena-bench-v1/replay.jsonl
  --models FILE         price list {"models": [{id, provider, input_per_mtok, output_per_mtok}]}
  --preference P        quality | balanced | cost | speed (default quality)
  --feedback-rate R     fraction of requests rated, 0..1 (default 0.3)
  --accounts N          simulated accounts, each with its own taste (default 1)
  --passes N            passes over the data set, each in a new seeded order (default 3)
  --seed S              integer seed; the whole run is deterministic for a seed (default 42)
  --windows W           learning-curve windows (default 10)
  --json                print the report as JSON`;

class UsageError extends Error {}

function parseCli(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      dataset: { type: 'string' },
      models: { type: 'string' },
      preference: { type: 'string', default: 'quality' },
      'feedback-rate': { type: 'string', default: '0.3' },
      accounts: { type: 'string', default: '1' },
      passes: { type: 'string', default: '3' },
      seed: { type: 'string', default: '42' },
      windows: { type: 'string', default: '10' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  // Plain decimal digits only: Number() also reads '' as 0, '0x10' as 16 and '1e3' as 1000.
  const num = (name: string, v: string, shape: RegExp, ok: (n: number) => boolean, want: string) => {
    const n = Number(v);
    if (!shape.test(v) || !ok(n)) throw new UsageError(`--${name} must be ${want}, in decimal digits; got '${v}'.`);
    return n;
  };
  const DECIMAL = /^([0-9]+(\.[0-9]+)?|\.[0-9]+)$/;
  const INTEGER = /^-?[0-9]+$/;
  const positiveInt = (n: number) => Number.isSafeInteger(n) && n >= 1;
  if (values.help) return { help: true as const };
  if (!values.dataset)
    throw new UsageError(
      '--dataset FILE is required (a replay JSONL file, e.g. ../shared/data/arena-bench-v1/replay.jsonl).',
    );
  if (!isPreference(values.preference))
    throw new UsageError(`--preference must be one of quality, balanced, cost, speed; got ${values.preference}.`);
  return {
    help: false as const,
    dataset: values.dataset,
    models: values.models,
    json: values.json,
    options: {
      preference: values.preference as Preference,
      feedbackRate: num('feedback-rate', values['feedback-rate'], DECIMAL, (n) => n <= 1, 'a number from 0 to 1'),
      accounts: num('accounts', values.accounts, INTEGER, positiveInt, 'an integer >= 1'),
      passes: num('passes', values.passes, INTEGER, positiveInt, 'an integer >= 1'),
      seed: num('seed', values.seed, INTEGER, Number.isSafeInteger, 'an integer'),
      windows: num('windows', values.windows, INTEGER, positiveInt, 'an integer >= 1'),
    },
  };
}

/** Run the replay command with its arguments (without the command name); returns the exit code. */
export function runReplayCli(
  args: string[],
  out: (line: string) => void = console.log,
  err: (line: string) => void = console.error,
): number {
  let parsed: ReturnType<typeof parseCli>;
  try {
    parsed = parseCli(args);
  } catch (e) {
    err(`${(e as Error).message}\n\n${REPLAY_USAGE}`);
    return 2;
  }
  if (parsed.help) {
    out(REPLAY_USAGE);
    return 0;
  }
  let rows: ReplayRow[];
  let prices: ModelPrice[];
  try {
    rows = loadReplay(parsed.dataset);
    prices = parsed.models ? loadPrices(parsed.models) : [];
  } catch (e) {
    if (!(e instanceof ReplayDataError)) throw e;
    err(e.message);
    return 1;
  }
  const report = runReplay(rows, prices, parsed.options);
  out(parsed.json ? JSON.stringify(report, null, 2) : formatReplayReport(report));
  return 0;
}

const invokedDirectly = (() => {
  try {
    return (
      process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))
    );
  } catch {
    return false;
  }
})();
if (invokedDirectly) process.exitCode = runReplayCli(process.argv.slice(2));

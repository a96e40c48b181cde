import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SHARED_DATA_DIR } from '../src/classifier/dataset.js';
import { runReplayCli } from '../src/index.js';

/** Runs the replay command and keeps what it prints. */
function replay(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = runReplayCli(
    args,
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('replay CLI', () => {
  it('explains a missing dataset and exits 2', () => {
    const errs: string[] = [];
    expect(
      runReplayCli(
        [],
        () => {},
        (l) => errs.push(l),
      ),
    ).to.equal(2);
    expect(errs.join('\n')).to.match(/--dataset FILE is required/);
  });

  it('rejects an unknown preference, naming the valid ones', () => {
    const errs: string[] = [];
    expect(
      runReplayCli(
        ['--dataset', 'x.jsonl', '--preference', 'cheap'],
        () => {},
        (l) => errs.push(l),
      ),
    ).to.equal(2);
    expect(errs.join('\n')).to.match(/one of quality, balanced, cost, speed/);
  });

  it('prints usage on --help', () => {
    const out: string[] = [];
    expect(runReplayCli(['--help'], (l) => out.push(l))).to.equal(0);
    expect(out.join('\n')).to.match(/--feedback-rate R/);
  });

  it('runs a real replay and prints the policy table as JSON', () => {
    const out: string[] = [];
    const code = runReplayCli(
      [
        '--dataset',
        `${DEFAULT_SHARED_DATA_DIR}/arena-bench-v1/replay.jsonl`,
        '--models',
        `${DEFAULT_SHARED_DATA_DIR}/arena-bench-v1/models.json`,
        '--passes',
        '1',
        '--json',
      ],
      (l) => out.push(l),
    );
    expect(code).to.equal(0);
    const report = JSON.parse(out.join('\n')) as { prompts: number; policies: unknown[] };
    expect(report.prompts).to.equal(300);
    expect(report.policies.length).to.be.at.least(7);
  });

  describe('on files of its own', () => {
    let dir: string;
    let tiny: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'rpx-replay-cli-'));
      tiny = join(dir, 'tiny.jsonl');
      const line = (id: string, content: string) =>
        JSON.stringify({
          id,
          messages: [{ role: 'user', content }],
          outcomes: { 'model-a': { quality: 0.8 }, 'model-b': { quality: 0.4 } },
        });
      await writeFile(tiny, [line('q1', 'Write a haiku'), line('q2', 'Sort a list in Python')].join('\n'));
    });
    after(() => rm(dir, { recursive: true, force: true }));

    it('exits 1 and says so when the dataset holds no prompt with outcomes, printing no report', async () => {
      const empty = join(dir, 'empty.jsonl');
      const withoutOutcomes = join(dir, 'without-outcomes.jsonl');
      await writeFile(empty, '');
      await writeFile(withoutOutcomes, JSON.stringify({ id: 'q', messages: [], outcomes: {} }) + '\n');
      for (const file of [empty, withoutOutcomes]) {
        const run = replay(['--dataset', file, '--passes', '1']);
        expect(run.code, file).to.equal(1);
        expect(run.err).to.equal(
          `${file} holds no prompt with outcomes; a replay needs at least one line whose "outcomes" gives a model's "quality".`,
        );
        expect(run.out).to.equal('');
      }
    });

    it('refuses numbers that are not plain decimals, naming the flag', () => {
      const refused: [string, string][] = [
        ['--feedback-rate', ''],
        ['--feedback-rate', '0x1'],
        ['--feedback-rate', '1e-1'],
        ['--feedback-rate', ' 0.5'],
        ['--feedback-rate', '-0'],
        ['--accounts', '0x10'],
        ['--accounts', ''],
        ['--accounts', '1e1'],
        ['--accounts', '2.0'],
        ['--passes', '0b11'],
        ['--passes', '+2'],
        ['--windows', '1_0'],
        ['--seed', '0o7'],
        ['--seed', '9007199254740993'],
      ];
      for (const [flag, value] of refused) {
        // --flag=value: parseArgs reads a separate value that starts with a dash as another flag.
        const run = replay(['--dataset', tiny, '--passes', '1', `${flag}=${value}`]);
        expect(run.code, `${flag} '${value}'`).to.equal(2);
        expect(run.err, `${flag} '${value}'`).to.include(`${flag} must be`);
        expect(run.out).to.equal('');
      }
    });

    it('takes plain decimal numbers and runs with them', () => {
      const run = replay([
        '--dataset',
        tiny,
        '--feedback-rate',
        '.5',
        '--accounts',
        '2',
        '--passes',
        '1',
        '--seed=-7',
        '--json',
      ]);
      expect(run.code, run.err).to.equal(0);
      const report = JSON.parse(run.out) as { options: Record<string, unknown>; prompts: number };
      expect(report.options).to.include({ feedbackRate: 0.5, accounts: 2, passes: 1, seed: -7 });
      expect(report.prompts).to.equal(2);
    });
  });
});

import { expect } from 'chai';
import { DEFAULT_SHARED_DATA_DIR } from '../src/classifier/dataset.js';
import { runReplayCli } from '../src/index.js';

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
});

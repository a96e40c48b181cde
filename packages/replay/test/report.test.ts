import { expect } from 'chai';
import { formatReplayReport, runReplay } from '../src/index.js';
import { arenaSubset } from './helpers.js';

describe('replay report', () => {
  it('prints the policy table, the learning curve, the heuristic correlation and each target as MET or NOT MET', () => {
    const { rows, prices } = arenaSubset(30);
    const text = formatReplayReport(runReplay(rows, prices, { passes: 1, windows: 3, preference: 'balanced' }));
    expect(text).to.match(/^Replay: 30 prompts x 1 passes = 30 requests; preference balanced/);
    expect(text).to.include(
      '| policy | mean quality | % of oracle | mean cost (USD) | cost vs best single | regret vs per-type oracle | 2nd-half quality |',
    );
    expect(text).to.include('| policy | w1 | w2 | w3 |');
    expect(text).to.match(/Heuristic signal vs recorded quality: Spearman -?\d\.\d{3} overall/);
    expect(text).to.match(/- \[[x ]\] (MET|NOT MET): balanced: quality above the single-model frontier/);
  });
});

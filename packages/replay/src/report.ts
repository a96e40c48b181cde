import type { ReplayReport } from './run.js';

const f = (v: number, d = 3) => v.toFixed(d);

/** The report as Markdown (tables and a plain target list). */
export function formatReplayReport(r: ReplayReport): string {
  const o = r.options;
  const lines: string[] = [];
  lines.push(
    `Replay: ${r.prompts} prompts x ${o.passes} passes = ${r.requests} requests; preference ${o.preference}; ratings on ${o.feedbackRate * 100}% of requests; ${o.accounts} account(s); seed ${o.seed}.`,
    '',
    '| policy | mean quality | % of oracle | mean cost (USD) | cost vs best single | regret vs per-type oracle | 2nd-half quality |',
    '|---|---:|---:|---:|---:|---:|---:|',
  );
  for (const p of r.policies)
    lines.push(
      `| ${p.name} | ${f(p.meanQuality)} | ${f(p.pctOfOracle * 100, 1)}% | ${p.meanCostUsd.toFixed(5)} | ${f(p.costVsBestSingle, 2)}x | ${f(p.regretVsTypeOracle, 4)} | ${f(p.secondHalfQuality)} |`,
    );
  lines.push(
    '',
    `Learning curve (mean quality per window of ${Math.ceil(r.requests / (r.policies[0]?.curve.length ?? 1))} requests):`,
    '',
  );
  const n = r.policies[0]?.curve.length ?? 0;
  lines.push(
    `| policy | ${Array.from({ length: n }, (_, i) => `w${i + 1}`).join(' | ')} |`,
    `|---|${'---:|'.repeat(n)}`,
  );
  for (const p of r.policies) lines.push(`| ${p.name} | ${p.curve.map((v) => f(v, 2)).join(' | ')} |`);
  lines.push(
    '',
    'Single models (frontier reference):',
    '',
    '| model | mean quality | mean cost (USD) |',
    '|---|---:|---:|',
  );
  for (const s of [...r.singles].sort((a, b) => b.meanQuality - a.meanQuality))
    lines.push(`| ${s.model} | ${f(s.meanQuality)} | ${s.meanCostUsd.toFixed(5)} |`);
  lines.push(
    '',
    `Heuristic signal vs recorded quality: Spearman ${r.spearmanOverall?.toFixed(3)} overall; per detected type:`,
    '',
  );
  lines.push('| type | pairs | Spearman |', '|---|---:|---:|');
  for (const [t, v] of Object.entries(r.spearmanByType))
    lines.push(`| ${t} | ${v!.n} | ${v!.rho === undefined ? '-' : v!.rho.toFixed(3)} |`);
  lines.push('', 'Targets:', '');
  for (const t of r.targets)
    lines.push(`- [${t.met ? 'x' : ' '}] ${t.met ? 'MET' : 'NOT MET'}: ${t.name} (${t.detail})`);
  return lines.join('\n');
}

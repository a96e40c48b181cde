// Dashboard benchmark: how fast the Insights page shows an account's learning in Debian's Chromium, against
// the embedded stack in memory with simulated traffic. Prints medians and p99 of one run.
//
//   cd /work/main && node --import tsx tests/dashboard/bench-dashboard.ts [requests=300] [loads=30] [ratings=20]

import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { loadEmbeddedConfig, startEmbedded } from '@routeplex/cli';

const [requests = 300, loads = 30, ratings = 20] = process.argv.slice(2).map(Number);
const STATIC = resolve(dirname(fileURLToPath(import.meta.url)), '../../services/gateway/static');
const PROMPTS = [
  'Write a Python function that merges two sorted lists.',
  'Solve 5x - 3 = 17 and explain each step.',
  'Translate into Spanish: the train leaves at noon.',
  'What is the tallest mountain in Africa?',
  'Write a haiku about the sea at night.',
  'Summarize: the board approved the plan, cut the budget and delayed hiring until spring.',
];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
function summary(name: string, samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  return `| ${name} | ${samples.length} | ${percentile(sorted, 50).toFixed(1)} | ${percentile(sorted, 99).toFixed(1)} |`;
}
async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

const dataDir = await mkdtemp(join(tmpdir(), 'routeplex-dash-bench-'));
const profileDir = await mkdtemp(join(tmpdir(), 'routeplex-dash-bench-profile-'));
const stack = await startEmbedded({
  config: loadEmbeddedConfig({
    ROUTEPLEX_DATA_DIR: dataDir,
    GATEWAY_PORT: '0',
    ROUTER_GRPC_PORT: '0',
    FEEDBACK_GRPC_PORT: '0',
    INSIGHTS_GRPC_PORT: '0',
    ROUTEPLEX_SIM_LATENCY_SCALE: '0',
    ROUTEPLEX_LOG_LEVEL: 'error',
  }),
  env: {},
  inMemory: true,
  seed: 1,
});
const headers = { authorization: `Bearer ${stack.devApiKey}`, 'content-type': 'application/json' };
try {
  for (let i = 0; i < requests; i++) {
    const res = await fetch(`${stack.gatewayUrl}/api/v1/chat/completions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        model: 'routeplex-ai',
        messages: [{ role: 'user', content: `${PROMPTS[i % PROMPTS.length]} (${i})` }],
      }),
    });
    if (res.status !== 200) throw new Error(`chat completion answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
  }
  await new Promise((r) => setTimeout(r, 500)); // let the write batcher flush

  const api: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t = performance.now();
    const res = await fetch(`${stack.gatewayUrl}/api/v1/insights/learning`, { headers });
    await res.arrayBuffer();
    api.push(performance.now() - t);
  }

  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    headless: true,
    viewport: { width: 1366, height: 768 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const url = `${stack.gatewayUrl}/dashboard/`;
  await page.goto(url);
  await page.getByLabel('API key or JWT').fill(stack.devApiKey);
  await page.keyboard.press('Enter');
  await page.locator('#dashboard').waitFor({ state: 'visible' });

  // Reload with the session kept: navigation to every section rendered (data fetched, charts drawn).
  const load: number[] = [];
  for (let i = 0; i < loads; i++) {
    const t = performance.now();
    await page.reload();
    await page.waitForFunction(`document.getElementById('req-table').tBodies[0].rows.length > 0`);
    load.push(performance.now() - t);
  }

  // A rating: click to the statistics shown again (feedback committed, four reads, re-render).
  const rate: number[] = [];
  const ids = await page
    .locator('#req-table tbody tr')
    .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-request-id')!));
  for (let i = 0; i < ratings; i++) {
    const id = ids[i % ids.length]!;
    const t = performance.now();
    await page.getByLabel(new RegExp(`^Score for request ${id}`)).selectOption(String((i % 5) + 1));
    await page.getByRole('button', { name: new RegExp(`^Save rating of request ${id}`) }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Rating saved for ${id}` })
      .waitFor();
    rate.push(performance.now() - t);
    await page.evaluate(`document.getElementById('status').textContent = ''`);
  }
  await context.close();

  console.log(
    `requests recorded: ${requests}; machine: ${cpus().length} x ${cpus()[0]?.model}, Node ${process.version}`,
  );
  console.log(`static files served: ${((await folderBytes(STATIC)) / 1024).toFixed(0)} KiB (vendor included)`);
  console.log('| measure | samples | p50 ms | p99 ms |');
  console.log('|---|---|---|---|');
  console.log(summary('GET /api/v1/insights/learning (Node fetch)', api));
  console.log(summary('page reload to every section rendered', load));
  console.log(summary('rating: click to statistics refreshed', rate));
} finally {
  await stack.close();
  await rm(dataDir, { recursive: true, force: true });
  await rm(profileDir, { recursive: true, force: true });
}

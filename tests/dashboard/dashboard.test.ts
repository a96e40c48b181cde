import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { loadEmbeddedConfig, startEmbedded, type Embedded } from '@routeplex/cli';

// The Insights dashboard, served by the embedded stack's facade, driven in Debian's Chromium against real
// traffic: the page shows what the API returns, a rating changes the statistics, deletion resets them.

const CHROMIUM = '/usr/bin/chromium';
// Without the background-networking flags Chromium keeps trying to reach Google's hosts, which this closed
// network refuses (and which would show up as noise, not as page errors).
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SCREENSHOTS = join(REPO, 'docs/screenshots');

// Prompts of several kinds, so that the page has more than one query type and model to show. None of this
// text may ever appear in the page: the API only has metadata.
const PROMPTS = [
  'Write a Python function that returns the n-th Fibonacci number using memoization.',
  'Implement binary search in TypeScript and explain its complexity.',
  'Write a function in Go that reverses a linked list in place.',
  'Solve for x: 3x + 7 = 22, and show each step.',
  'What is the integral of x^2 sin(x) dx? Show the working.',
  'Translate into French: the meeting is moved to Thursday afternoon.',
  'Translate into German: where is the nearest train station?',
  'Write a short poem about autumn leaves falling on a quiet lake.',
  'What is the capital of Australia and when was it founded?',
  'Summarize in two sentences: the committee met on Monday, reviewed the budget, approved two projects and postponed the third until more data is available.',
  'Write a Python function that checks whether a string is a palindrome.',
  'Write a JavaScript function that sorts an array of objects by a given key.',
  'Implement a queue using two stacks in Java.',
  'Why does my JavaScript code throw TypeError: cannot read properties of undefined (reading "map")?',
];

// The page's own formatter, to compare displayed figures with the API's numbers.
const format = (await import(pathToFileURL(join(REPO, 'services/gateway/static/dashboard/format.js')).href)) as {
  formatLatency(ms: unknown): string;
};

interface Json {
  [key: string]: unknown;
}

describe('Insights dashboard (embedded stack, Debian Chromium)', function () {
  this.timeout(60_000);

  let stack: Embedded;
  let dataDir: string;
  let profileDir: string;
  let context: BrowserContext;
  let page: Page;
  let dashboardUrl: string;
  const requestIds: string[] = [];
  const pageProblems: string[] = [];

  const api = async (method: string, path: string, body?: unknown): Promise<Json> => {
    const res = await fetch(stack.gatewayUrl + path, {
      method,
      headers: { authorization: `Bearer ${stack.devApiKey}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    expect(res.status, `${method} ${path}: ${text}`).to.equal(200);
    return JSON.parse(text) as Json;
  };

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium is not installed at ${CHROMIUM}: install Debian's package with "apt-get install -y chromium" ` +
          '(.ci/run does) and run the test again',
      );
    }
    dataDir = await mkdtemp(join(tmpdir(), 'routeplex-dashboard-data-'));
    profileDir = await mkdtemp(join(tmpdir(), 'routeplex-dashboard-profile-'));
    await mkdir(SCREENSHOTS, { recursive: true });
    stack = await startEmbedded({
      config: loadEmbeddedConfig({
        ROUTEPLEX_DATA_DIR: dataDir,
        GATEWAY_PORT: '0',
        ROUTER_GRPC_PORT: '0',
        FEEDBACK_GRPC_PORT: '0',
        INSIGHTS_GRPC_PORT: '0',
        ROUTEPLEX_SIM_LATENCY_SCALE: '0',
        ROUTEPLEX_LOG_LEVEL: 'warn',
      }),
      env: {},
      inMemory: true,
      seed: 7,
    });
    dashboardUrl = `${stack.gatewayUrl}/dashboard/`;
    const probe = await fetch(dashboardUrl);
    expect(
      probe.status,
      `GET ${dashboardUrl} answered ${probe.status}: the embedded facade must serve services/gateway/static/dashboard ` +
        'under /dashboard (createGateway options staticDir and staticPrefix)',
    ).to.equal(200);
    await probe.arrayBuffer();

    for (const prompt of PROMPTS) {
      const answer = await api('POST', '/api/v1/chat/completions', {
        model: 'routeplex-ai',
        messages: [{ role: 'user', content: prompt }],
      });
      expect(answer.id).to.be.a('string').and.match(/^req_/);
      requestIds.push(answer.id as string);
    }
    // Entries are written in batches off the request path: wait until all of them are listed.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const listed = await api('GET', '/api/v1/insights/requests?page_size=100');
      if ((listed.requests as unknown[]).length === PROMPTS.length) break;
      if (Date.now() > deadline) throw new Error(`only ${(listed.requests as unknown[]).length} requests were listed`);
      await new Promise((r) => setTimeout(r, 50));
    }

    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      headless: true,
      viewport: { width: 1366, height: 768 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (message) => {
      if (message.type() === 'error') pageProblems.push(`console error: ${message.text()}`);
    });
    page.on('pageerror', (error) => pageProblems.push(`uncaught: ${error.message}`));
    page.on('requestfailed', (request) => pageProblems.push(`request failed: ${request.url()}`));
  });

  after(async () => {
    await context?.close();
    await stack?.close();
    for (const dir of [dataDir, profileDir]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  const shot = (name: string, fullPage = true) =>
    page.screenshot({ path: join(SCREENSHOTS, `dashboard-${name}.png`), fullPage });
  const text = async (locator: Locator) => ((await locator.textContent()) ?? '').trim();
  const perfRow = (model: string) => page.locator(`#perf-table tbody tr[data-model="${model}"]`);

  it('refuses a wrong key with a message that says what to do, and keeps the sign-in form', async () => {
    await page.goto(dashboardUrl);
    await page.getByLabel('API key or JWT').fill('rpx_not_a_real_key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await text(alert)).to.match(/refused.*sign in again/i);
    expect(await page.locator('#dashboard').isHidden()).to.equal(true);
    expect(await page.locator('#session').isHidden()).to.equal(true);
    expect(await page.evaluate('sessionStorage.length')).to.equal(0);
    // The 401 of that attempt is the one console error Chromium logs for a refused fetch; it was expected.
    const refused = pageProblems.filter((p) => /status of 401/.test(p));
    expect(refused).to.have.length.at.least(1);
    pageProblems.splice(0, pageProblems.length, ...pageProblems.filter((p) => !/status of 401/.test(p)));
  });

  it('signs in with the keyboard and shows the numbers the API returns', async () => {
    await page.goto(dashboardUrl);
    await shot('sign-in');
    // The credential field has the focus on load: type and press Enter, no mouse.
    await page.keyboard.type(stack.devApiKey);
    await page.keyboard.press('Enter');
    await page.locator('#dashboard').waitFor({ state: 'visible' });
    expect(await page.evaluate('sessionStorage.length')).to.equal(1);
    expect(await page.evaluate('localStorage.length')).to.equal(0);

    const learning = await api('GET', '/api/v1/insights/learning');
    const influence = learning.routing_influence as Json;
    expect(Number(influence.total_requests)).to.equal(PROMPTS.length);
    expect(await text(page.locator('#fig-total'))).to.equal(String(PROMPTS.length));
    expect(await text(page.locator('#fig-ratings'))).to.equal('0');

    // Model performance: every query type of the API is offered by its friendly name, and each type's table
    // lists the API's models with the API's request counts.
    const stats = (await api('GET', '/api/v1/insights/models')).model_stats as Json[];
    expect(stats.length).to.be.greaterThan(0);
    const types = [...new Set(stats.map((s) => s.query_type as string))];
    expect(types.length, 'the prompts should span several query types').to.be.greaterThan(1);
    const select = page.getByLabel('Query type', { exact: true });
    const optionLabels = await select.locator('option').allTextContents();
    expect(optionLabels).to.have.length(types.length);
    for (const label of optionLabels) expect(label).not.to.match(/QUERY_TYPE|_/);
    for (const type of types) {
      await select.selectOption(type);
      const expected = stats.filter((s) => s.query_type === type);
      const shown = await page
        .locator('#perf-table tbody tr')
        .evaluateAll((rows) =>
          rows.map((row) => [
            row.getAttribute('data-model'),
            row.children[2]?.textContent,
            row.children[3]?.textContent,
          ]),
        );
      expect(shown).to.deep.equal(
        expected.map((s) => [s.model, String(Number(s.request_count)), String(Number(s.rating_count))]),
      );
    }
    // A period shows the exact counts of that window, as the API computes them.
    const recent = (await api('GET', '/api/v1/insights/models?time_window=86400s')).model_stats as Json[];
    await page.getByLabel('Period').selectOption({ label: 'Last 24 hours' });
    await page.locator('#performance:not([aria-busy])').waitFor();
    const recentType = recent[0]!.query_type as string;
    await select.selectOption(recentType);
    const recentShown = await page
      .locator('#perf-table tbody tr')
      .evaluateAll((rows) =>
        rows.map((row) => [row.getAttribute('data-model'), row.children[2]?.textContent, row.children[5]?.textContent]),
      );
    expect(recentShown).to.deep.equal(
      recent
        .filter((s) => s.query_type === recentType)
        .map((s) => [s.model, String(Number(s.request_count)), format.formatLatency(s.latency_p50_ms)]),
    );
    await page.getByLabel('Period').selectOption({ label: 'All history (recent weighs more)' });

    // The charts were drawn and describe their numbers for screen readers.
    const qualityLabel = await page.locator('#chart-quality').getAttribute('aria-label');
    expect(qualityLabel).to.match(/^Average quality, .+: .+ \d\.\d\d/);

    // Stages, shown by name.
    const stageCells = await page.locator('#stage-table tbody td:nth-child(2)').allTextContents();
    expect(stageCells.length).to.be.greaterThan(0);
    for (const cell of stageCells) expect(cell).to.be.oneOf(['Cold start', 'Warming up', 'Established']);

    // Recommendations with their evidence, in the API's order (several code requests and no rating yet earn at
    // least a "rate more" suggestion).
    const recs = (await api('GET', '/api/v1/insights/recommendations')).recommendations as Json[];
    expect(recs.length).to.be.greaterThan(0);
    const items = page.locator('#rec-list > li');
    expect(await items.count()).to.equal(recs.length);
    for (let i = 0; i < recs.length; i++) {
      expect(await text(items.nth(i).locator('p').first())).to.equal(recs[i]!.message);
      expect(await text(items.nth(i).locator('.kind'))).not.to.match(/RECOMMENDATION_KIND|_/);
      expect(await text(items.nth(i).locator('.evidence'))).to.match(/^Evidence: \d+ requests?\b/);
    }

    // Recent requests: the API's newest page, metadata only (no prompt text anywhere on the page).
    const listed = (await api('GET', '/api/v1/insights/requests?page_size=10')).requests as Json[];
    const rowIds = await page
      .locator('#req-table tbody tr')
      .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-request-id')));
    expect(rowIds).to.deep.equal(listed.map((r) => r.request_id));
    const pageText = await page.locator('body').innerText();
    for (const prompt of PROMPTS) expect(pageText).not.to.include(prompt.slice(0, 30));

    // Older/newer pages.
    await page.getByRole('button', { name: 'Older' }).click();
    await page.waitForFunction(`document.getElementById('req-page').textContent === 'Page 2'`);
    expect(await page.locator('#req-table tbody tr').count()).to.equal(PROMPTS.length - 10);
    await page.getByRole('button', { name: 'Newer' }).click();
    await page.waitForFunction(`document.getElementById('req-page').textContent === 'Page 1'`);
    await shot('signed-in');
  });

  it('posts a rating and shows the statistics change', async () => {
    const entries = (await api('GET', '/api/v1/insights/requests?page_size=10')).requests as Json[];
    const target = entries.find((e) => e.kind === 'completion')!;
    const id = target.request_id as string;
    const before = ((await api('GET', '/api/v1/insights/models')).model_stats as Json[]).find(
      (s) => s.query_type === target.query_type && s.model === target.model,
    )!;
    await page.getByLabel('Query type', { exact: true }).selectOption(target.query_type as string);
    const row = perfRow(target.model as string);
    expect(await text(row.locator('td').nth(2))).to.equal(String(Number(before.rating_count)));
    const qualityBefore = await text(row.locator('td').nth(3));

    await page.getByLabel(new RegExp(`^Score for request ${id}`)).selectOption('5');
    await page.getByLabel(new RegExp(`^Was request ${id}.* helpful\\?$`)).selectOption('yes');
    await page.getByRole('button', { name: new RegExp(`^Save rating of request ${id}`) }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Rating saved for ${id}` })
      .waitFor();

    const after = ((await api('GET', '/api/v1/insights/models')).model_stats as Json[]).find(
      (s) => s.query_type === target.query_type && s.model === target.model,
    )!;
    expect(Number(after.rating_count)).to.equal(Number(before.rating_count) + 1);
    expect(await text(row.locator('td').nth(2))).to.equal(String(Number(after.rating_count)));
    expect(await text(row.locator('td').nth(3))).not.to.equal(qualityBefore);
    expect(await text(row.locator('td').nth(3))).to.match(new RegExp(`^${Number(after.avg_quality).toFixed(2)}`));
    expect(await text(page.locator('#fig-ratings'))).to.equal('1');
    expect(await text(page.locator(`#req-table tr[data-request-id="${id}"] td.rating`))).to.equal('5/5, helpful');
    await shot('rated');
  });

  it('saves two ratings given in quick succession, the second while the first is saved', async () => {
    const entries = (await api('GET', '/api/v1/insights/requests?page_size=10')).requests as Json[];
    const ids = entries
      .filter((e) => e.kind === 'completion' && e.rating_score === undefined && e.rating_is_helpful === undefined)
      .slice(0, 2)
      .map((e) => e.request_id as string);
    expect(ids).to.have.length(2);
    for (const id of ids) await page.getByLabel(new RegExp(`^Score for request ${id}`)).selectOption('4');
    // Both buttons in one task: the second click comes while the first rating and its reload are under way.
    await page.evaluate(
      `for (const id of ${JSON.stringify(ids)}) document.querySelector('form.rate[data-request-id="' + id + '"] button').click()`,
    );
    await page
      .getByRole('status')
      .filter({ hasText: `Rating saved for ${ids[1]}` })
      .waitFor();
    for (const id of ids)
      expect(await text(page.locator(`#req-table tr[data-request-id="${id}"] td.rating`)), id).to.equal('4/5');
    expect(await text(page.locator('#fig-ratings'))).to.equal('3');
  });

  it('deletes the learning data behind a confirmation and shows the reverted state', async () => {
    // Cancelling deletes nothing.
    await page.getByRole('button', { name: 'Delete my learning data…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete all learning data?' });
    await dialog.waitFor();
    // The modal covers the viewport: a full-page image would show it over a part of the page only.
    await shot('delete-confirmation', false);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(await text(page.locator('#fig-total'))).to.equal(String(PROMPTS.length));
    expect(((await api('GET', '/api/v1/insights/requests')).requests as unknown[]).length).to.equal(PROMPTS.length);

    await page.getByRole('button', { name: 'Delete my learning data…' }).click();
    await dialog.getByRole('button', { name: 'Delete everything' }).click();
    // A regular expression: a string would also match the case-insensitive "Nothing was deleted." left by the cancel.
    await page
      .getByRole('status')
      .filter({ hasText: /^Deleted / })
      .waitFor();
    expect(await text(page.getByRole('status'))).to.include(`Deleted ${PROMPTS.length} request records, 3 ratings`);

    expect(await text(page.locator('#fig-total'))).to.equal('0');
    expect(await text(page.locator('#fig-ratings'))).to.equal('0');
    expect(await page.locator('#perf-empty').isVisible()).to.equal(true);
    expect(await page.locator('#req-empty').isVisible()).to.equal(true);
    expect(await page.locator('#req-table tbody tr').count()).to.equal(0);
    const learning = await api('GET', '/api/v1/insights/learning');
    expect(learning.model_stats).to.deep.equal([]);
    for (const stage of learning.stages as Json[]) expect(stage.stage).to.equal('STAGE_COLD_START');
    await shot('deleted');
  });

  it('keeps the session across a reload and forgets the credential on sign-out', async () => {
    await page.reload();
    await page.locator('#dashboard').waitFor({ state: 'visible' });
    expect(await text(page.locator('#fig-total'))).to.equal('0');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('#sign-in').waitFor({ state: 'visible' });
    expect(await page.locator('#dashboard').isHidden()).to.equal(true);
    expect(await page.evaluate('sessionStorage.length')).to.equal(0);
    await page.reload();
    await page.locator('#sign-in').waitFor({ state: 'visible' });
    expect(await page.locator('#dashboard').isHidden()).to.equal(true);
  });

  it('logged no errors in the browser console', () => {
    expect(pageProblems).to.deep.equal([]);
  });
});

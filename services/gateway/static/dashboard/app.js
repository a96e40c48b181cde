// The Insights dashboard: signs in with an API key or JWT (kept in sessionStorage only), reads the public
// REST API and renders every section. Data is written with textContent only, never parsed as HTML.

/* global document, sessionStorage, CSS -- browser globals: this file runs in the page */

import { ApiClient, ApiError } from './api.js';
import { Charts } from './charts.js';
import {
  formatCost,
  formatCount,
  formatCountOf,
  formatDifference,
  formatLatency,
  formatPercent,
  formatQuality,
  formatQualityInterval,
  formatRating,
  formatTime,
  queryTypeName,
  queryTypeRank,
  recommendationKindName,
  stageDescription,
  stageName,
  toNumber,
  verdictName,
} from './format.js';

const STORAGE_KEY = 'routeplex.dashboard.credential';
const PAGE_SIZE = 10;

const state = {
  client: undefined,
  learning: undefined,
  modelStats: [],
  recommendations: [],
  requests: [],
  nextPageToken: '',
  // pageTokens[i] is the token that loads page i (page 0: the empty token), so "Newer" can step back.
  pageTokens: [''],
  pageIndex: 0,
  perfType: undefined,
  // Seconds of the Model performance period; 0 for all (decayed) history.
  perfWindow: 0,
  // The API action running or waiting: actions run one after another, in the order they were asked for.
  actions: Promise.resolve(),
};

const charts = new Charts(globalThis.Chart);

const $ = (id) => {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no element #${id}`);
  return found;
};

/** Creates an element; string children become text nodes, so data is never interpreted as markup. */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (name === 'className') node.className = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === undefined || child === null) continue;
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

function setStatus(text) {
  $('status').textContent = text;
}

function showError(error) {
  const box = $('error');
  box.textContent =
    error instanceof ApiError ? `${error.message} (${error.code})` : String(error?.message ?? error ?? 'unknown error');
  box.hidden = false;
}

function clearError() {
  const box = $('error');
  box.textContent = '';
  box.hidden = true;
}

// ---------------------------------------------------------------------------------------------------------
// Session

async function signIn(credential) {
  clearError();
  setStatus('Signing in…');
  state.client = new ApiClient('', credential);
  resetPaging();
  try {
    await loadAll();
  } catch (error) {
    state.client = undefined;
    sessionStorage.removeItem(STORAGE_KEY);
    setStatus('');
    if (error instanceof ApiError && error.code === 'UNAUTHENTICATED') {
      showError(
        new ApiError(error.code, `The API key or token was refused: ${error.message}. Check it and sign in again.`),
      );
    } else {
      showError(error);
    }
    return false;
  }
  sessionStorage.setItem(STORAGE_KEY, credential);
  $('credential').value = '';
  $('sign-in').hidden = true;
  $('session').hidden = false;
  $('session-label').textContent = credential.startsWith('rpx_') ? 'Signed in with an API key' : 'Signed in';
  $('dashboard').hidden = false;
  setStatus('Signed in.');
  render();
  return true;
}

function signOut(message) {
  sessionStorage.removeItem(STORAGE_KEY);
  state.client = undefined;
  state.learning = undefined;
  state.modelStats = [];
  state.recommendations = [];
  state.requests = [];
  state.perfWindow = 0;
  $('perf-window').value = '';
  charts.destroyAll();
  $('dashboard').hidden = true;
  $('session').hidden = true;
  $('sign-in').hidden = false;
  setStatus(message ?? 'Signed out.');
  $('credential').focus();
}

/**
 * Runs an API action after those already asked for (a rating saved while the page reloads waits for it
 * instead of being lost); a refused credential (expired token, revoked key) sends the reader back to sign-in.
 */
function guarded(action) {
  const run = state.actions.then(() => runAction(action));
  state.actions = run;
  return run;
}

async function runAction(action) {
  clearError();
  try {
    await action();
  } catch (error) {
    if (error instanceof ApiError && error.code === 'UNAUTHENTICATED') {
      signOut('');
      showError(new ApiError(error.code, `Your credential is no longer accepted: ${error.message}. Sign in again.`));
    } else {
      showError(error);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Data

async function loadAll() {
  const client = state.client;
  const [learning, models, recommendations, requests] = await Promise.all([
    client.getLearning(),
    client.listModelStats(state.perfWindow),
    client.listRecommendations(),
    client.listRequests(PAGE_SIZE, state.pageTokens[state.pageIndex]),
  ]);
  state.learning = learning;
  state.modelStats = models.model_stats ?? [];
  state.recommendations = recommendations.recommendations ?? [];
  state.requests = requests.requests ?? [];
  state.nextPageToken = requests.next_page_token ?? '';
}

async function loadRequestsPage() {
  const page = await state.client.listRequests(PAGE_SIZE, state.pageTokens[state.pageIndex]);
  state.requests = page.requests ?? [];
  state.nextPageToken = page.next_page_token ?? '';
}

function resetPaging() {
  state.pageTokens = [''];
  state.pageIndex = 0;
  state.nextPageToken = '';
}

// ---------------------------------------------------------------------------------------------------------
// Rendering

function render() {
  renderSummary();
  renderPerformance();
  renderEnhancement();
  renderInfluence();
  renderRecommendations();
  renderRequests();
}

function renderSummary() {
  const influence = state.learning?.routing_influence ?? {};
  $('fig-total').textContent = formatCount(influence.total_requests);
  $('fig-classified').textContent = formatPercent(influence.classified_fraction);
  $('fig-changed').textContent = formatPercent(influence.personal_changed_fraction);
  // Whole history, whatever period the Model performance section shows.
  const ratings = (state.learning?.model_stats ?? []).reduce((sum, row) => sum + toNumber(row.rating_count), 0);
  $('fig-ratings').textContent = formatCount(ratings);
  const computed = formatTime(state.learning?.compute_time);
  $('computed-at').textContent = computed ? `Computed ${computed}.` : '';
}

function renderPerformance() {
  const byType = new Map();
  for (const row of state.modelStats) {
    const list = byType.get(row.query_type) ?? [];
    list.push(row);
    byType.set(row.query_type, list);
  }
  const types = [...byType.keys()].sort((a, b) => queryTypeRank(a) - queryTypeRank(b));
  const empty = types.length === 0;
  const emptyBox = $('perf-empty');
  emptyBox.hidden = !empty;
  if (empty && state.perfWindow > 0) {
    emptyBox.textContent = 'No request in this period: choose a longer one.';
  } else if (empty) {
    emptyBox.replaceChildren(
      'No model statistics yet. Send chat completions with the model ',
      el('code', {}, 'routeplex-ai'),
      ' and they appear here.',
    );
  }
  $('perf-body').hidden = empty;
  $('perf-type-group').hidden = empty;
  const select = $('perf-type');
  if (!types.includes(state.perfType)) {
    // Start with the query type that has the most requests.
    const requestsOf = (t) => byType.get(t).reduce((sum, row) => sum + toNumber(row.request_count), 0);
    state.perfType = types.reduce(
      (best, t) => (best === undefined || requestsOf(t) > requestsOf(best) ? t : best),
      undefined,
    );
  }
  select.replaceChildren(
    ...types.map((t) => el('option', { value: t, selected: t === state.perfType }, queryTypeName(t))),
  );
  if (empty) {
    $('perf-table').tBodies[0].replaceChildren();
    // Only this section's charts: the enhancement and stage charts are drawn from other data.
    for (const id of PERFORMANCE_CHARTS) charts.destroy($(id));
    return;
  }
  const rows = byType.get(state.perfType);
  $('perf-caption').textContent =
    `${queryTypeName(state.perfType)}: ${rows.length} ${rows.length === 1 ? 'model' : 'models'}`;
  $('perf-table').tBodies[0].replaceChildren(
    ...rows.map((row) =>
      el(
        'tr',
        { 'data-model': row.model },
        el('th', { scope: 'row' }, row.model),
        el('td', {}, row.provider),
        el('td', { className: 'num' }, formatCount(row.request_count)),
        el('td', { className: 'num' }, formatCount(row.rating_count)),
        el('td', { className: 'num' }, formatQualityInterval(row.avg_quality, row.quality_interval)),
        el('td', { className: 'num' }, formatLatency(row.latency_p50_ms)),
        el('td', { className: 'num' }, formatLatency(row.latency_p95_ms)),
        el('td', { className: 'num' }, formatCost(row.avg_cost_usd)),
        el('td', { className: 'num' }, formatPercent(row.failure_rate)),
      ),
    ),
  );
  const labels = rows.map((row) => row.model);
  const type = queryTypeName(state.perfType);
  charts.bar($('chart-quality'), {
    title: `Average quality, ${type}`,
    labels,
    series: [{ label: 'Average quality', data: rows.map((r) => toNumber(r.avg_quality)) }],
    format: formatQuality,
    yMax: 1,
  });
  charts.bar($('chart-latency'), {
    title: `Latency, ${type}`,
    labels,
    series: [
      { label: 'p50', data: rows.map((r) => toNumber(r.latency_p50_ms)) },
      { label: 'p95', data: rows.map((r) => toNumber(r.latency_p95_ms)) },
    ],
    format: formatLatency,
  });
  charts.bar($('chart-cost'), {
    title: `Average cost per request, ${type}`,
    labels,
    series: [{ label: 'Average cost', data: rows.map((r) => toNumber(r.avg_cost_usd)) }],
    format: formatCost,
  });
  charts.bar($('chart-counts'), {
    title: `Requests and ratings, ${type}`,
    labels,
    series: [
      { label: 'Requests', data: rows.map((r) => toNumber(r.request_count)) },
      { label: 'Ratings', data: rows.map((r) => toNumber(r.rating_count)) },
    ],
    format: formatCount,
    integer: true,
  });
}

function renderEnhancement() {
  const effects = [...(state.learning?.enhancement ?? [])].sort(
    (a, b) => queryTypeRank(a.query_type) - queryTypeRank(b.query_type),
  );
  const empty = effects.length === 0;
  $('enh-empty').hidden = !empty;
  $('enh-body').hidden = empty;
  $('enh-table').tBodies[0].replaceChildren(
    ...effects.map((e) =>
      el(
        'tr',
        {},
        el('th', { scope: 'row' }, queryTypeName(e.query_type)),
        el('td', { className: 'num' }, formatCount(e.enhanced_count)),
        el('td', { className: 'num' }, formatCount(e.plain_count)),
        el('td', { className: 'num' }, sideQuality(e.enhanced_count, e.enhanced_quality)),
        el('td', { className: 'num' }, sideQuality(e.plain_count, e.plain_quality)),
        el(
          'td',
          { className: 'num' },
          bothSides(e)
            ? `${formatDifference(e.difference)} (${formatDifference(e.interval_low)} to ${formatDifference(e.interval_high)})`
            : NONE,
        ),
        el('td', {}, verdictName(e.verdict)),
      ),
    ),
  );
  if (empty) return;
  charts.bar($('chart-enhancement'), {
    title: 'Average quality with and without enhancement',
    labels: effects.map((e) => queryTypeName(e.query_type)),
    series: [
      // A side with no request has no quality: no bar rather than a bar at zero.
      {
        label: 'Enhanced',
        data: effects.map((e) => (toNumber(e.enhanced_count) > 0 ? toNumber(e.enhanced_quality) : null)),
      },
      { label: 'Plain', data: effects.map((e) => (toNumber(e.plain_count) > 0 ? toNumber(e.plain_quality) : null)) },
    ],
    format: formatQuality,
    yMax: 1,
  });
}

const NONE = '\u2014';

/** The mean quality of one side of the comparison, or a dash when that side has no request. */
function sideQuality(count, quality) {
  return toNumber(count) > 0 ? formatQuality(quality) : NONE;
}

function bothSides(effect) {
  return toNumber(effect.enhanced_count) > 0 && toNumber(effect.plain_count) > 0;
}

function renderInfluence() {
  const stages = [...(state.learning?.stages ?? [])].sort(
    (a, b) => queryTypeRank(a.query_type) - queryTypeRank(b.query_type),
  );
  $('stage-empty').hidden = stages.length > 0;
  $('stage-table').hidden = stages.length === 0;
  $('stage-table').tBodies[0].replaceChildren(
    ...stages.map((s) =>
      el(
        'tr',
        {},
        el('th', { scope: 'row' }, queryTypeName(s.query_type)),
        el('td', { title: stageDescription(s.stage) }, stageName(s.stage)),
        el('td', { className: 'num' }, formatPercent(s.personal_weight)),
        el('td', { className: 'num' }, formatCount(s.ratings_to_next_stage)),
      ),
    ),
  );
  const byStage = (state.learning?.routing_influence?.by_stage ?? []).filter((s) => toNumber(s.request_count) > 0);
  $('stages-chart').hidden = byStage.length === 0;
  $('stages-chart-empty').hidden = byStage.length > 0;
  charts.doughnut($('chart-stages'), {
    title: 'Automatically routed requests by stage',
    labels: byStage.map((s) => stageName(s.stage)),
    data: byStage.map((s) => toNumber(s.request_count)),
    format: formatCount,
  });
}

function renderRecommendations() {
  const list = state.recommendations;
  $('rec-empty').hidden = list.length > 0;
  $('rec-list').replaceChildren(
    ...list.map((r) => {
      const subject = [
        r.query_type && r.query_type !== 'QUERY_TYPE_UNSPECIFIED' ? queryTypeName(r.query_type) : undefined,
        r.model ? (r.baseline_model ? `${r.model} instead of ${r.baseline_model}` : r.model) : undefined,
      ]
        .filter(Boolean)
        .join(' · ');
      return el(
        'li',
        {},
        el('span', { className: 'kind' }, recommendationKindName(r.kind)),
        subject ? el('span', { className: 'muted' }, subject) : undefined,
        el('p', {}, r.message ?? ''),
        el('p', { className: 'evidence' }, evidenceText(r.evidence ?? {})),
      );
    }),
  );
}

/** The numbers behind a recommendation, in one sentence, naming only those that apply. */
function evidenceText(e) {
  const parts = [];
  const sample = toNumber(e.sample_size);
  const baseline = toNumber(e.baseline_sample_size);
  if (sample > 0) {
    parts.push(
      baseline > 0
        ? `Evidence: ${formatCountOf(sample, 'request')} against ${formatCount(baseline)}`
        : `Evidence: ${formatCountOf(sample, 'request')}`,
    );
  }
  if (toNumber(e.quality_difference) !== 0 || toNumber(e.interval_low) !== 0 || toNumber(e.interval_high) !== 0) {
    parts.push(
      `quality difference ${formatDifference(e.quality_difference)} (95% interval ${formatDifference(e.interval_low)} to ${formatDifference(e.interval_high)})`,
    );
  }
  if (toNumber(e.savings_per_1k_usd) > 0) parts.push(`saves ${formatCost(e.savings_per_1k_usd)} per 1,000 requests`);
  if (toNumber(e.failure_rate) > 0) parts.push(`failure rate ${formatPercent(e.failure_rate)}`);
  return parts.length === 0 ? 'Evidence: none reported.' : parts.join('; ') + '.';
}

function renderRequests() {
  const entries = state.requests;
  const empty = entries.length === 0 && state.pageIndex === 0;
  $('req-empty').hidden = !empty;
  $('req-body').hidden = empty;
  $('req-table').tBodies[0].replaceChildren(...entries.map(requestRow));
  $('req-newer').disabled = state.pageIndex === 0;
  $('req-older').disabled = state.nextPageToken === '';
  $('req-page').textContent = empty ? '' : `Page ${state.pageIndex + 1}`;
}

function requestRow(entry) {
  const id = entry.request_id;
  const time = formatTime(entry.create_time);
  return el(
    'tr',
    { 'data-request-id': id },
    el('td', {}, el('time', { datetime: entry.create_time ?? '' }, time)),
    el('td', {}, queryTypeName(entry.query_type)),
    el('td', { title: entry.provider ? `provider: ${entry.provider}` : undefined }, entry.model),
    el('td', { className: 'num' }, formatLatency(entry.latency_ms)),
    el('td', { className: 'num' }, `${formatCount(entry.prompt_tokens)} / ${formatCount(entry.completion_tokens)}`),
    el('td', { className: 'num' }, formatCost(entry.cost_usd)),
    el('td', { className: 'num' }, formatQuality(entry.heuristic_quality)),
    el('td', { className: 'rating' }, formatRating(entry.rating_score, entry.rating_is_helpful)),
    el(
      'td',
      {},
      entry.kind === 'selection' ? el('span', { className: 'muted' }, 'Routing decision only') : rateForm(entry, time),
    ),
  );
}

function rateForm(entry, time) {
  const id = entry.request_id;
  const who = `request ${id}${time ? ` of ${time}` : ''}`;
  const score = el(
    'select',
    { name: 'score', 'aria-label': `Score for ${who}` },
    el('option', { value: '' }, 'Score'),
    ...[
      [1, '1 (bad)'],
      [2, '2'],
      [3, '3'],
      [4, '4'],
      [5, '5 (excellent)'],
    ].map(([value, text]) => el('option', { value, selected: entry.rating_score === value }, text)),
  );
  const helpful = el(
    'select',
    { name: 'helpful', 'aria-label': `Was ${who} helpful?` },
    el('option', { value: '' }, 'Helpful?'),
    el('option', { value: 'yes', selected: entry.rating_is_helpful === true }, 'Helpful'),
    el('option', { value: 'no', selected: entry.rating_is_helpful === false }, 'Not helpful'),
  );
  const button = el('button', { type: 'submit', 'aria-label': `Save rating of ${who}` }, 'Rate');
  const form = el('form', { className: 'rate', 'data-request-id': id }, score, helpful, button);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const rating = { request_id: id };
    if (score.value !== '') rating.score = Number(score.value);
    if (helpful.value !== '') rating.is_helpful = helpful.value === 'yes';
    if (rating.score === undefined && rating.is_helpful === undefined) {
      showError(new Error(`Choose a score from 1 to 5 or whether the answer helped, then press Rate (${id}).`));
      score.focus();
      return;
    }
    void guarded(async () => {
      button.disabled = true;
      const answer = await state.client.submitFeedback(rating);
      await loadAll();
      render();
      const replaced = answer.replaced_previous ? ' It replaces the earlier rating.' : '';
      setStatus(`Rating saved for ${id} (${answer.model || entry.model}).${replaced}`);
      // Keep keyboard users where they were: the rows were rebuilt.
      document.querySelector(`form.rate[data-request-id="${CSS.escape(id)}"] button`)?.focus();
    }).finally(() => {
      button.disabled = false;
    });
  });
  return form;
}

// ---------------------------------------------------------------------------------------------------------
// Wiring

const PERFORMANCE_CHARTS = ['chart-quality', 'chart-latency', 'chart-cost', 'chart-counts'];

function wire() {
  $('sign-in-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const credential = $('credential').value.trim();
    if (credential === '') {
      showError(new Error('Enter an API key (rpx_…) or a JWT of your account.'));
      return;
    }
    void signIn(credential);
  });
  $('sign-out').addEventListener('click', () => signOut());
  $('refresh').addEventListener('click', () =>
    guarded(async () => {
      await loadAll();
      render();
      setStatus('Refreshed.');
    }),
  );
  $('perf-window').addEventListener('change', (event) =>
    guarded(async () => {
      const section = $('performance');
      section.setAttribute('aria-busy', 'true');
      try {
        state.perfWindow = Number(event.target.value) || 0;
        const models = await state.client.listModelStats(state.perfWindow);
        state.modelStats = models.model_stats ?? [];
        renderPerformance();
      } finally {
        section.removeAttribute('aria-busy');
      }
    }),
  );
  $('perf-type').addEventListener('change', (event) => {
    state.perfType = event.target.value;
    renderPerformance();
  });
  $('req-older').addEventListener('click', () =>
    guarded(async () => {
      if (state.nextPageToken === '') return;
      state.pageTokens[state.pageIndex + 1] = state.nextPageToken;
      state.pageIndex += 1;
      await loadRequestsPage();
      renderRequests();
    }),
  );
  $('req-newer').addEventListener('click', () =>
    guarded(async () => {
      if (state.pageIndex === 0) return;
      state.pageIndex -= 1;
      await loadRequestsPage();
      renderRequests();
    }),
  );
  const dialog = $('delete-dialog');
  $('delete-open').addEventListener('click', () => {
    dialog.returnValue = '';
    dialog.showModal();
  });
  dialog.addEventListener('close', () => {
    if (dialog.returnValue !== 'delete') {
      setStatus('Nothing was deleted.');
      return;
    }
    void guarded(async () => {
      setStatus('Deleting…');
      const erased = await state.client.deleteLearningData();
      resetPaging();
      state.perfType = undefined;
      await loadAll();
      render();
      setStatus(
        `Deleted ${formatCountOf(erased.deleted_entries, 'request record')}, ${formatCountOf(erased.deleted_ratings, 'rating')} ` +
          `and ${formatCountOf(erased.deleted_cells, 'statistics cell')}. Routing for your account now follows global patterns.`,
      );
    });
  });
}

wire();
if (!charts.available) {
  showError(new Error('The chart library did not load (vendor/chart.js): the tables still show every figure.'));
}
const saved = sessionStorage.getItem(STORAGE_KEY);
if (saved) void signIn(saved);
else $('credential').focus();

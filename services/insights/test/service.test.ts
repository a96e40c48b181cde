import { expect } from 'chai';
import { status } from '@grpc/grpc-js';
import { insightsV1, typeV1 } from '@routeplex/contracts';
import { ratingDelta, type ScoringConfig } from '@routeplex/scoring';
import type { GlobalCell, RequestEntry, Store } from '@routeplex/store';
import { startInsightsService, type RunningInsightsService } from '../src/index.js';
import {
  account,
  authenticatorFor,
  backends,
  bearer,
  completion,
  failure,
  insecure,
  record,
  scoring,
  silentLogger,
  unary,
} from '@routeplex/testkit';

const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;
const { QueryType } = typeV1;

type Client = insightsV1.InsightsServiceClient;
/** Request messages by method, so that a test gives only the fields it cares about. */
const REQUESTS: Record<string, { fromPartial(o: object): object }> = {
  getLearningDashboard: insightsV1.GetLearningDashboardRequest,
  listModelStats: insightsV1.ListModelStatsRequest,
  listRecommendations: insightsV1.ListRecommendationsRequest,
  listRequests: insightsV1.ListRequestsRequest,
  deleteLearningData: insightsV1.DeleteLearningDataRequest,
};
const call = <Res>(client: Client, method: string, key: string, request: object = {}) =>
  unary<object, Res>(client, method, REQUESTS[method]!.fromPartial(request), bearer(key));

async function serve(
  store: Store,
  cfg: ScoringConfig = scoring,
): Promise<{ service: RunningInsightsService; client: Client }> {
  const service = await startInsightsService({
    store,
    authenticator: authenticatorFor(store),
    logger: silentLogger,
    host: '127.0.0.1',
    port: 0,
    scoring: cfg,
    catalog: { lookup: (id) => (id.startsWith('model-') ? { provider: 'sim' } : undefined) },
  });
  return { service, client: new insightsV1.InsightsServiceClient(`127.0.0.1:${service.port}`, insecure) };
}

/** Rates an entry through the store the way FeedbackService does (heuristic replaced by the rating). */
async function rate(store: Store, entry: RequestEntry, score: number): Promise<void> {
  const quality = (score - 1) / 4;
  await store.rateRequest(entry.accountId, entry.id, (e, previous) => ({
    rating: { score, isHelpful: null, quality },
    cellDelta: ratingDelta(
      {
        request: {
          heuristicQuality: e.heuristicQuality as number,
          latencyMs: e.latencyMs,
          costUsd: e.costUsd,
          atMs: e.createdAt.getTime(),
        },
        previousRatingQuality: previous?.quality,
        newRatingQuality: quality,
      },
      scoring,
    ),
  }));
}

/** Every row of every table that names the account, as "table: row". */
async function rowsOf(store: Store, accountId: string): Promise<string[]> {
  const dump = await store.dumpAll();
  const out: string[] = [];
  for (const [table, rows] of Object.entries(dump)) {
    for (const row of rows) if (JSON.stringify(row).includes(accountId)) out.push(`${table}: ${JSON.stringify(row)}`);
  }
  return out;
}

function expectGlobalCellsClose(actual: GlobalCell[], expected: GlobalCell[]): void {
  expect(actual.map((c) => `${c.queryType}/${c.model}/${c.contributors}`)).to.deep.equal(
    expected.map((c) => `${c.queryType}/${c.model}/${c.contributors}`),
  );
  actual.forEach((a, i) => {
    const e = expected[i]!;
    for (const f of ['n', 'q', 'q2', 'requests', 'ratings', 'failures', 'latencyMs', 'costUsd'] as const)
      expect(Math.abs(a[f] - e[f]), `${a.queryType}/${a.model}.${f}`).to.be.at.most(1e-9 * Math.max(1, Math.abs(e[f])));
    for (let j = 0; j < Math.max(a.latencyHist.length, e.latencyHist.length); j++)
      expect(Math.abs((a.latencyHist[j] ?? 0) - (e.latencyHist[j] ?? 0))).to.be.at.most(
        1e-9 * Math.max(1, Math.abs(e.latencyHist[j] ?? 0)),
      );
  });
}

/** One start time for every history of the run, so that two stores given the same history hold the same sums. */
const T0 = Date.now();
const shared = (accountId: string, i: number, overrides: Partial<RequestEntry> = {}) =>
  completion(accountId, {
    createdAt: new Date(T0 - (i + 1) * HOUR),
    heuristicQuality: 0.4 + (i % 5) * 0.1,
    latencyMs: 300 + i * 37,
    costUsd: 0.0001 * (1 + i),
    ...overrides,
  });

for (const backend of backends('insights')) {
  describe(`InsightsService over gRPC (${backend.name})`, function () {
    this.timeout(60_000);
    let store: Store;
    let service: RunningInsightsService;
    let client: Client;
    let alice: { id: string; key: string };
    let bob: { id: string; key: string };
    const aliceEntries: RequestEntry[] = [];

    before(async () => {
      store = await backend.open();
      ({ service, client } = await serve(store));
      alice = await account(store, 'alice');
      bob = await account(store, 'bob');
      for (let i = 0; i < 12; i++)
        aliceEntries.push(
          shared(alice.id, i, { queryType: i < 8 ? 'math' : 'factual', model: i % 2 === 0 ? 'model-a' : 'model-b' }),
        );
      // An old one, outside any short window; and a selection, which has no answer to measure.
      aliceEntries.push(
        shared(alice.id, 0, {
          createdAt: new Date(T0 - 10 * DAY),
          queryType: 'math',
          model: 'model-a',
          heuristicQuality: 0.1,
        }),
      );
      aliceEntries.push(
        shared(alice.id, 0, {
          kind: 'selection',
          heuristicQuality: null,
          latencyMs: 0,
          costUsd: 0,
          completionTokens: 0,
          queryType: 'math',
        }),
      );
      await record(store, aliceEntries);
      await record(store, [shared(bob.id, 0, { queryType: 'creative', model: 'model-secret' })]);
      await rate(store, aliceEntries[0]!, 5);
    });

    after(async () => {
      client?.close();
      await service?.close();
      await backend.close();
    });

    it('requires a credential', async () => {
      const err = await failure(
        new Promise((resolve, reject) => client.getLearningDashboard({}, (e, v) => (e ? reject(e) : resolve(v)))),
      );
      expect(err.code).to.equal(status.UNAUTHENTICATED);
    });

    it('GetLearningDashboard describes the caller’s learning from cells and counters', async () => {
      const dash = await call<insightsV1.GetLearningDashboardResponse>(client, 'getLearningDashboard', alice.key);
      const rows = dash.modelStats.map(
        (r) => `${r.queryType}/${r.model}/${r.provider}/${r.requestCount}/${r.ratingCount}`,
      );
      expect(rows).to.have.members([
        `${QueryType.QUERY_TYPE_MATH}/model-a/sim/5/1`,
        `${QueryType.QUERY_TYPE_MATH}/model-b/sim/4/0`,
        `${QueryType.QUERY_TYPE_FACTUAL}/model-a/sim/2/0`,
        `${QueryType.QUERY_TYPE_FACTUAL}/model-b/sim/2/0`,
      ]);
      expect(dash.routingInfluence!.totalRequests).to.equal('14');
      expect(dash.routingInfluence!.classifiedFraction).to.equal(1);
      expect(dash.stages).to.have.length(12);
      const math = dash.stages.find((s) => s.queryType === QueryType.QUERY_TYPE_MATH)!;
      expect(math.stage).to.be.oneOf([typeV1.Stage.STAGE_WARM_UP, typeV1.Stage.STAGE_ESTABLISHED]);
      expect(dash.enhancement.map((e) => e.queryType)).to.have.members([
        QueryType.QUERY_TYPE_MATH,
        QueryType.QUERY_TYPE_FACTUAL,
      ]);
      expect(dash.computeTime).to.be.instanceOf(Date);
    });

    it('ListModelStats filters by query type, and a time window gives exact counts from the entries', async () => {
      const factual = await call<insightsV1.ListModelStatsResponse>(client, 'listModelStats', alice.key, {
        queryType: QueryType.QUERY_TYPE_FACTUAL,
      });
      expect(factual.modelStats.map((r) => r.queryType)).to.deep.equal([
        QueryType.QUERY_TYPE_FACTUAL,
        QueryType.QUERY_TYPE_FACTUAL,
      ]);

      const windowed = await call<insightsV1.ListModelStatsResponse>(client, 'listModelStats', alice.key, {
        queryType: QueryType.QUERY_TYPE_MATH,
        timeWindow: { seconds: String(2 * 24 * 3600), nanos: 0 },
      });
      const a = windowed.modelStats.find((r) => r.model === 'model-a')!;
      // math on model-a inside two days: entries 0, 2, 4, 6 (the 10-day-old one is outside); entry 0 rated 5.
      const inWindow = [0, 2, 4, 6].map((i) => aliceEntries[i]!);
      expect(a.requestCount).to.equal('4');
      expect(a.ratingCount).to.equal('1');
      const weights = inWindow.map((_, i) => (i === 0 ? scoring.ratingWeight : 1));
      const qualities = inWindow.map((e, i) => (i === 0 ? 1 : (e.heuristicQuality as number)));
      const mean = weights.reduce((s, w, i) => s + w * qualities[i]!, 0) / weights.reduce((s, w) => s + w, 0);
      expect(a.avgQuality).to.be.closeTo(mean, 1e-12);
      const latencies = inWindow.map((e) => e.latencyMs).sort((x, y) => x - y);
      expect(a.latencyP50Ms).to.be.closeTo((latencies[1]! + latencies[2]!) / 2, 1e-9);
      expect(a.avgCostUsd).to.be.closeTo(inWindow.reduce((s, e) => s + e.costUsd, 0) / 4, 1e-15);
      expect(a.provider).to.equal('sim');
    });

    it('ListModelStats refuses a negative, over-long or malformed window and an unknown query type', async () => {
      const negative = await failure(
        call(client, 'listModelStats', alice.key, { timeWindow: { seconds: '-5', nanos: 0 } }),
      );
      expect(negative.code).to.equal(status.INVALID_ARGUMENT);
      expect(negative.details).to.match(/^time_window must not be negative/);
      const long = await failure(
        call(client, 'listModelStats', alice.key, { timeWindow: { seconds: String(366 * 24 * 3600), nanos: 0 } }),
      );
      expect(long.code).to.equal(status.INVALID_ARGUMENT);
      expect(long.details).to.match(/^time_window is longer than 365 days/);
      const nanos = await failure(
        call(client, 'listModelStats', alice.key, { timeWindow: { seconds: '0', nanos: 2_000_000_000 } }),
      );
      expect(nanos.code).to.equal(status.INVALID_ARGUMENT);
      expect(nanos.details).to.match(/^time_window.nanos must be below 1,000,000,000/);
      const unknown = await failure(call(client, 'listModelStats', alice.key, { queryType: 99 }));
      expect(unknown.code).to.equal(status.INVALID_ARGUMENT);
      expect(unknown.details).to.match(/^query_type 99 is unknown/);
    });

    it('ListRequests pages through the caller’s requests newest first with an opaque token', async () => {
      const seen: insightsV1.RequestEntry[] = [];
      let token = '';
      let pages = 0;
      do {
        const page = await call<insightsV1.ListRequestsResponse>(client, 'listRequests', alice.key, {
          pageSize: 5,
          pageToken: token,
        });
        expect(page.requests.length).to.be.at.most(5);
        seen.push(...page.requests);
        token = page.nextPageToken;
        pages++;
      } while (token !== '');
      expect(pages).to.equal(3);
      expect(seen.map((r) => r.requestId)).to.have.members(aliceEntries.map((e) => e.id));
      const times = seen.map((r) => r.createTime!.getTime());
      expect(times).to.deep.equal([...times].sort((x, y) => y - x));
      const rated = seen.find((r) => r.requestId === aliceEntries[0]!.id)!;
      expect(rated.ratingScore).to.equal(5);
      expect(rated.stage).to.equal(typeV1.Stage.STAGE_COLD_START);
      const selection = seen.find((r) => r.kind === 'selection')!;
      expect(selection.ratingScore).to.equal(undefined);

      const bad = await failure(call(client, 'listRequests', alice.key, { pageToken: 'not-a-token' }));
      expect(bad.code).to.equal(status.INVALID_ARGUMENT);
      expect(bad.details).to.match(/page_token/);
      const negative = await failure(call(client, 'listRequests', alice.key, { pageSize: -1 }));
      expect(negative.code).to.equal(status.INVALID_ARGUMENT);
      expect(negative.details).to.match(/^page_size must not be negative/);
    });

    it('answers every rpc with the caller’s data only', async () => {
      const [dashboard, stats, windowed, recs, requests] = await Promise.all([
        call<insightsV1.GetLearningDashboardResponse>(client, 'getLearningDashboard', bob.key),
        call<insightsV1.ListModelStatsResponse>(client, 'listModelStats', bob.key),
        call<insightsV1.ListModelStatsResponse>(client, 'listModelStats', bob.key, {
          timeWindow: { seconds: String(30 * 24 * 3600), nanos: 0 },
        }),
        call<insightsV1.ListRecommendationsResponse>(client, 'listRecommendations', bob.key),
        call<insightsV1.ListRequestsResponse>(client, 'listRequests', bob.key, { pageSize: 500 }),
      ]);
      expect(dashboard.modelStats.map((r) => r.model)).to.deep.equal(['model-secret']);
      expect(dashboard.routingInfluence!.totalRequests).to.equal('1');
      expect(stats.modelStats.map((r) => r.model)).to.deep.equal(['model-secret']);
      expect(windowed.modelStats.map((r) => r.model)).to.deep.equal(['model-secret']);
      expect(requests.requests).to.have.length(1);
      const text = JSON.stringify({ dashboard, stats, windowed, recs, requests });
      expect(text).not.to.contain('model-a');
      expect(text).not.to.contain('model-b');
      for (const e of aliceEntries) expect(text).not.to.contain(e.id);

      // Alice's paging token gives Bob nothing of hers.
      const alicePage = await call<insightsV1.ListRequestsResponse>(client, 'listRequests', alice.key, { pageSize: 2 });
      const bobWithAliceToken = await call<insightsV1.ListRequestsResponse>(client, 'listRequests', bob.key, {
        pageToken: alicePage.nextPageToken,
      });
      for (const r of bobWithAliceToken.requests) expect(aliceEntries.map((e) => e.id)).not.to.include(r.requestId);

      // Bob erasing his data leaves Alice's untouched.
      const before = await rowsOf(store, alice.id);
      const erased = await call<insightsV1.DeleteLearningDataResponse>(client, 'deleteLearningData', bob.key);
      expect(erased).to.deep.equal({ deletedEntries: '1', deletedRatings: '0', deletedCells: '1' });
      expect(await rowsOf(store, alice.id)).to.deep.equal(before);
    });

    const others = ['x', 'y', 'z'];

    /** The same history in any store: three other accounts and, when asked, the account to be erased. */
    async function history(store: Store, withDoomed: boolean) {
      const ids: Record<string, { id: string; key: string }> = {};
      for (const name of others) ids[name] = await account(store, name);
      const writes: RequestEntry[] = [];
      others.forEach((name, n) => {
        for (let i = 0; i < 6; i++)
          writes.push(
            shared(ids[name]!.id, i + n, {
              queryType: 'analysis',
              model: i % 2 ? 'model-a' : 'model-b',
              id: `req_${name}${'0'.repeat(10)}${i}`,
            }),
          );
      });
      let doomed: { id: string; key: string } | undefined;
      if (withDoomed) {
        doomed = await account(store, 'doomed');
        for (let i = 0; i < 8; i++)
          writes.push(
            shared(doomed.id, i, {
              queryType: i < 5 ? 'analysis' : 'summarization',
              model: i % 3 ? 'model-a' : 'model-only-doomed',
            }),
          );
      }
      await record(store, writes);
      // Ratings by the other accounts are part of both histories; the doomed account rates too.
      await rate(store, writes[0]!, 2);
      if (doomed) {
        const mine = writes.filter((w) => w.accountId === doomed!.id);
        await rate(store, mine[0]!, 5);
        await rate(store, mine[1]!, 1);
      }
      return { ids, doomed };
    }

    it('erases every row of the account and leaves global cells as if it had never existed', async () => {
      // The suite's store holds this history on top of the others'; a second database holds it without the account.
      const storeWith = store;
      const withoutBackend = backends('insights').find((b) => b.name === backend.name)!;
      const storeWithout = await withoutBackend.open();
      try {
        const { doomed } = await history(storeWith, true);
        await history(storeWithout, false);
        const { service, client } = await serve(storeWith);
        try {
          expect(await rowsOf(storeWith, doomed!.id)).not.to.deep.equal([]);
          const erased = await call<insightsV1.DeleteLearningDataResponse>(client, 'deleteLearningData', doomed!.key);
          expect(erased).to.deep.equal({ deletedEntries: '8', deletedRatings: '2', deletedCells: '4' });
          // The accounts and api_keys tables keep the account itself (it may still sign in), nothing it learned.
          const left = (await rowsOf(storeWith, doomed!.id)).filter(
            (r) => !r.startsWith('accounts:') && !r.startsWith('api_keys:'),
          );
          expect(left).to.deep.equal([]);
          const historyTypes = (cells: GlobalCell[]) =>
            cells.filter((c) => c.queryType === 'analysis' || c.queryType === 'summarization');
          expectGlobalCellsClose(
            historyTypes(await storeWith.loadGlobalCells()),
            historyTypes(await storeWithout.loadGlobalCells()),
          );

          const dash = await call<insightsV1.GetLearningDashboardResponse>(client, 'getLearningDashboard', doomed!.key);
          expect(dash.modelStats).to.deep.equal([]);
          expect(dash.routingInfluence!.totalRequests).to.equal('0');
          const again = await call<insightsV1.DeleteLearningDataResponse>(client, 'deleteLearningData', doomed!.key);
          expect(again).to.deep.equal({ deletedEntries: '0', deletedRatings: '0', deletedCells: '0' });
        } finally {
          client.close();
          await service.close();
        }
      } finally {
        await withoutBackend.close();
      }
    });

    it('shows a global pattern only once K accounts back it', async () => {
      {
        // The caller has used an expensive model a lot; a cheaper one of equal quality is known globally.
        const caller = await account(store, 'caller');
        const writes: RequestEntry[] = [];
        for (let i = 0; i < 25; i++)
          writes.push(
            shared(caller.id, i, {
              queryType: 'extraction',
              model: 'model-pricey',
              costUsd: 0.01,
              heuristicQuality: 0.7 + (i % 2) * 0.1,
            }),
          );
        await record(store, writes);
        const contributors: { id: string }[] = [caller];
        const { service, client } = await serve(store);
        try {
          const addContributor = async (name: string) => {
            const acc = await account(store, name);
            contributors.push(acc);
            const mine: RequestEntry[] = [];
            for (let i = 0; i < 30; i++)
              mine.push(
                shared(acc.id, i, {
                  queryType: 'extraction',
                  model: i % 2 ? 'model-cheap' : 'model-pricey',
                  costUsd: i % 2 ? 0.001 : 0.01,
                  heuristicQuality: 0.7 + ((i >> 1) % 2) * 0.1,
                }),
              );
            await record(store, mine);
          };
          await addContributor('helper1');
          await addContributor('helper2');
          // model-cheap has 2 contributors (K = 3): nothing about it may appear.
          const hidden = await call<insightsV1.ListRecommendationsResponse>(client, 'listRecommendations', caller.key);
          expect(JSON.stringify(hidden)).not.to.contain('model-cheap');
          const dashHidden = await call<insightsV1.GetLearningDashboardResponse>(
            client,
            'getLearningDashboard',
            caller.key,
          );
          expect(JSON.stringify(dashHidden)).not.to.contain('model-cheap');

          await addContributor('helper3');
          const shown = await call<insightsV1.ListRecommendationsResponse>(client, 'listRecommendations', caller.key);
          const rec = shown.recommendations.find((r) => r.model === 'model-cheap');
          expect(rec, JSON.stringify(shown)).to.not.equal(undefined);
          expect(rec!.kind).to.equal(insightsV1.RecommendationKind.RECOMMENDATION_KIND_SWITCH_MODEL);
          expect(rec!.baselineModel).to.equal('model-pricey');
          expect(rec!.message).to.match(/across accounts/);
        } finally {
          client.close();
          await service.close();
        }
      }
    });
  });
}

import { expect } from 'chai';
import { status } from '@grpc/grpc-js';
import { feedbackV1 } from '@routeplex/contracts';
import { addCells, emptyCell, ratedRequestCell, requestCell, type CellSums } from '@routeplex/scoring';
import type { RequestEntry, Store } from '@routeplex/store';
import { startFeedbackService, type RunningFeedbackService } from '../src/index.js';
import {
  account,
  authenticatorFor,
  backends,
  bearer,
  completion,
  failure,
  insecure,
  record,
  routerWrite,
  scoring,
  silentLogger,
  unary,
} from '@routeplex/testkit';

type Req = Partial<feedbackV1.SubmitFeedbackRequest>;
const DAY = 24 * 3600 * 1000;

function expectCellsClose(actual: CellSums, expected: CellSums): void {
  const close = (a: number, e: number, field: string) =>
    expect(Math.abs(a - e), `${field}: ${a} vs ${e}`).to.be.at.most(1e-9 * Math.max(1, Math.abs(e)));
  for (const f of ['n', 'q', 'q2', 'requests', 'ratings', 'failures', 'latencyMs', 'costUsd'] as const)
    close(actual[f], expected[f], f);
  for (let i = 0; i < Math.max(actual.latencyHist.length, expected.latencyHist.length); i++)
    close(actual.latencyHist[i] ?? 0, expected.latencyHist[i] ?? 0, `latencyHist[${i}]`);
}

const heuristicOf = (e: RequestEntry) =>
  requestCell(
    {
      heuristicQuality: e.heuristicQuality as number,
      latencyMs: e.latencyMs,
      costUsd: e.costUsd,
      atMs: e.createdAt.getTime(),
    },
    scoring,
  );
const ratedOf = (e: RequestEntry, quality: number) =>
  ratedRequestCell(
    {
      heuristicQuality: e.heuristicQuality as number,
      latencyMs: e.latencyMs,
      costUsd: e.costUsd,
      atMs: e.createdAt.getTime(),
    },
    quality,
    scoring,
  );

for (const backend of backends('feedback')) {
  describe(`FeedbackService over gRPC (${backend.name})`, function () {
    this.timeout(60_000);
    let store: Store;
    let service: RunningFeedbackService;
    let client: feedbackV1.FeedbackServiceClient;
    let alice: { id: string; key: string };
    let bob: { id: string; key: string };
    const submit = (key: string, req: Req) =>
      unary<feedbackV1.SubmitFeedbackRequest, feedbackV1.SubmitFeedbackResponse>(
        client,
        'submitFeedback',
        feedbackV1.SubmitFeedbackRequest.fromPartial(req),
        bearer(key),
      );

    before(async () => {
      store = await backend.open();
      service = await startFeedbackService({
        store,
        authenticator: authenticatorFor(store),
        logger: silentLogger,
        host: '127.0.0.1',
        port: 0,
        scoring,
        retentionDays: 30,
      });
      client = new feedbackV1.FeedbackServiceClient(`127.0.0.1:${service.port}`, insecure);
      alice = await account(store, 'alice');
      bob = await account(store, 'bob');
    });

    after(async () => {
      client?.close();
      await service?.close();
      await backend.close();
    });

    describe('validation', () => {
      it('requires a credential', async () => {
        const err = await failure(
          new Promise((resolve, reject) =>
            client.submitFeedback(
              feedbackV1.SubmitFeedbackRequest.fromPartial({ requestId: 'req_abcdefgh12', score: 3 }),
              (e, v) => (e ? reject(e) : resolve(v)),
            ),
          ),
        );
        expect(err.code).to.equal(status.UNAUTHENTICATED);
      });

      it('names request_id when it is missing or malformed', async () => {
        const missing = await failure(submit(alice.key, { score: 3 }));
        expect(missing.code).to.equal(status.INVALID_ARGUMENT);
        expect(missing.details).to.match(/^request_id is required/);
        const malformed = await failure(submit(alice.key, { requestId: 'chatcmpl-123', score: 3 }));
        expect(malformed.code).to.equal(status.INVALID_ARGUMENT);
        expect(malformed.details).to.match(/^request_id is malformed/);
      });

      it('asks for score or is_helpful when neither is given', async () => {
        const err = await failure(submit(alice.key, { requestId: 'req_abcdefgh12' }));
        expect(err.code).to.equal(status.INVALID_ARGUMENT);
        expect(err.details).to.match(/score or is_helpful is required/);
      });

      for (const score of [0, 6, -1, 100]) {
        it(`rejects score ${score} naming the field`, async () => {
          const err = await failure(submit(alice.key, { requestId: 'req_abcdefgh12', score }));
          expect(err.code).to.equal(status.INVALID_ARGUMENT);
          expect(err.details).to.match(/^score must be an integer from 1/);
        });
      }
    });

    describe('which requests can be rated', () => {
      it('answers NOT_FOUND alike for an unknown id and for another account’s request, and leaves the latter untouched', async () => {
        const bobs = completion(bob.id);
        await record(store, [bobs]);
        const unknownId = 'req_' + 'Z'.repeat(24);
        const unknown = await failure(submit(alice.key, { requestId: unknownId, score: 1 }));
        const foreign = await failure(submit(alice.key, { requestId: bobs.id, score: 1 }));
        expect(unknown.code).to.equal(status.NOT_FOUND);
        expect(foreign.code).to.equal(status.NOT_FOUND);
        // Same words, only the echoed id differs: nothing tells the caller that the foreign id exists.
        expect(foreign.details.replace(bobs.id, '<id>')).to.equal(unknown.details.replace(unknownId, '<id>'));
        const stored = await store.getEntry(bob.id, bobs.id);
        expect(stored.rating).to.equal(null);
        const [cell] = await store.loadAccountCells(bob.id);
        expectCellsClose(cell!, heuristicOf(bobs));
      });

      it('refuses a request older than the retention window with FAILED_PRECONDITION and accepts one inside it', async () => {
        const old = completion(alice.id, { createdAt: new Date(Date.now() - 31 * DAY), queryType: 'math' });
        const recent = completion(alice.id, { createdAt: new Date(Date.now() - 29 * DAY), queryType: 'math' });
        await record(store, [old, recent]);
        const err = await failure(submit(alice.key, { requestId: old.id, score: 5 }));
        expect(err.code).to.equal(status.FAILED_PRECONDITION);
        expect(err.details).to.match(/older than the 30-day rating window/);
        expect((await store.getEntry(alice.id, old.id)).rating).to.equal(null);
        const ok = await submit(alice.key, { requestId: recent.id, score: 5 });
        expect(ok.rating?.quality).to.equal(1);
      });

      it('refuses a routing decision without an answer (selection) with FAILED_PRECONDITION', async () => {
        const selection = completion(alice.id, {
          kind: 'selection',
          heuristicQuality: null,
          latencyMs: 0,
          costUsd: 0,
          completionTokens: 0,
          queryType: 'factual',
        });
        await record(store, [selection]);
        const err = await failure(submit(alice.key, { requestId: selection.id, isHelpful: true }));
        expect(err.code).to.equal(status.FAILED_PRECONDITION);
        expect(err.details).to.match(/routing decision only/);
        expect((await store.getEntry(alice.id, selection.id)).rating).to.equal(null);
      });
    });

    describe('what a rating changes', () => {
      it('replaces the heuristic contribution, then the earlier rating, in the account and global cells and the counters', async () => {
        const carol = await account(store, 'carol');
        const rated = completion(carol.id, {
          queryType: 'translation',
          heuristicQuality: 0.62,
          latencyMs: 1234,
          costUsd: 0.0021,
        });
        const other = completion(carol.id, {
          queryType: 'translation',
          heuristicQuality: 0.4,
          latencyMs: 400,
          costUsd: 0.0009,
        });
        const enhanced = completion(carol.id, { queryType: 'translation', heuristicQuality: 0.5, enhanced: true });
        await record(store, [rated, other, enhanced]);

        const first = await submit(carol.key, { requestId: rated.id, score: 2 });
        expect(first.replacedPrevious).to.equal(false);
        expect(first.model).to.equal('model-a');
        expect(first.rating).to.include({ requestId: rated.id, score: 2, quality: 0.25 });
        expect(first.rating?.isHelpful).to.equal(undefined);

        const second = await submit(carol.key, { requestId: rated.id, score: 5, isHelpful: true });
        expect(second.replacedPrevious).to.equal(true);
        expect(second.rating).to.include({ score: 5, isHelpful: true, quality: 1 });
        expect(second.rating!.createTime!.getTime()).to.equal(first.rating!.createTime!.getTime());
        expect(second.rating!.updateTime!.getTime()).to.be.at.least(first.rating!.updateTime!.getTime());

        await submit(carol.key, { requestId: enhanced.id, isHelpful: false });

        // The cells hold exactly what they would if the ratings had been there from the start.
        const expected = addCells(
          addCells(addCells(emptyCell(), ratedOf(rated, 1)), heuristicOf(other)),
          ratedOf(enhanced, 0.15),
        );
        const [cell] = await store.loadAccountCells(carol.id);
        expectCellsClose(cell!, expected);
        expect(cell!.ratings).to.be.greaterThan(0);
        const global = (await store.loadGlobalCells()).find(
          (g) => g.queryType === 'translation' && g.model === 'model-a',
        );
        expectCellsClose(global!, expected);
        expect(global!.contributors).to.equal(1);

        const [counters] = await store.loadCounters(carol.id);
        expect(counters!.plainN).to.equal(2);
        expect(counters!.plainQ).to.be.closeTo(1 + 0.4, 1e-12);
        expect(counters!.plainQ2).to.be.closeTo(1 + 0.16, 1e-12);
        expect(counters!.enhancedN).to.equal(1);
        expect(counters!.enhancedQ).to.be.closeTo(0.15, 1e-12);
        expect(counters!.enhancedQ2).to.be.closeTo(0.0225, 1e-12);
      });

      it('stores only is_helpful when only it is given, and the rating is readable as soon as the call returns', async () => {
        const entry = completion(alice.id, { queryType: 'writing' });
        await record(store, [entry]);
        const res = await submit(alice.key, { requestId: entry.id, isHelpful: true });
        expect(res.rating?.score).to.equal(undefined);
        expect(res.rating).to.include({ isHelpful: true, quality: 0.85 });
        const stored = await store.getEntry(alice.id, entry.id);
        expect(stored.rating).to.include({ score: null, isHelpful: true, quality: 0.85 });
      });

      it('rates a request whose entry is still waiting in the write batch', async () => {
        const entry = completion(alice.id, { queryType: 'summarization' });
        void store.enqueue(routerWrite(entry));
        const res = await submit(alice.key, { requestId: entry.id, score: 4 });
        expect(res.rating?.quality).to.equal(0.75);
      });

      it('acknowledges many concurrent ratings, each stored, with cells as if rated one by one', async () => {
        const dave = await account(store, 'dave');
        const entries = Array.from({ length: 120 }, (_, i) =>
          completion(dave.id, {
            queryType: i % 2 === 0 ? 'math' : 'factual',
            model: i % 3 === 0 ? 'model-b' : 'model-a',
            heuristicQuality: ((i * 7) % 10) / 10,
            latencyMs: 300 + i,
          }),
        );
        await record(store, entries);
        // Every request rated once with score 1 + i % 5; the first 30 a second time, with 5, in the same burst.
        const calls = [
          ...entries.map((e, i) => ({ e, score: 1 + (i % 5) })),
          ...entries.slice(0, 30).map((e) => ({ e, score: 5 })),
        ];
        const answers = await Promise.all(calls.map((c) => submit(dave.key, { requestId: c.e.id, score: c.score })));
        expect(answers).to.have.length(150);
        expect(answers.filter((a) => a.replacedPrevious)).to.have.length(30);

        const stored = new Map<string, number>();
        for (const e of entries) stored.set(e.id, (await store.getEntry(dave.id, e.id)).rating!.quality);
        expect(stored.size).to.equal(120);
        // A request rated twice keeps whichever rating committed last; the cells must match exactly that.
        for (const e of entries.slice(30)) expect(stored.get(e.id)).to.equal((entries.indexOf(e) % 5) / 4);
        const expected = new Map<string, CellSums>();
        for (const e of entries) {
          const key = `${e.queryType}/${e.model}`;
          expected.set(key, addCells(expected.get(key) ?? emptyCell(), ratedOf(e, stored.get(e.id)!)));
        }
        const cells = await store.loadAccountCells(dave.id);
        expect(cells).to.have.length(expected.size);
        for (const cell of cells) expectCellsClose(cell, expected.get(`${cell.queryType}/${cell.model}`)!);
      });

      it('does not count a replayed identical rating twice', async () => {
        const entry = completion(alice.id, { queryType: 'creative' });
        await record(store, [entry]);
        for (let i = 0; i < 3; i++) await submit(alice.key, { requestId: entry.id, score: 1 });
        const cell = (await store.loadAccountCells(alice.id)).find((c) => c.queryType === 'creative')!;
        expectCellsClose(cell, ratedOf(entry, 0));
      });
    });
  });
}

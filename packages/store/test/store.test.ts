import { expect } from 'chai';
import {
  StoreError,
  hashApiKey,
  newRequestId,
  storeLocation,
  type ChangeEvent,
  type GlobalCell,
  type Rating,
  type RequestEntry,
  type Store,
} from '../src/index.js';
import { defaultScoringConfig, epochScale } from '@routeplex/scoring';
import fc from 'fast-check';
import { BACKENDS } from './helpers/backends.js';
import { signalsJsonbBytes } from '../src/validation.js';
import { MIGRATIONS } from '../src/migrations/index.js';
import { close, entry, heuristicWrite, sums } from './helpers/fixtures.js';

async function rejection(promise: Promise<unknown>): Promise<StoreError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(StoreError);
    return error as StoreError;
  }
  throw new Error('expected the promise to reject');
}

/** A rating computation as the feedback service makes it: remove the heuristic (or previous) contribution, add the rating's. */
function replaceContribution(score: number, ratingWeight = 3) {
  return (e: RequestEntry, previous: Rating | null) => {
    const quality = (score - 1) / 4;
    const oldWeight = previous === null ? 1 : ratingWeight;
    const oldQuality = previous === null ? (e.heuristicQuality ?? 0) : previous.quality;
    return {
      rating: { score, isHelpful: score >= 4, quality },
      cellDelta: sums({
        n: ratingWeight - oldWeight,
        q: ratingWeight * quality - oldWeight * oldQuality,
        q2: ratingWeight * quality * quality - oldWeight * oldQuality * oldQuality,
        ratings: previous === null ? 1 : 0,
      }),
    };
  };
}

/** Deep equality with numbers compared to a relative tolerance (sums added in another order). */
function expectSameNumbers(actual: unknown, expected: unknown, path = ''): void {
  if (typeof expected === 'number') {
    expect(close(actual as number, expected), `${path}: ${String(actual)} vs ${expected}`).to.equal(true);
  } else if (Array.isArray(expected)) {
    expect(actual, path).to.be.an('array').with.length(expected.length);
    expected.forEach((value, i) => expectSameNumbers((actual as unknown[])[i], value, `${path}[${i}]`));
  } else if (expected !== null && typeof expected === 'object') {
    expect(Object.keys(actual as object).sort(), path).to.deep.equal(Object.keys(expected).sort());
    for (const [key, value] of Object.entries(expected))
      expectSameNumbers((actual as Record<string, unknown>)[key], value, `${path}.${key}`);
  } else {
    expect(actual, path).to.equal(expected);
  }
}

for (const backend of BACKENDS) {
  describe(`store on ${backend.name}`, function () {
    this.timeout(60_000);
    let store: Store;

    before(async () => {
      store = await backend.store();
    });
    beforeEach(async () => {
      await backend.reset();
    });

    describe('migrations', () => {
      it('creates every table and records the migration once', async () => {
        const tables = await backend.query(
          `select table_name from information_schema.tables where table_schema = current_schema() order by table_name`,
        );
        expect(tables.map((t) => t.table_name)).to.include.members([
          'accounts',
          'api_keys',
          'request_entries',
          'ratings',
          'account_cells',
          'global_cells',
          'account_counters',
        ]);
        const applied = await backend.query(`select name from knex_migrations`);
        expect(applied.map((m) => m.name)).to.deep.equal(MIGRATIONS.map((m) => m.name));
      });

      it('is a no-op when another store opens an up-to-date database', async () => {
        const second = await backend.open({ listen: false });
        await second.close();
        const applied = await backend.query(`select name from knex_migrations`);
        expect(applied).to.have.length(MIGRATIONS.length);
      });
    });

    describe('numbers', () => {
      it('returns int8, count(*) and numeric as JS numbers', async () => {
        const write = heuristicWrite('acc_numbers');
        await store.enqueue(write);
        expect(await store.countEntries()).to.equal(1);
        expect(await store.countEntries('acc_numbers')).to.equal(1);
        const [counters] = await store.loadCounters('acc_numbers');
        expect(counters?.requests).to.equal(1);
        expect(counters?.coldStart).to.equal(1);
        const dump = await store.dumpAll();
        const counterRow = dump.account_counters[0] as Record<string, unknown>;
        expect(counterRow.requests, 'bigint column').to.equal(1);
        expect(dump.global_cells[0]?.contributors).to.equal(1);
      });
    });

    describe('accounts and API keys', () => {
      it('stores only the hash of a key and finds the account by that hash until revoked', async () => {
        const account = await store.createAccount('Acme research');
        expect(account.id).to.match(/^acc_/);
        const created = await store.createApiKey(account.id);
        expect(created.key).to.match(/^rpx_[A-Za-z0-9]{32,}$/);
        expect(created.key.startsWith(created.prefix)).to.equal(true);
        const dump = JSON.stringify(await store.dumpAll());
        expect(dump).not.to.include(created.key);
        expect(dump).to.include(hashApiKey(created.key));

        expect(await store.findAccountByKeyHash(store.hashApiKey(created.key))).to.deep.equal({
          accountId: account.id,
          keyId: created.id,
        });
        await store.revokeApiKey(account.id, created.id);
        expect(await store.findAccountByKeyHash(hashApiKey(created.key))).to.equal(null);
        const [info] = await store.listApiKeys(account.id);
        expect(info?.revokedAt).to.be.instanceOf(Date);
      });

      it('tells listeners when a key is revoked, so that caches of verified keys forget it', async () => {
        const account = await store.createAccount('revoker');
        const created = await store.createApiKey(account.id);
        const events: { kind: string; accountId?: string }[] = [];
        const stop = store.onChange((event) => events.push(event));
        try {
          await store.revokeApiKey(account.id, created.id);
          const deadline = Date.now() + 2000;
          while (!events.some((e) => e.kind === 'keys') && Date.now() < deadline)
            await new Promise((r) => setTimeout(r, 10));
          expect(events.find((e) => e.kind === 'keys')?.accountId).to.equal(account.id);
        } finally {
          stop();
        }
      });

      it("refuses to revoke another account's key", async () => {
        const a = await store.createAccount('A');
        const b = await store.createAccount('B');
        const key = await store.createApiKey(a.id);
        const error = await rejection(store.revokeApiKey(b.id, key.id));
        expect(error.code).to.equal('NOT_FOUND');
        expect(await store.findAccountByKeyHash(hashApiKey(key.key))).to.deep.equal({ accountId: a.id, keyId: key.id });
      });

      it('refuses a key for an account that does not exist', async () => {
        const error = await rejection(store.createApiKey('acc_missing'));
        expect(error.code).to.equal('NOT_FOUND');
        expect(error.reason).to.equal('ACCOUNT_NOT_FOUND');
      });
    });

    describe('batched writes', () => {
      it('counts as contributors only accounts with an answered request in the cell, not failed calls alone', async () => {
        const failedOn = (accountId: string, model: string) => {
          const write = heuristicWrite(accountId, { overrides: { model: 'fallback' } });
          const queryType = write.entry.queryType;
          write.cellDeltas.push({ accountId, queryType, model, delta: sums({ failures: 1 }) });
          return write;
        };
        await store.enqueue(heuristicWrite('acc_answered', { overrides: { model: 'watched' } }));
        await store.enqueue(failedOn('acc_failed1', 'watched'));
        await store.enqueue(failedOn('acc_failed2', 'watched'));
        const contributors = async () =>
          Object.fromEntries((await store.loadGlobalCells()).map((g) => [g.model, g.contributors]));
        // One account's answers, and two accounts' failures: not three accounts' data.
        expect(await contributors()).to.deep.equal({ fallback: 2, watched: 1 });
        expect(await store.loadGlobalCells({ minContributors: 3 })).to.deep.equal([]);

        // Without the account that answered, the others' failures stay, with no contributor.
        await store.deleteAccountData('acc_answered');
        expect(await contributors()).to.deep.equal({ fallback: 2, watched: 0 });
        const watched = (await store.loadGlobalCells()).find((g) => g.model === 'watched')!;
        expect(watched).to.include({ failures: 1 + 1, requests: 0 });

        // An account that had only failed there and now answers becomes a contributor.
        await store.enqueue(heuristicWrite('acc_failed1', { overrides: { model: 'watched' } }));
        expect(await contributors()).to.deep.equal({ fallback: 2, watched: 1 });
      });

      it('counts an account that answers again years later as one contributor, so its deletion leaves the others', async () => {
        // Contributions are scaled by 2^((t - epoch) / half-life): an answer two and a half years (about 30
        // half-lives) after the first is some 10^9 times larger, which dwarfs the earlier one entirely.
        const scale = (iso: string) => epochScale(Date.parse(iso), defaultScoringConfig);
        const answer = (accountId: string, iso: string) =>
          heuristicWrite(accountId, { scale: scale(iso), overrides: { createdAt: new Date(iso) } });
        await store.enqueue(answer('acc_stays', '2025-02-10T09:00:00.000Z'));
        await store.enqueue(answer('acc_returns', '2025-01-15T09:00:00.000Z'));
        await store.enqueue(answer('acc_returns', '2027-07-15T09:00:00.000Z'));
        const contributors = async () => (await store.loadGlobalCells()).map((g) => g.contributors);
        expect(await contributors()).to.deep.equal([2]);

        await store.deleteAccountData('acc_returns');
        expect(await contributors()).to.deep.equal([1]);
      });

      it('merges many writes to the same cells into one row per cell, with exact sums', async () => {
        const writes = [];
        for (let i = 0; i < 300; i++)
          writes.push(heuristicWrite(`acc_${i % 3}`, { quality: (i % 10) / 10, bucket: i % 24 }));
        await Promise.all(writes.map((w) => store.enqueue(w)));

        expect(await store.countEntries()).to.equal(300);
        const globals = await store.loadGlobalCells();
        expect(globals).to.have.length(1);
        const global = globals[0] as GlobalCell;
        expect(global.contributors).to.equal(3);
        expect(global.n).to.equal(300);
        const expectedQ = writes.reduce((sum, w) => sum + (w.cellDeltas[0]?.delta.q ?? 0), 0);
        expect(close(global.q, expectedQ)).to.equal(true);
        expect(global.latencyHist).to.have.length(24);
        expect(global.latencyHist.reduce((a, b) => a + b, 0)).to.equal(300);

        const cells = await store.loadAccountCells('acc_1');
        expect(cells).to.have.length(1);
        expect(cells[0]?.n).to.equal(100);
        const [counters] = await store.loadCounters('acc_1');
        expect(counters?.requests).to.equal(100);
      });

      it('sums global cells over accounts exactly', async () => {
        for (let i = 0; i < 40; i++) {
          store.enqueue(
            heuristicWrite(`acc_${i % 4}`, {
              quality: 0.1 * (i % 7),
              scale: 1 + i / 10,
              overrides: { model: i % 2 === 0 ? 'model-a' : 'model-b' },
            }),
          );
        }
        await store.flush();
        const globals = await store.loadGlobalCells();
        for (const global of globals) {
          const accountCells = (
            await Promise.all(['acc_0', 'acc_1', 'acc_2', 'acc_3'].map((a) => store.loadAccountCells(a)))
          )
            .flat()
            .filter((c) => c.model === global.model);
          expect(global.contributors).to.equal(accountCells.length);
          expect(
            close(
              global.q,
              accountCells.reduce((s, c) => s + c.q, 0),
            ),
          ).to.equal(true);
          expect(
            close(
              global.n,
              accountCells.reduce((s, c) => s + c.n, 0),
            ),
          ).to.equal(true);
        }
      });

      it('loses nothing that was queued when a store is closed', async () => {
        const other = await backend.open({ batch: { maxEntries: 64, maxDelayMs: 1000 }, listen: false });
        for (let i = 0; i < 1000; i++) other.enqueue(heuristicWrite(`acc_close_${i % 5}`));
        expect(other.pendingWrites).to.be.greaterThan(0);
        await other.close();
        expect(await store.countEntries()).to.equal(1000);
        const global = (await store.loadGlobalCells())[0];
        expect(global?.n).to.equal(1000);
        expect(global?.contributors).to.equal(5);
      });

      it('refuses new writes after close', async () => {
        const other = await backend.open({ listen: false });
        await other.close();
        expect(() => other.enqueue(heuristicWrite('acc_x')))
          .to.throw(StoreError)
          .with.property('reason', 'STORE_CLOSED');
      });

      it('refuses an invalid write at once and keeps the others', async () => {
        const good = heuristicWrite('acc_ok');
        const bad = heuristicWrite('acc_ok');
        (bad.entry.signals as Record<string, unknown>).note = 'free text';
        expect(() => store.enqueue(bad))
          .to.throw(StoreError)
          .with.property('code', 'INVALID_ARGUMENT');
        await store.enqueue(good);
        expect(await store.countEntries('acc_ok')).to.equal(1);
      });

      it('rejects only the write whose request id already exists, committing the rest of its batch', async () => {
        const first = heuristicWrite('acc_dup');
        await store.enqueue(first);
        const duplicate = heuristicWrite('acc_dup', { overrides: { id: first.entry.id } });
        const others = [heuristicWrite('acc_dup'), heuristicWrite('acc_dup')];
        const results = await Promise.allSettled([
          store.enqueue(others[0]!),
          store.enqueue(duplicate),
          store.enqueue(others[1]!),
        ]);
        expect(results.map((r) => r.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
        expect(await store.countEntries('acc_dup')).to.equal(3);
        const [cell] = await store.loadAccountCells('acc_dup');
        expect(cell?.n, 'the failed write added nothing').to.equal(3);
      });
    });

    describe('entries', () => {
      it('lists newest first, page by page, with ratings joined and filters kept', async () => {
        const base = Date.parse('2026-02-01T00:00:00Z');
        for (let i = 0; i < 25; i++) {
          store.enqueue(
            heuristicWrite('acc_list', {
              overrides: { createdAt: new Date(base + i * 1000), queryType: i % 2 === 0 ? 'math' : 'factual' },
            }),
          );
        }
        store.enqueue(heuristicWrite('acc_other'));
        await store.flush();

        const seen: string[] = [];
        let token: string | undefined;
        let pages = 0;
        do {
          const page = await store.listEntries('acc_list', { pageSize: 10, pageToken: token });
          seen.push(...page.entries.map((e) => e.createdAt.toISOString()));
          token = page.nextPageToken ?? undefined;
          pages++;
        } while (token !== undefined);
        expect(pages).to.equal(3);
        expect(seen).to.have.length(25);
        expect(seen).to.deep.equal([...seen].sort().reverse());

        const math = await store.listEntries('acc_list', { queryType: 'math', pageSize: 100 });
        expect(math.entries).to.have.length(13);
        const recent = await store.listEntries('acc_list', { since: new Date(base + 20_000) });
        expect(recent.entries).to.have.length(5);

        const target = math.entries[0] as RequestEntry;
        await store.rateRequest('acc_list', target.id, replaceContribution(5));
        const again = await store.getEntry('acc_list', target.id);
        expect(again.rating?.score).to.equal(5);
        expect(again.signals).to.deep.equal(target.signals);

        const firstMath = await store.listEntries('acc_list', { queryType: 'math', pageSize: 2 });
        const error = await rejection(
          store.listEntries('acc_list', { pageSize: 2, pageToken: firstMath.nextPageToken as string }),
        );
        expect(error.reason).to.equal('INVALID_PAGE_TOKEN');
        expect((await rejection(store.listEntries('acc_list', { pageToken: 'garbage!' }))).code).to.equal(
          'INVALID_ARGUMENT',
        );
      });

      it('refuses a page token whose time is not in the form the store writes, as an invalid token', async () => {
        const write = heuristicWrite('acc_token');
        await store.enqueue(write);
        const tokenWith = (t: string) =>
          Buffer.from(JSON.stringify({ t, id: write.entry.id, qt: null, since: null })).toString('base64url');
        // Each one Date.parse reads: PostgreSQL refuses some, reads others differently, or cannot hold the year.
        for (const t of [
          '2026',
          'March 7 2026',
          '2026-03-07',
          '2026-03-07T10:00:00Z',
          '2026-03-07T10:00:00.000+01:00',
          '0000-01-01T00:00:00.000Z',
          '+010000-01-01T00:00:00.000Z',
        ]) {
          const error = await rejection(store.listEntries('acc_token', { pageToken: tokenWith(t) }));
          expect(error.code, t).to.equal('INVALID_ARGUMENT');
          expect(error.reason, t).to.equal('INVALID_PAGE_TOKEN');
        }
        const page = await store.listEntries('acc_token', { pageToken: tokenWith('2026-03-07T10:00:00.000Z') });
        expect(page.entries.map((e) => e.id)).to.deep.equal([write.entry.id]);
      });

      it('round-trips every field of an entry', async () => {
        const e = entry('acc_round', {
          complexity: null,
          heuristicQuality: null,
          messageHmac: null,
          kind: 'selection',
          stage: 'warm_up',
          preference: 'speed',
          enhanced: true,
        });
        await store.enqueue({ entry: e, cellDeltas: [] });
        const { rating, ...read } = await store.getEntry('acc_round', e.id);
        expect(rating).to.equal(null);
        expect(read).to.deep.equal(e);
      });
    });

    describe('ratings', () => {
      it('replaces an earlier rating instead of counting it twice', async () => {
        const write = heuristicWrite('acc_rate', { quality: 0.6 });
        await store.enqueue(write);
        const first = await store.rateRequest('acc_rate', write.entry.id, replaceContribution(5));
        expect(first.previous).to.equal(null);
        expect(first.rating.quality).to.equal(1);
        const second = await store.rateRequest('acc_rate', write.entry.id, replaceContribution(2));
        expect(second.previous?.score).to.equal(5);
        expect(second.rating.score).to.equal(2);

        // The cell now holds exactly one contribution: the latest rating, weight 3.
        const [cell] = await store.loadAccountCells('acc_rate');
        expect(close(cell?.n ?? NaN, 3)).to.equal(true);
        expect(close(cell?.q ?? NaN, 3 * 0.25)).to.equal(true);
        expect(cell?.ratings).to.equal(1);
        const [global] = await store.loadGlobalCells();
        expect(close(global?.q ?? NaN, 3 * 0.25)).to.equal(true);
        expect(global?.contributors).to.equal(1);
        const dump = await store.dumpAll();
        expect(dump.ratings).to.have.length(1);
      });

      it("answers the same NotFound for an unknown request and another account's request", async () => {
        const write = heuristicWrite('acc_owner');
        await store.enqueue(write);
        const foreign = await rejection(store.rateRequest('acc_intruder', write.entry.id, replaceContribution(4)));
        const unknownId = newRequestId();
        const unknown = await rejection(store.rateRequest('acc_owner', unknownId, replaceContribution(4)));
        expect(foreign.code).to.equal('NOT_FOUND');
        expect(unknown.code).to.equal('NOT_FOUND');
        expect(foreign.reason).to.equal(unknown.reason);
        expect(foreign.message.replace(write.entry.id, 'ID')).to.equal(unknown.message.replace(unknownId, 'ID'));
        expect((await rejection(store.getEntry('acc_intruder', write.entry.id))).message).to.equal(foreign.message);
        expect(await store.loadAccountCells('acc_intruder')).to.deep.equal([]);
      });

      it('rates a request whose entry is still queued', async () => {
        const slow = await backend.open({ batch: { maxDelayMs: 5000 }, listen: false });
        try {
          const write = heuristicWrite('acc_fast');
          void slow.enqueue(write);
          const result = await slow.rateRequest('acc_fast', write.entry.id, replaceContribution(4));
          expect(result.entry.id).to.equal(write.entry.id);
        } finally {
          await slow.close();
        }
      });

      it('leaves nothing behind when the computation throws', async () => {
        const write = heuristicWrite('acc_throw');
        await store.enqueue(write);
        const before = await store.dumpAll();
        let thrown: unknown;
        try {
          await store.rateRequest('acc_throw', write.entry.id, () => {
            throw new RangeError('not rateable');
          });
        } catch (error) {
          thrown = error;
        }
        expect(thrown).to.be.instanceOf(RangeError);
        expect(await store.dumpAll()).to.deep.equal(before);
      });
    });

    describe('batched ratings', () => {
      /** Cells, global cells and counters, rounded for comparison of sums built in a different order. */
      async function learningState(accounts: string[]) {
        const cells = [];
        const counters = [];
        for (const account of accounts) {
          cells.push(...(await store.loadAccountCells(account)));
          counters.push(...(await store.loadCounters(account)));
        }
        return { cells, global: await store.loadGlobalCells(), counters };
      }

      /** A rating computation that also moves the counters, as the feedback service does for auto-routed requests. */
      function withCounters(score: number) {
        const base = replaceContribution(score);
        return (e: RequestEntry, previous: Rating | null) => {
          const computed = base(e, previous);
          const before = previous?.quality ?? (e.heuristicQuality as number);
          const quality = computed.rating.quality;
          return { ...computed, counterDelta: { plainQ: quality - before, plainQ2: quality ** 2 - before ** 2 } };
        };
      }

      it('rates valid ids and answers NOT_FOUND in the slot of an unknown, foreign or malformed id', async () => {
        const mine = [heuristicWrite('acc_batch'), heuristicWrite('acc_batch')];
        const foreign = heuristicWrite('acc_neighbour');
        for (const write of [...mine, foreign]) await store.enqueue(write);
        const neighbourBefore = await store.loadAccountCells('acc_neighbour');

        const outcomes = await store.rateRequests([
          { accountId: 'acc_batch', requestId: mine[0]!.entry.id, compute: replaceContribution(5) },
          { accountId: 'acc_batch', requestId: newRequestId(), compute: replaceContribution(4) },
          { accountId: 'acc_batch', requestId: foreign.entry.id, compute: replaceContribution(1) },
          { accountId: 'acc_batch', requestId: 'not-a-request-id', compute: replaceContribution(1) },
          { accountId: 'acc_batch', requestId: mine[1]!.entry.id, compute: replaceContribution(2) },
        ]);

        expect(outcomes).to.have.length(5);
        const [first, unknown, stranger, malformed, last] = outcomes;
        expect(first).not.to.be.instanceOf(StoreError);
        expect(last).not.to.be.instanceOf(StoreError);
        expect((first as { rating: Rating }).rating).to.include({ requestId: mine[0]!.entry.id, score: 5 });
        expect((last as { rating: Rating }).rating).to.include({ requestId: mine[1]!.entry.id, score: 2 });
        for (const failed of [unknown, stranger, malformed]) {
          expect(failed).to.be.instanceOf(StoreError);
          expect((failed as StoreError).code).to.equal('NOT_FOUND');
          expect((failed as StoreError).reason).to.equal('ENTRY_NOT_FOUND');
        }
        const stored = (await store.dumpAll()).ratings;
        expect(stored.map((r) => r.request_id).sort()).to.deep.equal([mine[0]!.entry.id, mine[1]!.entry.id].sort());
        expect(await store.loadAccountCells('acc_neighbour')).to.deep.equal(neighbourBefore);
        const [cell] = await store.loadAccountCells('acc_batch');
        expect(cell?.ratings).to.equal(2);
      });

      it('applies two ratings of the same request in order, the second seeing the first as previous', async () => {
        const write = heuristicWrite('acc_twice', { quality: 0.6 });
        await store.enqueue(write);
        const id = write.entry.id;
        const [first, second] = (await store.rateRequests([
          { accountId: 'acc_twice', requestId: id, compute: replaceContribution(5) },
          { accountId: 'acc_twice', requestId: id, compute: replaceContribution(2) },
        ])) as { rating: Rating; previous: Rating | null }[];
        expect(first!.previous).to.equal(null);
        expect(first!.rating.score).to.equal(5);
        expect(second!.previous).to.include({ score: 5, quality: 1 });
        expect(second!.rating).to.include({ score: 2, quality: 0.25 });
        expect(second!.rating.createdAt.getTime()).to.equal(first!.rating.createdAt.getTime());

        const read = await store.getEntry('acc_twice', id);
        expect(read.rating).to.include({ score: 2, quality: 0.25 });
        expect(read.rating?.updatedAt.getTime()).to.equal(second!.rating.updatedAt.getTime());
        // One contribution left: the latest rating, weight 3.
        const [cell] = await store.loadAccountCells('acc_twice');
        expect(close(cell?.n ?? NaN, 3)).to.equal(true);
        expect(close(cell?.q ?? NaN, 0.75)).to.equal(true);
        expect(cell?.ratings).to.equal(1);
      });

      it('leaves cells, global cells and counters as rating the requests one by one does', async () => {
        const accounts = ['acc_x', 'acc_y', 'acc_z'];
        const writes = accounts.flatMap((account, a) =>
          Array.from({ length: 12 }, (_, j) =>
            heuristicWrite(account, {
              quality: ((j * 13 + a * 7) % 10) / 10,
              overrides: {
                model: ['model-a', 'model-b'][j % 2] as string,
                queryType: j % 3 === 0 ? 'math' : 'code_debug',
              },
            }),
          ),
        );
        // Some requests are rated twice, one of them inside the batch and one across the two passes.
        const plan = writes
          .filter((_, k) => k % 3 !== 2)
          .map((w, k) => ({ write: w, score: 1 + (k % 5) }))
          .flatMap((p, k) => (k % 4 === 0 ? [p, { write: p.write, score: 6 - p.score }] : [p]));
        const items = () =>
          plan.map((p) => ({
            accountId: p.write.entry.accountId,
            requestId: p.write.entry.id,
            compute: withCounters(p.score),
          }));

        for (const write of writes) await store.enqueue(write);
        for (const item of items()) await store.rateRequest(item.accountId, item.requestId, item.compute);
        const oneByOne = await learningState(accounts);
        const ratingsOneByOne = (await store.dumpAll()).ratings.length;

        await backend.reset();
        for (const write of writes) await store.enqueue(write);
        const outcomes = await store.rateRequests(items());
        expect(outcomes.filter((o) => o instanceof StoreError)).to.deep.equal([]);
        expectSameNumbers(await learningState(accounts), oneByOne);
        expect((await store.dumpAll()).ratings).to.have.length(ratingsOneByOne);
      });

      it('refuses only the item whose computation throws or is invalid', async () => {
        const writes = [heuristicWrite('acc_mixed'), heuristicWrite('acc_mixed'), heuristicWrite('acc_mixed')];
        for (const write of writes) await store.enqueue(write);
        const refusal = new RangeError('not rateable');
        const outcomes = await store.rateRequests([
          {
            accountId: 'acc_mixed',
            requestId: writes[0]!.entry.id,
            compute: () => {
              throw refusal;
            },
          },
          {
            accountId: 'acc_mixed',
            requestId: writes[1]!.entry.id,
            compute: () => ({ rating: { score: 9, isHelpful: null, quality: 2 }, cellDelta: sums() }),
          },
          { accountId: 'acc_mixed', requestId: writes[2]!.entry.id, compute: replaceContribution(4) },
        ]);
        expect((outcomes[0] as StoreError).reason).to.equal('RATING_REFUSED');
        expect((outcomes[0] as StoreError).cause).to.equal(refusal);
        expect((outcomes[1] as StoreError).code).to.equal('INVALID_ARGUMENT');
        expect((outcomes[2] as { rating: Rating }).rating.score).to.equal(4);
        const stored = (await store.dumpAll()).ratings;
        expect(stored.map((r) => r.request_id)).to.deep.equal([writes[2]!.entry.id]);
        const [cell] = await store.loadAccountCells('acc_mixed');
        expect(cell?.ratings).to.equal(1);
      });

      it('commits queued entries of the batch first', async () => {
        const slow = await backend.open({ batch: { maxDelayMs: 5000 }, listen: false });
        try {
          const writes = [heuristicWrite('acc_queued_batch'), heuristicWrite('acc_queued_batch')];
          for (const write of writes) void slow.enqueue(write);
          const outcomes = await slow.rateRequests(
            writes.map((w) => ({
              accountId: 'acc_queued_batch',
              requestId: w.entry.id,
              compute: replaceContribution(3),
            })),
          );
          expect(outcomes.map((o) => (o as { entry: RequestEntry }).entry.id)).to.deep.equal(
            writes.map((w) => w.entry.id),
          );
        } finally {
          await slow.close();
        }
      });

      it('announces one rating event per account of the batch', async () => {
        const events: { kind: string; accountId?: string; origin?: string }[] = [];
        const stop = store.onChange((event) => events.push(event));
        try {
          const writes = ['acc_n1', 'acc_n2', 'acc_n1'].map((account) => heuristicWrite(account));
          for (const write of writes) await store.enqueue(write);
          await store.rateRequests(
            writes.map((w) => ({
              accountId: w.entry.accountId,
              requestId: w.entry.id,
              compute: replaceContribution(4),
            })),
          );
          const deadline = Date.now() + 2000;
          // The database's notifications, which other processes receive (they carry no origin).
          const ratingEvents = () => events.filter((e) => e.kind === 'rating' && !('origin' in e));
          while (ratingEvents().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
          await new Promise((r) => setTimeout(r, 50));
          expect(ratingEvents()).to.have.deep.members([
            { kind: 'rating', accountId: 'acc_n1' },
            { kind: 'rating', accountId: 'acc_n2' },
          ]);
        } finally {
          stop();
        }
      });

      it('keeps every rating of concurrent batches over the same requests', async () => {
        const writes = Array.from({ length: 20 }, (_, j) =>
          heuristicWrite(j % 2 === 0 ? 'acc_c1' : 'acc_c2', { overrides: { model: `model-${j % 3}` } }),
        );
        for (const write of writes) await store.enqueue(write);
        // Eight batches, each rating every request once, in a different order: they must queue on the
        // entries' locks (taken in key order) rather than deadlock, and replace each other's ratings exactly.
        const batches = Array.from({ length: 8 }, (_, b) =>
          store.rateRequests(
            writes
              .map((w, j) => ({ w, order: (j * (b + 3)) % 23 }))
              .sort((x, y) => x.order - y.order)
              .map(({ w }) => ({
                accountId: w.entry.accountId,
                requestId: w.entry.id,
                compute: replaceContribution(1 + (b % 5)),
              })),
          ),
        );
        const outcomes = (await Promise.all(batches)).flat();
        expect(outcomes.filter((o) => o instanceof StoreError)).to.deep.equal([]);
        expect(outcomes).to.have.length(160);
        const stored = (await store.dumpAll()).ratings;
        expect(stored).to.have.length(20);
        // Whatever order the batches committed in, each cell holds exactly one rating per request, weight 3.
        for (const account of ['acc_c1', 'acc_c2']) {
          const cells = await store.loadAccountCells(account);
          expect(cells.reduce((sum, c) => sum + c.ratings, 0)).to.equal(10);
          expect(
            close(
              cells.reduce((sum, c) => sum + c.n, 0),
              30,
            ),
          ).to.equal(true);
          const qualities = stored.filter((r) => r.account_id === account).map((r) => Number(r.quality));
          const expectedQ = 3 * qualities.reduce((sum, q) => sum + q, 0);
          expect(
            close(
              cells.reduce((sum, c) => sum + c.q, 0),
              expectedQ,
            ),
          ).to.equal(true);
        }
      });
    });

    describe('window statistics', () => {
      /** Linear interpolation between closest ranks, as percentile_cont. */
      function quantile(values: number[], p: number): number {
        const sorted = [...values].sort((a, b) => a - b);
        const h = (sorted.length - 1) * p;
        const lo = Math.floor(h);
        const hi = Math.min(sorted.length - 1, lo + 1);
        return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
      }

      it('aggregates the window of answered requests per query type and model, ratings weighted', async () => {
        const base = Date.parse('2026-02-01T00:00:00Z');
        const writes = Array.from({ length: 40 }, (_, i) =>
          heuristicWrite('acc_window', {
            quality: ((i * 17) % 100) / 100,
            overrides: {
              createdAt: new Date(base + i * 60_000),
              queryType: i % 4 === 0 ? 'math' : 'code_debug',
              model: i % 3 === 0 ? 'model-b' : 'model-a',
              latencyMs: 100 + ((i * 37) % 900),
              costUsd: (1 + (i % 7)) / 10_000,
            },
          }),
        );
        const selection = heuristicWrite('acc_window', {
          overrides: { kind: 'selection', heuristicQuality: null, createdAt: new Date(base + 39 * 60_000) },
        });
        selection.cellDeltas = [];
        const elsewhere = heuristicWrite('acc_elsewhere', { overrides: { createdAt: new Date(base + 39 * 60_000) } });
        for (const write of [...writes, selection, elsewhere]) await store.enqueue(write);
        const rated = new Map<string, number>();
        for (const i of [12, 13, 25, 30, 39]) {
          const result = await store.rateRequest('acc_window', writes[i]!.entry.id, replaceContribution(1 + (i % 5)));
          rated.set(result.entry.id, result.rating.quality);
        }
        // Rated twice: only the latest rating counts.
        const again = await store.rateRequest('acc_window', writes[25]!.entry.id, replaceContribution(5));
        rated.set(again.entry.id, again.rating.quality);

        const since = new Date(base + 10 * 60_000);
        const weight = 3;
        const rows = await store.windowedModelStats('acc_window', { since, ratingWeight: weight });
        const inWindow = writes.map((w) => w.entry).filter((e) => e.createdAt >= since);
        const groups = new Map<string, RequestEntry[]>();
        for (const e of inWindow) {
          const key = `${e.queryType}/${e.model}`;
          groups.set(key, [...(groups.get(key) ?? []), e]);
        }
        expect(rows.map((r) => `${r.queryType}/${r.model}`)).to.deep.equal([...groups.keys()].sort());
        for (const row of rows) {
          const group = groups.get(`${row.queryType}/${row.model}`)!;
          const w = group.map((e) => (rated.has(e.id) ? weight : 1));
          const q = group.map((e) => rated.get(e.id) ?? (e.heuristicQuality as number));
          const n = w.reduce((s, x) => s + x, 0);
          const sq = w.reduce((s, x, i) => s + x * q[i]!, 0);
          expect(row.provider).to.equal('openai');
          expect(row.requests).to.equal(group.length);
          expect(row.ratings).to.equal(group.filter((e) => rated.has(e.id)).length);
          expect(close(row.n, n)).to.equal(true);
          expect(close(row.q, sq)).to.equal(true);
          expect(
            close(
              row.q2,
              w.reduce((s, x, i) => s + x * q[i]! ** 2, 0),
            ),
          ).to.equal(true);
          expect(close(row.avgQuality, sq / n)).to.equal(true);
          const latencies = group.map((e) => e.latencyMs);
          expect(close(row.latencyP50Ms, quantile(latencies, 0.5))).to.equal(true);
          expect(close(row.latencyP95Ms, quantile(latencies, 0.95))).to.equal(true);
          expect(close(row.avgCostUsd, group.reduce((s, e) => s + e.costUsd, 0) / group.length)).to.equal(true);
        }
        expect(rows.reduce((s, r) => s + r.ratings, 0)).to.equal(5);

        const math = await store.windowedModelStats('acc_window', { since, queryType: 'math', ratingWeight: weight });
        expect(math.map((r) => r.queryType)).to.deep.equal(['math', 'math']);
        expectSameNumbers(
          math,
          rows.filter((r) => r.queryType === 'math'),
        );
        expect(
          await store.windowedModelStats('acc_window', { since: new Date(base + 3600_000), ratingWeight: 3 }),
        ).to.deep.equal([]);
        expect(await store.windowedModelStats('acc_nobody', { since, ratingWeight: 3 })).to.deep.equal([]);
      });

      it('includes entries still queued, and refuses an invalid window or weight', async () => {
        const slow = await backend.open({ batch: { maxDelayMs: 5000 }, listen: false });
        try {
          void slow.enqueue(heuristicWrite('acc_window_queued', { overrides: { createdAt: new Date() } }));
          const rows = await slow.windowedModelStats('acc_window_queued', {
            since: new Date(Date.now() - 60_000),
            ratingWeight: 3,
          });
          expect(rows.map((r) => r.requests)).to.deep.equal([1]);
        } finally {
          await slow.close();
        }
        const since = new Date();
        expect(
          (await rejection(store.windowedModelStats('acc_w', { since: new Date(NaN), ratingWeight: 3 }))).code,
        ).to.equal('INVALID_ARGUMENT');
        expect((await rejection(store.windowedModelStats('acc_w', { since, ratingWeight: 0 }))).message).to.match(
          /^ratingWeight is invalid/,
        );
        expect(
          (await rejection(store.windowedModelStats('acc_w', { since, queryType: 'Not A Type', ratingWeight: 3 })))
            .code,
        ).to.equal('INVALID_ARGUMENT');
      });
    });

    describe('deleting account data', () => {
      /** Writes and ratings that depend only on (account, j), so each account contributes the same in every run. */
      async function seed(accounts: string[], withRatings: boolean) {
        for (let j = 0; j < 40; j++) {
          for (const account of accounts) {
            const offset = [...account].reduce((sum, ch) => sum + ch.charCodeAt(0), 0);
            const write = heuristicWrite(account, {
              quality: ((j * 37 + offset) % 100) / 100,
              scale: 2 ** (j / 17),
              bucket: (j + offset) % 24,
              overrides: {
                model: ['model-a', 'model-b', 'model-c'][(j + offset) % 3] as string,
                queryType: j % 5 === 0 ? 'math' : 'code_debug',
              },
            });
            await store.enqueue(write);
            if (withRatings && j % 4 === 0)
              await store.rateRequest(account, write.entry.id, replaceContribution(1 + ((j + offset) % 5)));
          }
        }
      }

      it('leaves the global cells equal to a run where the account never existed', async () => {
        // Deterministic inputs for the other accounts, so that both runs add the same numbers.
        const others = ['acc_b', 'acc_c'];
        await seed(others, true);
        const without = await store.loadGlobalCells();

        await backend.reset();
        await seed(['acc_b', 'acc_gone', 'acc_c'], true);
        const result = await store.deleteAccountData('acc_gone');
        expect(result.entries).to.equal(40);
        expect(result.ratings).to.be.greaterThan(0);
        const after = await store.loadGlobalCells();

        expect(after.map((c) => [c.queryType, c.model, c.contributors])).to.deep.equal(
          without.map((c) => [c.queryType, c.model, c.contributors]),
        );
        // Both runs interleave the same per-account values but in a different order, so sums agree
        // to floating-point tolerance rather than bit for bit.
        for (const [index, cell] of after.entries()) {
          const reference = without[index] as GlobalCell;
          for (const field of ['n', 'q', 'q2', 'requests', 'ratings', 'failures', 'latencyMs', 'costUsd'] as const) {
            expect(
              close(cell[field], reference[field]),
              `${cell.model} ${field}: ${cell[field]} vs ${reference[field]}`,
            ).to.equal(true);
          }
          cell.latencyHist.forEach((value, bucket) =>
            expect(close(value, reference.latencyHist[bucket] ?? 0)).to.equal(true),
          );
        }

        const dump = await store.dumpAll();
        const text = JSON.stringify(Object.fromEntries(Object.entries(dump).filter(([table]) => table !== 'accounts')));
        expect(text).not.to.include('acc_gone');
        expect(await store.countEntries('acc_gone')).to.equal(0);
      });

      it('removes a global cell whose only contributor is deleted, and keeps the account and its keys', async () => {
        const account = await store.createAccount('Solo');
        const key = await store.createApiKey(account.id);
        await store.enqueue(heuristicWrite(account.id, { overrides: { model: 'only-me' } }));
        expect(await store.loadGlobalCells()).to.have.length(1);
        await store.deleteAccountData(account.id);
        expect(await store.loadGlobalCells()).to.deep.equal([]);
        expect(await store.getAccount(account.id)).to.not.equal(null);
        expect(await store.findAccountByKeyHash(hashApiKey(key.key))).to.deep.equal({
          accountId: account.id,
          keyId: key.id,
        });
      });

      it('flushes queued writes of the account before deleting', async () => {
        const slow = await backend.open({ batch: { maxDelayMs: 5000 }, listen: false });
        try {
          for (let i = 0; i < 10; i++) void slow.enqueue(heuristicWrite('acc_queued'));
          const result = await slow.deleteAccountData('acc_queued');
          expect(result.entries).to.equal(10);
          expect(await slow.countEntries('acc_queued')).to.equal(0);
          expect(await slow.loadGlobalCells()).to.deep.equal([]);
        } finally {
          await slow.close();
        }
      });
    });

    describe('change notifications', () => {
      it('tells listeners about batches, ratings and deletions', async () => {
        const events: ChangeEvent[] = [];
        const stop = store.onChange((event) => events.push(event));
        try {
          const write = heuristicWrite('acc_events');
          await store.enqueue(write);
          await store.rateRequest('acc_events', write.entry.id, replaceContribution(3));
          await store.deleteAccountData('acc_events');
          const deadline = Date.now() + 2000;
          // Wait for the database's notification of the deletion, the last change made.
          const deletionNotified = () => events.some((e) => e.kind === 'delete' && e.origin === undefined);
          while (!deletionNotified() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
          expect(events).to.deep.include({ kind: 'cells', accountIds: ['acc_events'], origin: store.instanceId });
          expect(events).to.deep.include({ kind: 'rating', accountId: 'acc_events' });
          const deletion = events.find((e) => e.kind === 'delete' && e.origin === undefined) as ChangeEvent;
          // Numbered, so that a process knows which deletions it has heard of.
          expect(deletion).to.deep.equal({ kind: 'delete', accountId: 'acc_events', deletion: deletion.deletion });
          expect(deletion.deletion).to.be.a('number').greaterThan(0);
        } finally {
          stop();
        }
      });
    });

    describe('privacy of the schema', () => {
      it('has account_id in every table but the global ones, which hold no account data', async () => {
        const columns = await backend.query(
          `select table_name, column_name from information_schema.columns where table_schema = current_schema() and table_name not like 'knex_%'`,
        );
        const tables = new Set(columns.map((c) => String(c.table_name)));
        for (const table of tables) {
          const names = columns.filter((c) => c.table_name === table).map((c) => c.column_name);
          if (table === 'accounts') expect(names).to.include('id');
          else if (table === 'global_cells') expect(names).not.to.include('account_id');
          else if (table === 'deletion_clock') expect(names).to.have.members(['id', 'seq']);
          else expect(names, table).to.include('account_id');
        }
      });

      it('keeps only named numbers in signals, even when written past the store', async () => {
        const write = heuristicWrite('acc_signals');
        await store.enqueue(write);
        const set = async (json: string): Promise<unknown> => {
          try {
            await backend.query(`update request_entries set signals = '${json}'::jsonb where id = '${write.entry.id}'`);
            return 'accepted';
          } catch (error) {
            return (error as { code?: unknown }).code;
          }
        };
        for (const good of ['{}', '{"length": 0.8}', '{"a_1": -2, "finish": 1e-7, "big": 1e30, "z": 0}']) {
          expect(await set(good), good).to.equal('accepted');
        }
        const bad = [
          '{"note": "free text"}',
          '{"nested": {"a": 1}}',
          '{"list": [1, 2]}',
          '{"flag": true}',
          '{"none": null}',
          '{"two words": 1}',
          '{"1abc": 1}',
          `{"${'k'.repeat(49)}": 1}`,
          '[1, 2]',
          '"text"',
          '3',
          `{${Array.from({ length: 300 }, (_, i) => `"signal_number_${i}": 0.5`).join(', ')}}`,
        ];
        for (const json of bad) expect(await set(json), json.slice(0, 60)).to.equal('23514');
      });

      it('accepts signals whose jsonb text is exactly the limit and refuses one byte more at enqueue', async () => {
        // Exponent forms are short in JSON and long in jsonb text: 1e-7 is stored as 0.0000001.
        const signalsOfBytes = (bytes: number): Record<string, number> => {
          // '"s000": 0.0000001' is 17 bytes, ', ' 2 more, and the braces 2: 19 bytes a pair.
          const pairs = Math.floor(bytes / 19);
          const signals: Record<string, number> = {};
          for (let i = 0; i < pairs - 1; i++) signals[`s${String(i).padStart(3, '0')}`] = 1e-7;
          signals[`s${'x'.repeat(3 + bytes - 19 * pairs)}`] = 1e-7;
          return signals;
        };
        const atLimit = heuristicWrite('acc_limit', { overrides: { signals: signalsOfBytes(4096) } });
        expect(JSON.stringify(atLimit.entry.signals).length).to.be.lessThan(4096 * 0.7);
        await store.enqueue(atLimit);
        const [stored] = await backend.query(
          `select octet_length(signals::text) as bytes from request_entries where id = '${atLimit.entry.id}'`,
        );
        expect(Number(stored?.bytes)).to.equal(4096);

        const over = heuristicWrite('acc_limit', { overrides: { signals: signalsOfBytes(4097) } });
        expect(() => store.enqueue(over))
          .to.throw(StoreError)
          .with.property('code', 'INVALID_ARGUMENT');
        expect(await store.countEntries('acc_limit')).to.equal(1);
      });

      it('measures signals as the database measures their jsonb text, whatever the numbers', async () => {
        const numbers = fc.oneof(
          fc.double({ noNaN: true, noDefaultInfinity: true }),
          fc.integer(),
          fc.constantFrom(0, -0, 1e21, 1e-7, 5e-324, -1.7976931348623157e308, 0.1, 123456789.125),
        );
        const samples = fc.sample(fc.dictionary(fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,47}$/), numbers), {
          numRuns: 300,
          seed: 20260307,
        });
        const rows = await backend.query(
          'select octet_length(t::jsonb::text) as bytes from unnest($1::text[]) with ordinality as u(t, i) order by i',
          [samples.map((signals) => JSON.stringify(signals))],
        );
        expect(rows.map((row) => Number(row.bytes))).to.deep.equal(samples.map(signalsJsonbBytes));
      });

      it('has no column that can hold long free text', async () => {
        // Fill every table with one valid row, then try to put prose into every text-like column.
        const account = await store.createAccount('Privacy check');
        await store.createApiKey(account.id);
        const write = heuristicWrite(account.id);
        await store.enqueue(write);
        await store.rateRequest(account.id, write.entry.id, replaceContribution(4));

        const columns = await backend.query(
          `select table_name, column_name, data_type from information_schema.columns
           where table_schema = current_schema() and table_name not like 'knex_%' order by table_name, column_name`,
        );
        const prose = 'Please summarise the attached contract and list every clause about liability. '.repeat(4);
        const allowed = new Set([
          'double precision',
          'integer',
          'bigint',
          'smallint',
          'boolean',
          'timestamp with time zone',
          'ARRAY',
          'text',
          'jsonb',
        ]);
        let probed = 0;
        for (const column of columns) {
          const table = String(column.table_name);
          const name = String(column.column_name);
          const type = String(column.data_type);
          expect(allowed.has(type), `${table}.${name} has type ${type}`).to.equal(true);
          let value: string | undefined;
          if (type === 'text') value = `'${prose}'`;
          if (type === 'jsonb') value = `jsonb_build_object('note', '${prose}')`;
          if (type === 'jsonb') {
            // Text hidden in a key is refused as well as text in a value.
            let keyCode: unknown;
            try {
              await backend.query(`update ${table} set ${name} = jsonb_build_object(left('${prose}', 200), 1)`);
            } catch (error) {
              keyCode = (error as { code?: unknown }).code;
            }
            expect(keyCode, `${table}.${name} accepted text in a key`).to.equal('23514');
          }
          if (type === 'ARRAY') value = `array_fill(1.5::float8, array[100000])`;
          if (value === undefined) continue;
          probed++;
          let code: unknown;
          try {
            await backend.query(`update ${table} set ${name} = ${value}`);
          } catch (error) {
            code = (error as { code?: unknown }).code;
          }
          expect(code, `${table}.${name} accepted long content`).to.equal('23514');
        }
        expect(probed).to.be.greaterThan(20);
      });
    });
  });
}

describe('storeLocation', () => {
  it('prefers PostgreSQL, then the PGlite data folder, then PGlite in memory', () => {
    const url = 'postgres://u@127.0.0.1:5432/db';
    expect(storeLocation({ databaseUrl: url, dataDir: '/var/lib/routeplex' })).to.deep.equal({ databaseUrl: url });
    expect(storeLocation({ dataDir: '/var/lib/routeplex' })).to.deep.equal({ pgliteDir: '/var/lib/routeplex' });
    expect(storeLocation({ databaseUrl: '', dataDir: undefined })).to.deep.equal({});
  });
});

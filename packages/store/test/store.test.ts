import { expect } from 'chai';
import {
  StoreError,
  hashApiKey,
  newRequestId,
  type GlobalCell,
  type Rating,
  type RequestEntry,
  type Store,
} from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
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
        expect(applied.map((m) => m.name)).to.deep.equal(['0001_initial_schema']);
      });

      it('is a no-op when another store opens an up-to-date database', async () => {
        const second = await backend.open({ listen: false });
        await second.close();
        const applied = await backend.query(`select name from knex_migrations`);
        expect(applied).to.have.length(1);
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
        const events: { kind: string; accountId?: string; accountIds?: string[]; origin?: string }[] = [];
        const stop = store.onChange((event) => events.push(event));
        try {
          const write = heuristicWrite('acc_events');
          await store.enqueue(write);
          await store.rateRequest('acc_events', write.entry.id, replaceContribution(3));
          await store.deleteAccountData('acc_events');
          const deadline = Date.now() + 2000;
          while (events.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
          expect(events).to.deep.include({ kind: 'cells', accountIds: ['acc_events'], origin: store.instanceId });
          expect(events).to.deep.include({ kind: 'rating', accountId: 'acc_events' });
          expect(events).to.deep.include({ kind: 'delete', accountId: 'acc_events' });
        } finally {
          stop();
        }
      });
    });

    describe('privacy of the schema', () => {
      it('has account_id in every table but the global one, which holds no account data', async () => {
        const columns = await backend.query(
          `select table_name, column_name from information_schema.columns where table_schema = current_schema() and table_name not like 'knex_%'`,
        );
        const tables = new Set(columns.map((c) => String(c.table_name)));
        for (const table of tables) {
          const names = columns.filter((c) => c.table_name === table).map((c) => c.column_name);
          if (table === 'accounts') expect(names).to.include('id');
          else if (table === 'global_cells') expect(names).not.to.include('account_id');
          else expect(names, table).to.include('account_id');
        }
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

import { expect } from 'chai';
import pg from 'pg';
import { openStore, type Store } from '../src/index.js';
import { ACCOUNT_LOCK_NAMESPACE, accountLockKey } from '../src/sql.js';
import { BACKENDS, createScratchDatabase, postgresQuery } from './helpers/backends.js';
import { heuristicWrite, sums } from './helpers/fixtures.js';

/**
 * Interleavings of the store's transactions with transactions of other processes (another replica of the
 * router, the insights service): a second connection holds its transaction open at a chosen statement while
 * the store's transaction runs into it. Waits are for a database state (a lock request not granted), never
 * for a length of time.
 */

const rated = () => ({ rating: { score: 5, isHelpful: true, quality: 1 }, cellDelta: sums({ ratings: 1 }) });

/** Polls until `condition` holds, or `stop` says the outcome is known already; false if it never held. */
async function waitFor(condition: () => Promise<boolean>, stop: () => boolean = () => false): Promise<boolean> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && !stop()) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return false;
}

/** Whether at least `count` lock requests (of this type, when given) wait in the database. */
function lockWaiter(url: string, locktype?: string, count = 1): () => Promise<boolean> {
  return async () => {
    const [row] = await postgresQuery(
      url,
      `select count(*)::int as waiting from pg_locks l join pg_stat_activity a on a.pid = l.pid
       where not l.granted and a.datname = current_database() and ($1::text is null or l.locktype = $1)`,
      [locktype ?? null],
    );
    return Number(row?.waiting) >= count;
  };
}

const baseUrl = process.env.DATABASE_URL;

(baseUrl === undefined ? describe.skip : describe)('store concurrency on postgres', function () {
  this.timeout(60_000);
  let scratch: { url: string; drop(): Promise<void> };
  let store: Store;
  let other: pg.Client;

  beforeEach(async () => {
    scratch = await createScratchDatabase(baseUrl as string, 'race');
    store = await openStore({ databaseUrl: scratch.url, listen: false });
    other = new pg.Client({ connectionString: scratch.url });
    await other.connect();
    // Any user may set this (deadlock_timeout needs a superuser): should the second connection's statement
    // wait on a lock, it fails after 0.5 s, before the deletion's deadlock check (after 1 s of waiting) could
    // abort and retry the deletion instead and hide a lock cycle.
    await other.query(`set lock_timeout = '500ms'`);
  });

  afterEach(async () => {
    await other.end().catch(() => undefined);
    await store.close().catch(() => undefined);
    await scratch.drop();
  });

  it('deletes entries before ratings, so a rating in progress (entry, then rating) does not deadlock with it', async () => {
    const write = heuristicWrite('acc_order');
    await store.enqueue(write);
    await store.rateRequest('acc_order', write.entry.id, rated);

    // A rating transaction of another process, in the order rateRequests takes its locks: the entry first...
    await other.query('begin');
    await other.query('select 1 from request_entries where account_id = $1 and id = $2 for update', [
      'acc_order',
      write.entry.id,
    ]);
    const deletion = store.deleteAccountData('acc_order');
    deletion.catch(() => undefined);
    expect(await waitFor(lockWaiter(scratch.url)), 'the deletion should wait for the locked entry').to.equal(true);
    // ... then its rating row, while the deletion waits for the entry.
    const update = await other
      .query('update ratings set score = 4 where account_id = $1 and request_id = $2', ['acc_order', write.entry.id])
      .then(
        () => 'updated',
        (error: { code?: string }) => `failed with ${error.code}`,
      );
    expect(update, 'the rating transaction must not deadlock with the deletion').to.equal('updated');
    await other.query('commit');

    const result = await deletion;
    expect(result).to.include({ entries: 1, ratings: 1 });
    expect(await postgresQuery(scratch.url, 'select * from ratings')).to.deep.equal([]);
    expect(await store.countEntries('acc_order')).to.equal(0);
  });

  it("leaves nothing of a batch that another replica commits while the account's data is being deleted", async () => {
    await store.enqueue(heuristicWrite('acc_race'));
    // Another replica's batch commit, stopped after its entry and its cell updates, as commitBatch runs them.
    await other.query('begin');
    await other.query('select pg_advisory_xact_lock_shared($1, $2)', [
      ACCOUNT_LOCK_NAMESPACE,
      accountLockKey('acc_race'),
    ]);
    await other.query(
      `insert into request_entries
       select account_id, 'req_OTHERREPLICA01', created_at, kind, query_type, complexity, model, provider, stage,
              personal_weight, changed_by_personal, auto_routed, enhanced, preference, status, heuristic_quality,
              signals, latency_ms, prompt_tokens, completion_tokens, cost_usd, message_hmac
       from request_entries where account_id = 'acc_race'`,
    );
    await other.query(`update account_cells set n = n + 1, requests = requests + 1 where account_id = 'acc_race'`);
    await other.query(`update global_cells set n = n + 1, requests = requests + 1`);
    await other.query(`update account_counters set requests = requests + 1 where account_id = 'acc_race'`);

    const deletion = store.deleteAccountData('acc_race');
    deletion.catch(() => undefined);
    expect(await waitFor(lockWaiter(scratch.url)), 'the deletion should wait for the batch').to.equal(true);
    await other.query('commit');

    expect(await deletion).to.include({ entries: 2, cells: 1, counters: 1 });
    expect(await store.countEntries('acc_race')).to.equal(0);
    expect(await store.loadAccountCells('acc_race')).to.deep.equal([]);
    expect(await store.loadCounters('acc_race')).to.deep.equal([]);
    expect(await store.loadGlobalCells()).to.deep.equal([]);
  });

  it("makes batch commits and ratings of an account wait while another process deletes the account's data", async () => {
    const earlier = heuristicWrite('acc_wait');
    await store.enqueue(earlier);
    // The deletion of another process (the insights service), holding the account's lock.
    await other.query('begin');
    await other.query('select pg_advisory_xact_lock($1, $2)', [ACCOUNT_LOCK_NAMESPACE, accountLockKey('acc_wait')]);

    const race = async (work: Promise<unknown>, what: string, waiters: number) => {
      let done = false;
      const finished = work.then(() => {
        done = true;
        return `${what} finished`;
      });
      const waiting = waitFor(lockWaiter(scratch.url, 'advisory', waiters), () => done).then((held) =>
        held ? `${what} waits` : `${what} never waited`,
      );
      return Promise.race([finished, waiting]);
    };
    const later = heuristicWrite('acc_wait');
    const committed = store.enqueue(later);
    expect(await race(committed, 'the batch commit', 1)).to.equal('the batch commit waits');
    const rating = store.rateRequest('acc_wait', earlier.entry.id, rated);
    expect(await race(rating, 'the rating', 2)).to.equal('the rating waits');

    await other.query('commit');
    await committed;
    expect((await rating).rating.score).to.equal(5);
    expect(await store.countEntries('acc_wait')).to.equal(2);
  });
});

for (const backend of BACKENDS) {
  describe(`account locks on ${backend.name}`, () => {
    it('are taken by batch commits, ratings and deletions and released with their transactions', async () => {
      const store = await backend.store();
      await backend.reset();
      const write = heuristicWrite('acc_locks');
      await store.enqueue(write);
      await store.rateRequest('acc_locks', write.entry.id, rated);
      expect(await store.deleteAccountData('acc_locks')).to.include({ entries: 1, ratings: 1 });
      const held = await backend.query(`select count(*)::int as n from pg_locks
         where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())`);
      expect(held[0]?.n).to.equal(0);
    });
  });
}

(baseUrl === undefined ? describe.skip : describe)('deletions and the writes a process has queued', function () {
  this.timeout(60_000);

  it("drops this process's queued writes of the account, which would otherwise bring its data back", async () => {
    const scratch = await createScratchDatabase(baseUrl as string, 'queued');
    // The router's store, whose writes wait in its queue, and the insights service's, which deletes.
    const router = await openStore({ databaseUrl: scratch.url, batch: { maxDelayMs: 60_000 } });
    const insights = await openStore({ databaseUrl: scratch.url });
    try {
      const other = heuristicWrite('acc_kept');
      const acknowledged = router.enqueue(heuristicWrite('acc_gone'));
      void router.enqueue(other);
      expect(router.pendingWrites).to.equal(2);

      await insights.deleteAccountData('acc_gone');
      // Until the deletion's notification reaches the router's store (a state, not a length of time).
      expect(await waitFor(async () => router.pendingWrites === 1)).to.equal(true);
      await acknowledged;
      await router.flush();
      expect(await insights.countEntries('acc_gone')).to.equal(0);
      expect(await insights.loadAccountCells('acc_gone')).to.deep.equal([]);
      expect(await insights.countEntries('acc_kept')).to.equal(1);
    } finally {
      await router.close();
      await insights.close();
      await scratch.drop();
    }
  });

  it("keeps an account's requests made after its deletion when the deletion's notification arrives", async () => {
    const scratch = await createScratchDatabase(baseUrl as string, 'reheard');
    const store = await openStore({ databaseUrl: scratch.url, batch: { maxDelayMs: 60_000 } });
    try {
      const notified = new Promise<void>((resolve) =>
        store.onChange((event) => {
          // The database's notification (no origin): this process heard of the deletion already, at its commit.
          if (event.kind === 'delete' && event.origin === undefined) resolve();
        }),
      );
      await store.deleteAccountData('acc_again');
      const later = store.enqueue(heuristicWrite('acc_again'));
      await notified;
      await store.flush();
      await later;
      expect(await store.countEntries('acc_again')).to.equal(1);
    } finally {
      await store.close();
      await scratch.drop();
    }
  });

  it('does not count an earlier deletion it has not heard of as heard when it deletes an account itself', async () => {
    const scratch = await createScratchDatabase(baseUrl as string, 'ownlater');
    const router = await openStore({ databaseUrl: scratch.url, listen: false, batch: { maxDelayMs: 60_000 } });
    const insights = await openStore({ databaseUrl: scratch.url });
    const locker = new pg.Client({ connectionString: scratch.url });
    await locker.connect();
    try {
      // The router's own deletion of acc_mine waits on the account's lock after flushing its queue...
      await locker.query('begin');
      await locker.query('select pg_advisory_xact_lock($1, $2)', [ACCOUNT_LOCK_NAMESPACE, accountLockKey('acc_mine')]);
      const mine = router.deleteAccountData('acc_mine');
      mine.catch(() => undefined);
      expect(await waitFor(lockWaiter(scratch.url, 'advisory')), 'the deletion should wait for the lock').to.equal(
        true,
      );
      // ... while a write of acc_gone is queued and another process deletes acc_gone (unheard here).
      const acknowledged = router.enqueue(heuristicWrite('acc_gone'));
      await insights.deleteAccountData('acc_gone');
      await locker.query('commit');
      await mine;

      await router.flush();
      await acknowledged;
      expect(await insights.countEntries('acc_gone')).to.equal(0);
      expect(await insights.loadAccountCells('acc_gone')).to.deep.equal([]);
      expect(await insights.loadGlobalCells()).to.deep.equal([]);
    } finally {
      await locker.end();
      await router.close();
      await insights.close();
      await scratch.drop();
    }
  });

  it("keeps an account's new requests after hearing of its deletion out of order, and drops what the gap hid", async () => {
    const scratch = await createScratchDatabase(baseUrl as string, 'outoforder');
    const router = await openStore({ databaseUrl: scratch.url, listen: false, batch: { maxDelayMs: 60_000 } });
    const insights = await openStore({ databaseUrl: scratch.url, listen: false });
    try {
      const early = router.enqueue(heuristicWrite('acc_early'));
      await insights.deleteAccountData('acc_early');
      await insights.deleteAccountData('acc_late');
      // acc_late's notification arrives; acc_early's, numbered before it, is still on its way (or lost).
      const [late] = await postgresQuery(
        scratch.url,
        "select seq from account_deletions where account_id = 'acc_late'",
      );
      (router as unknown as { hearDeletion(accountId: string, seq: number): boolean }).hearDeletion(
        'acc_late',
        Number(late!.seq),
      );
      // acc_late asks again after its deletion: a new request, which must be kept.
      const fresh = router.enqueue(heuristicWrite('acc_late'));
      await router.flush();
      await Promise.all([early, fresh]);
      expect(await insights.countEntries('acc_late')).to.equal(1);
      expect(await insights.countEntries('acc_early')).to.equal(0);
    } finally {
      await router.close();
      await insights.close();
      await scratch.drop();
    }
  });

  it('leaves out of a batch the writes of an account deleted before this process heard of it', async () => {
    const scratch = await createScratchDatabase(baseUrl as string, 'unheard');
    // A process that hears of no deletion stands for one whose notification is still on its way when it
    // takes its queued writes into a batch.
    const router = await openStore({ databaseUrl: scratch.url, listen: false, batch: { maxDelayMs: 60_000 } });
    const insights = await openStore({ databaseUrl: scratch.url });
    try {
      const acknowledged = router.enqueue(heuristicWrite('acc_gone'));
      void router.enqueue(heuristicWrite('acc_kept'));
      await insights.deleteAccountData('acc_gone');
      expect(router.pendingWrites, 'the deletion was not heard of').to.equal(2);

      await router.flush();
      await acknowledged;
      expect(await insights.countEntries('acc_gone')).to.equal(0);
      expect(await insights.loadAccountCells('acc_gone')).to.deep.equal([]);
      expect(await insights.loadCounters('acc_gone')).to.deep.equal([]);
      expect(await insights.countEntries('acc_kept')).to.equal(1);

      // Having read the deletion, the process has heard of it: the account's later requests are kept.
      const later = router.enqueue(heuristicWrite('acc_gone'));
      await router.flush();
      await later;
      expect(await insights.countEntries('acc_gone')).to.equal(1);
    } finally {
      await router.close();
      await insights.close();
      await scratch.drop();
    }
  });
});

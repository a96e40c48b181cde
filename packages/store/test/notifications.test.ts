import { expect } from 'chai';
import type { ChangeEvent, Store } from '../src/index.js';
import { decodeChange, encodeChange, MAX_LISTED_ACCOUNTS } from '../src/notifications.js';
import { BACKENDS, postgresQuery } from './helpers/backends.js';
import { heuristicWrite, sums } from './helpers/fixtures.js';

/** Resolves with the first event that matches, or rejects after the timeout. */
function nextEvent(
  store: Store,
  match: (event: ChangeEvent) => boolean,
  timeoutMs = 1000,
): Promise<{ event: ChangeEvent; at: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`no matching change event within ${timeoutMs} ms`));
    }, timeoutMs);
    const stop = store.onChange((event) => {
      if (!match(event)) return;
      clearTimeout(timer);
      stop();
      resolve({ event, at: performance.now() });
    });
  });
}

describe('notifications', function () {
  this.timeout(30_000);

  describe('payloads', () => {
    it('round-trip every kind of event', () => {
      for (const event of [
        { kind: 'cells' },
        { kind: 'cells', accountIds: ['acc_a', 'acc_b'] },
        { kind: 'rating', accountId: 'acc_a' },
        { kind: 'delete', accountId: 'acc_b' },
      ] as ChangeEvent[]) {
        expect(decodeChange(encodeChange(event))).to.deep.equal(event);
      }
    });

    it('drop an account list too long for a NOTIFY payload, meaning "any account"', () => {
      const accountIds = Array.from({ length: MAX_LISTED_ACCOUNTS + 1 }, (_, i) => `acc_${i}`);
      expect(decodeChange(encodeChange({ kind: 'cells', accountIds }))).to.deep.equal({ kind: 'cells' });
    });

    it('read anything unexpected as "cells changed, any account"', () => {
      expect(decodeChange('not json')).to.deep.equal({ kind: 'cells' });
      expect(decodeChange('{"k":"drop"}')).to.deep.equal({ kind: 'cells' });
    });
  });

  const postgres = BACKENDS.find((b) => b.name === 'postgres');
  (postgres ? describe : describe.skip)('across two stores on PostgreSQL', () => {
    let writer: Store;
    let reader: Store;

    before(async () => {
      const backend = postgres!;
      await backend.reset();
      writer = await backend.open();
      reader = await backend.open();
    });
    after(async () => {
      await writer?.close();
      await reader?.close();
    });

    it('delivers a rating and a deletion to the other store well under a second', async () => {
      const write = heuristicWrite('acc_remote');
      await writer.enqueue(write);

      const rated = nextEvent(reader, (e) => e.kind === 'rating');
      const ratedStart = performance.now();
      await writer.rateRequest('acc_remote', write.entry.id, () => ({
        rating: { score: 5, isHelpful: true, quality: 1 },
        cellDelta: sums({ n: 2, q: 2.3, ratings: 1 }),
      }));
      const rating = await rated;
      expect(rating.event).to.deep.equal({ kind: 'rating', accountId: 'acc_remote' });
      expect(rating.at - ratedStart).to.be.lessThan(1000);

      const deleted = nextEvent(reader, (e) => e.kind === 'delete');
      await writer.deleteAccountData('acc_remote');
      const deletion = (await deleted).event;
      expect(deletion).to.deep.equal({ kind: 'delete', accountId: 'acc_remote', deletion: deletion.deletion });
      expect(deletion.deletion).to.be.a('number').greaterThan(0);
      // What the event announces is visible to the reader once it arrives.
      expect(await reader.loadAccountCells('acc_remote')).to.deep.equal([]);
    });

    it('reconnects after losing its connection and announces a resync', async () => {
      const resync = nextEvent(reader, (e) => e.kind === 'cells' && e.accountIds === undefined, 10_000);
      // Cut every listening connection of the store's application from the server side.
      await postgresQuery(
        postgres!.databaseUrl as string,
        `select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and application_name = 'routeplex-store' and query ilike 'listen%'`,
      );
      await resync;
      const after = nextEvent(reader, (e) => e.kind === 'cells' && (e.accountIds ?? []).includes('acc_after'), 3000);
      await writer.enqueue(heuristicWrite('acc_after'));
      await after;
    });

    it('after reconnecting, announces that API keys may have changed and the deletions it missed', async () => {
      await writer.enqueue(heuristicWrite('acc_missed'));
      const keys = nextEvent(reader, (e) => e.kind === 'keys', 10_000);
      const deleted = nextEvent(reader, (e) => e.kind === 'delete' && e.accountId === 'acc_missed', 10_000);
      await postgresQuery(
        postgres!.databaseUrl as string,
        `select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and application_name = 'routeplex-store' and query ilike 'listen%'`,
      );
      // Committed while the reader's listener is away (it reconnects after 100 ms at the earliest).
      await writer.deleteAccountData('acc_missed');
      expect((await keys).event).to.deep.equal({ kind: 'keys' });
      expect((await deleted).event).to.include({ kind: 'delete', accountId: 'acc_missed' });
    });
  });
});

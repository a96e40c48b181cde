import { expect } from 'chai';
import { PgliteThread, openStore, type OpenStoreOptions } from '../../src/index.js';
import { openPglite, openPostgres, type DatabaseHandle } from '../../src/connection.js';
import { ListMigrationSource, MIGRATIONS } from '../../src/migrations/index.js';
import { insertEntries, rowsOf } from '../../src/sql.js';
import { createScratchDatabase } from '../helpers/backends.js';
import { entry } from '../helpers/fixtures.js';

/** A database as the store left it before 0005, and how to open a store on it. */
interface EarlierDatabase {
  handle: DatabaseHandle;
  storeOptions: OpenStoreOptions;
  dispose(): Promise<void>;
}

async function migratedUpTo0004(handle: DatabaseHandle): Promise<void> {
  const earlier = MIGRATIONS.filter((m) => m.name < '0005');
  expect(earlier.map((m) => m.name).at(-1)).to.equal('0004_contributors_with_answers');
  await handle.knex.migrate.latest({ migrationSource: new ListMigrationSource(earlier) });
}

const backends: { name: string; open(): Promise<EarlierDatabase> }[] = [
  {
    name: 'pglite',
    async open() {
      const pglite = new PgliteThread();
      const handle = await openPglite({ instance: pglite });
      await migratedUpTo0004(handle);
      return {
        handle,
        storeOptions: { pglite, listen: false },
        async dispose() {
          await handle.knex.destroy();
          await pglite.close();
        },
      };
    },
  },
];
const databaseUrl = process.env.DATABASE_URL;
if (databaseUrl) {
  backends.push({
    name: 'postgres',
    async open() {
      const scratch = await createScratchDatabase(databaseUrl, 'answers');
      const handle = await openPostgres({ databaseUrl: scratch.url, poolMax: 2, connectTimeoutMs: 5000 });
      await migratedUpTo0004(handle);
      return {
        handle,
        storeOptions: { databaseUrl: scratch.url, listen: false },
        async dispose() {
          await handle.knex.destroy();
          await scratch.drop();
        },
      };
    },
  });
}

describe('migration 0005_account_cell_answers', function () {
  this.timeout(60_000);

  for (const backend of backends) {
    it(`on ${backend.name}, counts answers from the entries and repairs contributors that drifted`, async () => {
      const earlier = await backend.open();
      try {
        const { knex } = earlier.handle;
        const completion = (accountId: string, model: string, at: string) =>
          entry(accountId, { model, createdAt: new Date(at) });
        await knex.transaction((trx) =>
          insertEntries(trx, [
            completion('acc_returns', 'gpt-4o-mini', '2025-01-15T09:00:00.000Z'),
            completion('acc_returns', 'gpt-4o-mini', '2027-07-15T09:00:00.000Z'),
            completion('acc_returns', 'model-b', '2025-03-01T09:00:00.000Z'),
            completion('acc_stays', 'gpt-4o-mini', '2025-02-10T09:00:00.000Z'),
            completion('acc_failing', 'fallback', '2025-02-11T09:00:00.000Z'),
            // A selection made no call, so it is no answer.
            entry('acc_failing', { kind: 'selection', heuristicQuality: null, model: 'gpt-4o-mini' }),
          ]),
        );
        // The cells the earlier code wrote, acc_returns counted twice on gpt-4o-mini: its answer of July 2027
        // (scale 2^30.4) made its January 2025 one (scale 2^0.47) look like rounding error.
        await knex.raw(
          `insert into account_cells (account_id, query_type, model, n, requests, failures) values
             ('acc_returns', 'code_debug', 'gpt-4o-mini', 1424000001.38, 1424000001.38, 0),
             ('acc_returns', 'code_debug', 'model-b', 2, 2, 0),
             ('acc_stays', 'code_debug', 'gpt-4o-mini', 1.5, 1.5, 0),
             ('acc_failing', 'code_debug', 'gpt-4o-mini', 0, 0, 1.5),
             ('acc_failing', 'code_debug', 'fallback', 1.5, 1.5, 0)`,
        );
        await knex.raw(
          `insert into global_cells (query_type, model, n, requests, failures, contributors) values
             ('code_debug', 'gpt-4o-mini', 1424000002.88, 1424000002.88, 1.5, 3),
             ('code_debug', 'model-b', 2, 2, 0, 1),
             ('code_debug', 'fallback', 1.5, 1.5, 0, 1)`,
        );

        const store = await openStore(earlier.storeOptions);
        try {
          const answers = rowsOf(
            await knex.raw('select account_id, model, answers from account_cells order by account_id, model'),
          ).map((row) => [row.account_id, row.model, Number(row.answers)]);
          expect(answers).to.deep.equal([
            ['acc_failing', 'fallback', 1],
            ['acc_failing', 'gpt-4o-mini', 0],
            ['acc_returns', 'gpt-4o-mini', 2],
            ['acc_returns', 'model-b', 1],
            ['acc_stays', 'gpt-4o-mini', 1],
          ]);
          const contributors = async () =>
            Object.fromEntries((await store.loadGlobalCells()).map((g) => [g.model, g.contributors]));
          expect(await contributors()).to.deep.equal({ fallback: 1, 'gpt-4o-mini': 2, 'model-b': 1 });

          await store.deleteAccountData('acc_returns');
          expect(await contributors()).to.deep.equal({ fallback: 1, 'gpt-4o-mini': 1 });
        } finally {
          await store.close();
        }
      } finally {
        await earlier.dispose();
      }
    });
  }
});

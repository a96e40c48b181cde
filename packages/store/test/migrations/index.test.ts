import { expect } from 'chai';
import { StoreError, openStore, type StoreMigration } from '../../src/index.js';
import { ListMigrationSource, MIGRATIONS } from '../../src/migrations/index.js';
import { BACKENDS, createScratchDatabase, postgresQuery, sharedPgliteInstance } from '../helpers/backends.js';

/** Creates a table, changes an existing one, then fails: none of it may survive. */
const failsHalfWay: StoreMigration = {
  name: '9999_fails_half_way',
  async up(knex) {
    await knex.raw('create table half_done (id integer primary key)');
    await knex.raw('alter table request_entries add column leaked_note text');
    await knex.raw('select 1 / 0');
  },
};

async function openFailure(options: Parameters<typeof openStore>[0]): Promise<StoreError> {
  try {
    const store = await openStore(options);
    await store.close();
  } catch (error) {
    expect(error).to.be.instanceOf(StoreError);
    return error as StoreError;
  }
  throw new Error('expected openStore to fail');
}

describe('migrations', function () {
  this.timeout(60_000);

  describe('ListMigrationSource', () => {
    it('lists migrations in name order', async () => {
      const noop = async () => undefined;
      const source = new ListMigrationSource([
        { name: '0002_b', up: noop },
        { name: '0001_a', up: noop },
      ]);
      expect((await source.getMigrations()).map((m) => source.getMigrationName(m))).to.deep.equal(['0001_a', '0002_b']);
    });

    it('refuses two migrations with the same name', () => {
      const noop = async () => undefined;
      expect(
        () =>
          new ListMigrationSource([
            { name: '0001_a', up: noop },
            { name: '0001_a', up: noop },
          ]),
      ).to.throw(/unique name/);
    });

    it('starts with the initial schema', () => {
      expect(MIGRATIONS.map((m) => m.name)[0]).to.equal('0001_initial_schema');
    });
  });

  for (const backend of BACKENDS) {
    it(`on ${backend.name}, a migration failing half-way leaves no partial schema and names itself`, async () => {
      await backend.store();
      const error = await openFailure(
        backend.name === 'pglite'
          ? { pglite: sharedPgliteInstance(), extraMigrations: [failsHalfWay] }
          : { databaseUrl: backend.databaseUrl, extraMigrations: [failsHalfWay] },
      );
      expect(error.code).to.equal('FAILED_PRECONDITION');
      expect(error.reason).to.equal('MIGRATION_FAILED');
      expect(error.message).to.include('9999_fails_half_way');
      expect(error.message).to.include('division by zero');

      expect(
        await backend.query(`select 1 from information_schema.tables where table_name = 'half_done'`),
      ).to.deep.equal([]);
      expect(
        await backend.query(
          `select 1 from information_schema.columns where table_name = 'request_entries' and column_name = 'leaked_note'`,
        ),
      ).to.deep.equal([]);
      expect((await backend.query('select name from knex_migrations')).map((r) => r.name)).to.deep.equal(
        MIGRATIONS.map((m) => m.name),
      );
      expect((await backend.query('select is_locked from knex_migrations_lock'))[0]?.is_locked).to.equal(0);
      // The suite's store still works on the unchanged schema.
      expect(await (await backend.store()).countEntries()).to.be.a('number');
    });
  }

  const databaseUrl = process.env.DATABASE_URL;
  (databaseUrl ? it : it.skip)(
    'on a fresh PostgreSQL database, a failing migration rolls back the whole pending set',
    async () => {
      const scratch = await createScratchDatabase(databaseUrl as string, 'migration');
      try {
        const error = await openFailure({ databaseUrl: scratch.url, extraMigrations: [failsHalfWay] });
        expect(error.reason).to.equal('MIGRATION_FAILED');
        const tables = await postgresQuery(
          scratch.url,
          `select table_name from information_schema.tables where table_schema = 'public' and table_name not like 'knex_%'`,
        );
        expect(tables).to.deep.equal([]);
        const functions = await postgresQuery(scratch.url, `select proname from pg_proc where proname like 'rpx_%'`);
        expect(functions).to.deep.equal([]);
        // Once the bad migration is gone, the same database migrates cleanly.
        const store = await openStore({ databaseUrl: scratch.url, listen: false });
        expect(await store.countEntries()).to.equal(0);
        await store.close();
      } finally {
        await scratch.drop();
      }
    },
  );
});

import type { Knex } from 'knex';
import { initialSchema } from './0001_initial_schema.js';
import { signalsCheckWithoutJsonpath } from './0002_signals_check_without_jsonpath.js';
import { deletionMarkers } from './0003_deletion_markers.js';
import { contributorsWithAnswers } from './0004_contributors_with_answers.js';
import { accountCellAnswers } from './0005_account_cell_answers.js';

/** A schema migration. Migrations are TypeScript modules listed here, so they load under tsx and in bundles alike. */
export interface StoreMigration {
  /** Sortable unique name, recorded in knex_migrations. */
  name: string;
  up(knex: Knex): Promise<void>;
  down?(knex: Knex): Promise<void>;
}

export const MIGRATIONS: readonly StoreMigration[] = [
  initialSchema,
  signalsCheckWithoutJsonpath,
  deletionMarkers,
  contributorsWithAnswers,
  accountCellAnswers,
];

/**
 * Tables of account data the migrations create, in dependency order (children after parents). The
 * deletion bookkeeping of 0003 (deletion_clock, account_deletions) is not account data and not listed.
 */
export const STORE_TABLES = [
  'accounts',
  'api_keys',
  'request_entries',
  'ratings',
  'account_cells',
  'global_cells',
  'account_counters',
] as const;
export type StoreTable = (typeof STORE_TABLES)[number];

/** Error raised by a migration, carrying the migration's name so that the report can name it. */
export class MigrationStepError extends Error {
  constructor(
    readonly migrationName: string,
    cause: unknown,
  ) {
    super(`migration ${migrationName} failed`, { cause });
  }
}

/** knex migration source over an in-code list, in name order. */
export class ListMigrationSource implements Knex.MigrationSource<StoreMigration> {
  private readonly migrations: StoreMigration[];

  constructor(migrations: readonly StoreMigration[]) {
    this.migrations = [...migrations].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const names = new Set(this.migrations.map((m) => m.name));
    if (names.size !== this.migrations.length)
      throw new Error('two migrations share a name: give every migration a unique name');
  }

  getMigrations(): Promise<StoreMigration[]> {
    return Promise.resolve(this.migrations);
  }

  getMigrationName(migration: StoreMigration): string {
    return migration.name;
  }

  getMigration(migration: StoreMigration): Promise<Knex.Migration> {
    return Promise.resolve({
      up: async (knex: Knex) => {
        try {
          await migration.up(knex);
        } catch (error) {
          throw new MigrationStepError(migration.name, error);
        }
      },
      down: async (knex: Knex) => {
        if (migration.down === undefined) throw new Error(`migration ${migration.name} cannot be reverted`);
        await migration.down(knex);
      },
    });
  }
}

import type { Knex } from 'knex';
import type { StoreMigration } from './index.js';

// A global cell's contributors were the accounts with a cell of its (query type, model), failed calls only
// included; they are now the accounts with at least one answered request there, the ones whose quality the
// global cell holds (the anonymity threshold counts them). Recounted once from the account cells.
export const contributorsWithAnswers: StoreMigration = {
  name: '0004_contributors_with_answers',
  async up(knex: Knex): Promise<void> {
    await knex.raw(
      `update global_cells g set contributors = (
         select count(*) from account_cells a where a.query_type = g.query_type and a.model = g.model and a.requests > 0)`,
    );
  },
  async down(knex: Knex): Promise<void> {
    await knex.raw(
      `update global_cells g set contributors = (
         select count(*) from account_cells a where a.query_type = g.query_type and a.model = g.model)`,
    );
  },
};

import type { Knex } from 'knex';
import type { StoreMigration } from './index.js';

// Whether an account has answered in a cell was read from the cell's scaled request sum, "none before" up
// to a relative rounding tolerance: an answer some 30 half-lives after the account's last one (2.5 years
// at 30 days) dwarfs that sum, so the account was counted as a new contributor again while its deletion
// subtracted it once, leaving the global cell above its real number of accounts for good. Account cells
// now count their answered requests, unscaled. The count is rebuilt from the entries, one per answered
// request (a completion with a quality; failed calls have no entry of their own, selections no answer),
// and every global cell's contributors are recounted from it.
export const accountCellAnswers: StoreMigration = {
  name: '0005_account_cell_answers',
  async up(knex: Knex): Promise<void> {
    await knex.raw('alter table account_cells add column answers bigint not null default 0 check (answers >= 0)');
    await knex.raw(
      `update account_cells a set answers = e.answers
       from (select account_id, query_type, model, count(*) as answers from request_entries
             where kind = 'completion' and heuristic_quality is not null
             group by account_id, query_type, model) e
       where a.account_id = e.account_id and a.query_type = e.query_type and a.model = e.model`,
    );
    await knex.raw(
      `update global_cells g set contributors = (
         select count(*) from account_cells a where a.query_type = g.query_type and a.model = g.model and a.answers > 0)`,
    );
  },
  async down(knex: Knex): Promise<void> {
    await knex.raw('alter table account_cells drop column answers');
    // The rule the earlier code subtracts by on deletion.
    await knex.raw(
      `update global_cells g set contributors = (
         select count(*) from account_cells a where a.query_type = g.query_type and a.model = g.model and a.requests > 0)`,
    );
  },
};

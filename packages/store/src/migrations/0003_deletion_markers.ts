import type { Knex } from 'knex';
import type { StoreMigration } from './index.js';

// A deletion of an account's data leaves a marker numbered in commit order (the counter row is locked from
// its increment to the commit, so deletions take numbers in the order they commit). A process stamps each
// batch of writes with the highest number it has heard of when it takes the batch from its queue; inside the
// batch's transaction, a marker above that stamp is a deletion the process had not heard of, and the
// batch drops that account's writes instead of bringing its data back. Markers hold only the account id
// (which the accounts table keeps anyway) and are removed an hour later: a batch never waits that long.
export const deletionMarkers: StoreMigration = {
  name: '0003_deletion_markers',
  async up(knex: Knex): Promise<void> {
    await knex.raw(`create table deletion_clock (
      id smallint primary key check (id = 1),
      seq bigint not null check (seq >= 0))`);
    await knex.raw('insert into deletion_clock (id, seq) values (1, 0)');
    await knex.raw(`create table account_deletions (
      seq bigint primary key,
      account_id text not null check (char_length(account_id) between 1 and 64),
      deleted_at timestamptz not null default now())`);
    await knex.raw('create index account_deletions_deleted_at on account_deletions (deleted_at)');
  },
  async down(knex: Knex): Promise<void> {
    await knex.raw('drop table account_deletions');
    await knex.raw('drop table deletion_clock');
  },
};

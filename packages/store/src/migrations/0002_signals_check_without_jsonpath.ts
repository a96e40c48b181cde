import type { Knex } from 'knex';
import { MAX_SIGNALS_JSON_BYTES } from './0001_initial_schema.js';
import type { StoreMigration } from './index.js';

// The same rule as 0001's signals check (an object of numbers under identifier names of at most 48
// characters, at most 4 KiB), tested on the canonical text form of the jsonb with one regular
// expression, which PostgreSQL compiles once and caches. 0001 walked the pairs with a jsonpath whose
// like_regex is compiled again for every row: about a quarter of the embedded database's time per
// inserted entry. The store validates signals before writing either way; this is the schema's guard.
const NAME = '"[A-Za-z][A-Za-z0-9_]{0,47}"';
const NUMBER = String.raw`-?[0-9]+(\.[0-9]+)?`;
const PAIR = `${NAME}: ${NUMBER}`;
export const SIGNALS_TEXT_PATTERN = String.raw`^\{(${PAIR}(, ${PAIR})*)?\}$`;

const CHECK_NAME = 'request_entries_signals_check';

/** knex.raw reads "?" as a placeholder; "\\?" is a literal question mark. */
const escapePlaceholders = (sql: string) => sql.replaceAll('?', '\\?');

export const signalsCheckWithoutJsonpath: StoreMigration = {
  name: '0002_signals_check_without_jsonpath',
  async up(knex: Knex): Promise<void> {
    await knex.raw(`alter table request_entries drop constraint ${CHECK_NAME}`);
    await knex.raw(
      escapePlaceholders(
        `alter table request_entries add constraint ${CHECK_NAME} check (
           octet_length(signals::text) <= ${MAX_SIGNALS_JSON_BYTES} and signals::text ~ '${SIGNALS_TEXT_PATTERN}')`,
      ),
    );
  },
};

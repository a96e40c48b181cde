import type { Knex } from 'knex';
import type { StoreMigration } from './index.js';

// Patterns of the short identifiers the store accepts; it validates them before writing. The schema
// enforces the same bounds on length (and the patterns themselves on the low-volume tables): no text
// column can hold a prompt or an answer. The hot tables check lengths only, because a regular expression
// per column and row costs PostgreSQL about as much as the rest of the insert.
export const ACCOUNT_ID_PATTERN = '^[A-Za-z0-9_.:@|+-]{1,64}$';
export const REQUEST_ID_PATTERN = '^req_[A-Za-z0-9]{8,64}$';
export const API_KEY_ID_PATTERN = '^key_[A-Za-z0-9]{8,64}$';
export const QUERY_TYPE_PATTERN = '^[a-z][a-z0-9_]{0,31}$';
export const MODEL_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$';
export const PROVIDER_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
export const STATUS_PATTERN = '^[a-z][a-z0-9_]{0,31}$';
export const COMPLEXITY_PATTERN = '^[A-Za-z0-9_.-]{1,16}$';
export const HEX64_PATTERN = '^[0-9a-f]{64}$';
export const KEY_PREFIX_PATTERN = '^[A-Za-z0-9_]{1,16}$';
export const SIGNAL_NAME_PATTERN = '^[A-Za-z][A-Za-z0-9_]{0,47}$';
export const MAX_SIGNALS_JSON_BYTES = 4096;
export const MAX_LATENCY_BUCKETS = 256;
export const MAX_ACCOUNT_NAME_LENGTH = 100;

const cellSumColumns = `
  n double precision not null default 0,
  q double precision not null default 0,
  q2 double precision not null default 0,
  requests double precision not null default 0,
  ratings double precision not null default 0,
  failures double precision not null default 0,
  latency_ms double precision not null default 0,
  cost_usd double precision not null default 0,
  latency_hist double precision[] not null default '{}' check (cardinality(latency_hist) <= ${MAX_LATENCY_BUCKETS})`;

const statements = [
  // Element-wise sum and difference of latency histograms (missing elements count as 0).
  `create or replace function rpx_float8_array_add(a double precision[], b double precision[]) returns double precision[]
     language sql immutable parallel safe as
     $$ select coalesce(array_agg(coalesce(x, 0) + coalesce(y, 0) order by i), '{}'::double precision[])
        from unnest(a, b) with ordinality as u(x, y, i) $$`,
  `create or replace function rpx_float8_array_sub(a double precision[], b double precision[]) returns double precision[]
     language sql immutable parallel safe as
     $$ select coalesce(array_agg(coalesce(x, 0) - coalesce(y, 0) order by i), '{}'::double precision[])
        from unnest(a, b) with ordinality as u(x, y, i) $$`,
  `create table accounts (
     id text primary key check (id ~ '${ACCOUNT_ID_PATTERN}'),
     name text not null check (char_length(name) between 1 and ${MAX_ACCOUNT_NAME_LENGTH} and name !~ '[[:cntrl:]]'),
     created_at timestamptz not null default now()
   )`,
  `create table api_keys (
     account_id text not null references accounts (id) on delete cascade check (account_id ~ '${ACCOUNT_ID_PATTERN}'),
     id text not null check (id ~ '${API_KEY_ID_PATTERN}'),
     key_hash text not null unique check (key_hash ~ '${HEX64_PATTERN}'),
     prefix text not null check (prefix ~ '${KEY_PREFIX_PATTERN}'),
     created_at timestamptz not null default now(),
     revoked_at timestamptz,
     primary key (account_id, id)
   )`,
  `create table request_entries (
     account_id text not null check (char_length(account_id) between 1 and 64),
     id text not null check (char_length(id) between 12 and 68),
     created_at timestamptz not null,
     kind text not null check (kind in ('completion', 'selection')),
     query_type text not null check (char_length(query_type) between 1 and 32),
     complexity text check (char_length(complexity) between 1 and 16),
     model text not null check (char_length(model) between 1 and 128),
     provider text not null check (char_length(provider) between 1 and 64),
     stage text not null check (stage in ('cold_start', 'warm_up', 'established')),
     personal_weight double precision not null check (personal_weight >= 0 and personal_weight <= 1),
     changed_by_personal boolean not null,
     auto_routed boolean not null,
     enhanced boolean not null,
     preference text not null check (preference in ('quality', 'balanced', 'cost', 'speed')),
     status text not null check (char_length(status) between 1 and 32),
     heuristic_quality double precision check (heuristic_quality >= 0 and heuristic_quality <= 1),
     signals jsonb not null default '{}' check (
       jsonb_typeof(signals) = 'object' and octet_length(signals::text) <= ${MAX_SIGNALS_JSON_BYTES}
       and not jsonb_path_exists(signals, '$.keyvalue() \\? (@.value.type() != "number" || !(@.key like_regex "${SIGNAL_NAME_PATTERN}"))')
     ),
     latency_ms double precision not null check (latency_ms >= 0),
     prompt_tokens integer not null check (prompt_tokens >= 0),
     completion_tokens integer not null check (completion_tokens >= 0),
     cost_usd double precision not null check (cost_usd >= 0),
     message_hmac text check (char_length(message_hmac) = 64),
     primary key (account_id, id)
   )`,
  `create index request_entries_by_time on request_entries (account_id, created_at desc, id desc)`,
  `create table ratings (
     account_id text not null check (account_id ~ '${ACCOUNT_ID_PATTERN}'),
     request_id text not null check (request_id ~ '${REQUEST_ID_PATTERN}'),
     score smallint check (score between 1 and 5),
     is_helpful boolean,
     quality double precision not null check (quality >= 0 and quality <= 1),
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now(),
     primary key (account_id, request_id),
     foreign key (account_id, request_id) references request_entries (account_id, id) on delete cascade,
     check (score is not null or is_helpful is not null)
   )`,
  `create table account_cells (
     account_id text not null check (char_length(account_id) between 1 and 64),
     query_type text not null check (char_length(query_type) between 1 and 32),
     model text not null check (char_length(model) between 1 and 128),
     ${cellSumColumns},
     primary key (account_id, query_type, model)
   )`,
  `create table global_cells (
     query_type text not null check (char_length(query_type) between 1 and 32),
     model text not null check (char_length(model) between 1 and 128),
     ${cellSumColumns},
     contributors integer not null default 0 check (contributors >= 0),
     primary key (query_type, model)
   )`,
  `create table account_counters (
     account_id text not null check (char_length(account_id) between 1 and 64),
     query_type text not null check (char_length(query_type) between 1 and 32),
     requests bigint not null default 0,
     auto_routed bigint not null default 0,
     changed_by_personal bigint not null default 0,
     cold_start bigint not null default 0,
     warm_up bigint not null default 0,
     established bigint not null default 0,
     enhanced_n double precision not null default 0,
     enhanced_q double precision not null default 0,
     enhanced_q2 double precision not null default 0,
     plain_n double precision not null default 0,
     plain_q double precision not null default 0,
     plain_q2 double precision not null default 0,
     primary key (account_id, query_type)
   )`,
];

export const initialSchema: StoreMigration = {
  name: '0001_initial_schema',
  async up(knex: Knex): Promise<void> {
    // One statement per call: PGlite's extended protocol accepts a single statement per query.
    for (const sql of statements) await knex.raw(sql);
  },
  async down(knex: Knex): Promise<void> {
    for (const table of [
      'account_counters',
      'global_cells',
      'account_cells',
      'ratings',
      'request_entries',
      'api_keys',
      'accounts',
    ]) {
      await knex.raw(`drop table if exists ${table}`);
    }
    for (const fn of [
      'rpx_float8_array_sub(double precision[], double precision[])',
      'rpx_float8_array_add(double precision[], double precision[])',
    ]) {
      await knex.raw(`drop function if exists ${fn}`);
    }
  },
};

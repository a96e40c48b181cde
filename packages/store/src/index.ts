export { openStore, storeLocation } from './store.js';
export type {
  DeletionResult,
  EntryPage,
  ListEntriesOptions,
  OpenStoreOptions,
  RatingComputation,
  RatingRequest,
  RatingResult,
  Store,
} from './store.js';
export { StoreError, redactDatabaseUrl } from './errors.js';
export type { StoreErrorCode, StoreErrorReason } from './errors.js';
export { hashApiKey, newRequestId } from './ids.js';
export { parseDatabaseUrl } from './connection.js';
export { PgliteThread } from './pglite-thread.js';
export type { EmbeddedDatabase } from './pglite-thread.js';
export { CHANGE_CHANNEL } from './notifications.js';
export type { ChangeListener } from './notifications.js';
export { STORE_TABLES } from './migrations/index.js';
export { ACCOUNT_ID_PATTERN, PROVIDER_PATTERN } from './migrations/0001_initial_schema.js';
export type { StoreMigration, StoreTable } from './migrations/index.js';
export { ENTRY_KINDS, PREFERENCES, QUERY_TYPES, STAGES } from './types.js';
export type * from './types.js';

import type { Knex } from 'knex';
import pg from 'pg';
import type { ChangeEvent, StoreLogger } from './types.js';
import type { EmbeddedDatabase } from './pglite-thread.js';

/** The NOTIFY channel every store writes its changes to. */
export const CHANGE_CHANNEL = 'routeplex_store_changes';

/** At most this many account ids are listed in a 'cells' event (NOTIFY payloads stay far below 8000 bytes). */
export const MAX_LISTED_ACCOUNTS = 100;

export function encodeChange(event: ChangeEvent): string {
  const payload: { k: string; a?: string; as?: string[]; o?: string; d?: number } = { k: event.kind };
  if (event.origin !== undefined) payload.o = event.origin;
  if (event.accountId !== undefined) payload.a = event.accountId;
  if (event.deletion !== undefined) payload.d = event.deletion;
  if (event.accountIds !== undefined && event.accountIds.length <= MAX_LISTED_ACCOUNTS) payload.as = event.accountIds;
  return JSON.stringify(payload);
}

/** Decodes a payload; anything unexpected becomes "cells changed, any account", the safe over-approximation. */
export function decodeChange(payload: string): ChangeEvent {
  try {
    const parsed = JSON.parse(payload) as { k?: unknown; a?: unknown; as?: unknown; o?: unknown; d?: unknown };
    if (parsed.k === 'rating' || parsed.k === 'delete' || parsed.k === 'cells' || parsed.k === 'keys') {
      const event: ChangeEvent = { kind: parsed.k };
      if (typeof parsed.o === 'string') event.origin = parsed.o;
      if (typeof parsed.a === 'string') event.accountId = parsed.a;
      if (typeof parsed.d === 'number' && Number.isSafeInteger(parsed.d)) event.deletion = parsed.d;
      if (Array.isArray(parsed.as) && parsed.as.every((a) => typeof a === 'string'))
        event.accountIds = parsed.as as string[];
      return event;
    }
  } catch {
    // fall through
  }
  return { kind: 'cells' };
}

/** Sends a change notification inside a transaction: it is delivered when (and only if) the transaction commits. */
export async function notifyChange(db: Knex.Transaction, event: ChangeEvent): Promise<void> {
  const accountIds =
    event.accountIds !== undefined && event.accountIds.length > MAX_LISTED_ACCOUNTS ? undefined : event.accountIds;
  await db.raw('select pg_notify(?, ?)', [CHANGE_CHANNEL, encodeChange({ ...event, accountIds })]);
}

export type ChangeListener = (event: ChangeEvent) => void;

/** Fans events out to listeners; a throwing listener is logged and does not stop the others. */
export class ChangeHub {
  private readonly listeners = new Set<ChangeListener>();

  constructor(private readonly logger: StoreLogger) {}

  add(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: ChangeEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.error(
          { kind: event.kind, error: error instanceof Error ? error.name : 'unknown' },
          'store change listener threw',
        );
      }
    }
  }
}

export interface ChangeSubscription {
  close(): Promise<void>;
}

/**
 * LISTENs on a dedicated PostgreSQL connection. When the connection drops it reconnects with backoff and
 * then emits a 'cells' event without accounts, since notifications sent meanwhile were lost.
 */
export async function listenPostgres(
  config: pg.ClientConfig,
  hub: ChangeHub,
  logger: StoreLogger,
): Promise<ChangeSubscription> {
  let closed = false;
  let client: pg.Client | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let backoffMs = 100;

  const connect = async (): Promise<void> => {
    const next = new pg.Client(config);
    next.on('notification', (message) => {
      if (message.channel === CHANGE_CHANNEL) hub.emit(decodeChange(message.payload ?? ''));
    });
    const lost = (error?: Error) => {
      if (closed || client !== next) return;
      client = undefined;
      logger.warn({ error: error?.name ?? 'end' }, 'store change listener lost its connection; reconnecting');
      next.end().catch(() => undefined);
      scheduleReconnect();
    };
    next.on('error', lost);
    next.on('end', () => lost());
    client = next;
    try {
      await next.connect();
      await next.query(`listen ${CHANGE_CHANNEL}`);
    } catch (error) {
      client = undefined;
      next.removeAllListeners('end');
      next.on('error', () => undefined);
      await next.end().catch(() => undefined);
      throw error;
    }
  };

  const scheduleReconnect = () => {
    if (closed || retryTimer !== undefined) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      connect().then(
        () => {
          backoffMs = 100;
          logger.info({}, 'store change listener reconnected');
          // Whatever happened meanwhile was not heard: any account's cells, any key, any deletion (the
          // store reads the deletion markers it missed on the 'cells' event without accounts).
          hub.emit({ kind: 'cells' });
          hub.emit({ kind: 'keys' });
        },
        () => {
          backoffMs = Math.min(backoffMs * 2, 5000);
          scheduleReconnect();
        },
      );
    }, backoffMs);
  };

  await connect();
  return {
    async close() {
      closed = true;
      if (retryTimer !== undefined) clearTimeout(retryTimer);
      const current = client;
      client = undefined;
      if (current !== undefined) await current.end().catch(() => undefined);
    },
  };
}

/**
 * PGlite: LISTEN through the store's own (single) connection, and take the notifications PGlite dispatches.
 * Every store sharing the instance in this process receives them.
 */
export async function listenPglite(knex: Knex, pglite: EmbeddedDatabase, hub: ChangeHub): Promise<ChangeSubscription> {
  await knex.raw(`listen ${CHANGE_CHANNEL}`);
  const unsubscribe = pglite.onNotification((channel, payload) => {
    if (channel === CHANGE_CHANNEL) hub.emit(decodeChange(payload));
  });
  return {
    close() {
      unsubscribe();
      return Promise.resolve();
    },
  };
}

/**
 * The embedded database on a thread of its own. PGlite runs PostgreSQL compiled to WebAssembly on the
 * thread that calls it: a batch commit of a few hundred entries holds that thread for tens of
 * milliseconds. On a worker thread the services' event loop keeps answering requests meanwhile, and the
 * database's work can run on another core.
 *
 * The worker owns the PGlite instance; `PgliteThread` is its stand-in on the calling thread, with the
 * part of PGlite's interface the store uses (query, exec, notifications, close).
 */
import { Worker } from 'node:worker_threads';
import type { Results } from '@electric-sql/pglite';

/** What the store needs of an embedded database: PGlite itself, or a PgliteThread. */
export interface EmbeddedDatabase {
  readonly waitReady: Promise<void>;
  query<T>(sql: string, params?: unknown[], options?: Record<string, unknown>): Promise<Results<T>>;
  exec(sql: string): Promise<Results[]>;
  onNotification(callback: (channel: string, payload: string) => void): () => void;
  close(): Promise<void>;
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/** int8 and numeric as JS numbers, as on PostgreSQL (PGlite returns numeric as a string). */
export const PGLITE_PARSERS = {
  [INT8_OID]: (value: string) => Number(value),
  [NUMERIC_OID]: (value: string) => Number.parseFloat(value),
};

export type ToWorker =
  | { id: number; op: 'query'; sql: string; params: unknown[] | undefined; options: Record<string, unknown> }
  | { id: number; op: 'exec'; sql: string }
  | { id: number; op: 'close' };

export type FromWorker =
  | { op: 'ready' }
  | { op: 'open-failed'; error: SerializedError }
  | { op: 'notification'; channel: string; payload: string }
  | { op: 'result'; id: number; result: unknown }
  | { op: 'error'; id: number; error: SerializedError };

/**
 * A database error as plain data: its message and PostgreSQL fields (code, constraint, ...), without the
 * statement and its parameters (see pglite-worker.mjs).
 */
export interface SerializedError {
  name: string;
  message: string;
  fields: Record<string, string | number | boolean>;
}

export function deserializeError(data: SerializedError): Error {
  const error = new Error(data.message);
  error.name = data.name;
  Object.assign(error, data.fields);
  return error;
}

const WORKER_URL = new URL('./pglite-worker.mjs', import.meta.url);

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

export class PgliteThread implements EmbeddedDatabase {
  readonly waitReady: Promise<void>;
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(channel: string, payload: string) => void>();
  private nextId = 1;
  private failure: Error | undefined;
  private closing: Promise<void> | undefined;

  /**
   * Opens PGlite in `dir` (undefined: in memory) on a new worker thread. `onFailure` hears once if the
   * thread stops on its own after it was ready (not after close()): every later query fails. `onClosed`
   * hears when close() has stopped the thread.
   */
  constructor(
    dir?: string,
    private readonly options: { onFailure?: (error: Error) => void; onClosed?: () => void } = {},
  ) {
    // The worker is plain JavaScript and needs none of the caller's flags (some, like --input-type, break it).
    this.worker = new Worker(WORKER_URL, { workerData: { dir }, execArgv: [] });
    let ready = false;
    this.waitReady = new Promise<void>((resolve, reject) => {
      this.worker.on('message', (message: FromWorker) => {
        switch (message.op) {
          case 'ready':
            ready = true;
            resolve();
            return;
          case 'open-failed':
            reject(deserializeError(message.error));
            return;
          case 'notification':
            for (const listener of this.listeners) listener(message.channel, message.payload);
            return;
          case 'result':
            this.settle(message.id)?.resolve(message.result);
            return;
          case 'error':
            this.settle(message.id)?.reject(deserializeError(message.error));
            return;
        }
      });
      const fail = (error: Error) => {
        if (this.failure !== undefined) return;
        this.failure = error;
        reject(error);
        if (ready && this.closing === undefined) options.onFailure?.(error);
        for (const [id, pending] of this.pending) {
          this.pending.delete(id);
          pending.reject(error);
        }
      };
      this.worker.on('error', (error) => fail(new Error(`the embedded database thread failed: ${error.message}`)));
      this.worker.on('exit', (code) => fail(new Error(`the embedded database thread exited (code ${code})`)));
    });
    // A caller that never awaits waitReady learns of the failure from its first query instead.
    this.waitReady.catch(() => undefined);
  }

  query<T>(sql: string, params?: unknown[], options?: Record<string, unknown>): Promise<Results<T>> {
    // Parsers are functions, which cannot cross threads: the worker applies PGLITE_PARSERS.
    const { parsers: _parsers, ...rest } = options ?? {};
    return this.call<Results<T>>({ id: 0, op: 'query', sql, params, options: rest });
  }

  exec(sql: string): Promise<Results[]> {
    return this.call<Results[]>({ id: 0, op: 'exec', sql });
  }

  onNotification(callback: (channel: string, payload: string) => void): () => void {
    this.listeners.add(callback);
    return () => this.listeners.delete(callback);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.failure === undefined) await this.call({ id: 0, op: 'close' }).catch(() => undefined);
      await this.worker.terminate();
      this.options.onClosed?.();
    })();
    return this.closing;
  }

  private call<T>(message: ToWorker): Promise<T> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.postMessage({ ...message, id });
    });
  }

  private settle(id: number): Pending | undefined {
    const pending = this.pending.get(id);
    this.pending.delete(id);
    return pending;
  }
}

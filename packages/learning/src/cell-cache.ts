import { addCells, emptyCell, type CellSums, type GlobalCellSums } from '@routeplex/scoring';
import type { Store } from '@routeplex/store';

/** model id -> cell */
export type ModelCells<T extends CellSums = CellSums> = Map<string, T>;
/** query type -> model id -> cell */
export type TypeCells<T extends CellSums = CellSums> = Map<string, ModelCells<T>>;

export interface CellDeltaInput {
  queryType: string;
  model: string;
  delta: CellSums;
}

type CellSource = Pick<Store, 'loadAccountCells' | 'loadGlobalCells' | 'onChange' | 'instanceId'>;

/**
 * The cells a replica routes with. In the steady state a decision reads only memory: an account's cells
 * are loaded once and then kept current by the replica's own deltas (applied at once, before the batch
 * reaches the database) and by change notifications from other replicas (a rating or a deletion drops the
 * account, so the next request reloads it; batches refresh the global cells).
 */
export class LearningCache {
  private global: TypeCells<GlobalCellSums> = new Map();
  private readonly accounts = new Map<string, Promise<TypeCells>>();
  private globalReload: Promise<void> | undefined;
  private globalTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly source: CellSource,
    private readonly options: { maxAccounts: number; globalRefreshDebounceMs: number } = {
      maxAccounts: 10_000,
      globalRefreshDebounceMs: 200,
    },
  ) {}

  async start(): Promise<void> {
    this.unsubscribe = this.source.onChange((event) => {
      if (event.kind === 'rating' || event.kind === 'delete') {
        if (event.accountId) this.accounts.delete(event.accountId);
        void this.reloadGlobal();
      } else if (event.kind === 'cells') {
        // This replica's own batches are already applied in memory.
        if (event.origin === this.source.instanceId) return;
        // Another replica's batch: the accounts it names reload lazily.
        for (const id of event.accountIds ?? []) this.accounts.delete(id);
        if (!event.accountIds) this.accounts.clear();
        this.scheduleGlobalReload();
      }
    });
    await this.reloadGlobal();
  }

  close(): void {
    this.unsubscribe?.();
    if (this.globalTimer) clearTimeout(this.globalTimer);
  }

  /** This account's cells for one query type (model -> cell). */
  async personal(accountId: string, queryType: string): Promise<ModelCells> {
    const cells = await this.accountCells(accountId);
    return cells.get(queryType) ?? new Map();
  }

  /** Global cells for one query type, with their contributor counts (not yet gated by K). */
  globalCells(queryType: string): ModelCells<GlobalCellSums> {
    return this.global.get(queryType) ?? new Map();
  }

  /** Applies a replica's own deltas at once, so that the next decision in this process sees them. */
  applyLocal(accountId: string, deltas: readonly CellDeltaInput[]): void {
    const account = this.accounts.get(accountId);
    for (const d of deltas) {
      const g = getOrCreate(this.global, d.queryType);
      const prev = g.get(d.model);
      const next = addCells(prev ?? emptyCell(), d.delta) as GlobalCellSums;
      next.contributors = prev?.contributors ?? 0;
      g.set(d.model, next);
    }
    if (!account) return;
    void account.then((cells) => {
      for (const d of deltas) {
        const m = getOrCreate(cells, d.queryType);
        const prev = m.get(d.model);
        m.set(d.model, addCells(prev ?? emptyCell(), d.delta));
        if (!prev) {
          const g = this.global.get(d.queryType)?.get(d.model);
          if (g) g.contributors += 1;
        }
      }
    });
  }

  /** Forgets an account (after a deletion or a rating): its next request reloads from the store. */
  dropAccount(accountId: string): void {
    this.accounts.delete(accountId);
  }

  reloadGlobal(): Promise<void> {
    if (this.globalReload) return this.globalReload;
    const reload = this.source
      .loadGlobalCells()
      .then((rows) => {
        const next: TypeCells<GlobalCellSums> = new Map();
        for (const row of rows) getOrCreate(next, row.queryType).set(row.model, row);
        this.global = next;
      })
      .finally(() => {
        this.globalReload = undefined;
      });
    this.globalReload = reload;
    return reload;
  }

  private scheduleGlobalReload(): void {
    if (this.globalTimer) return;
    this.globalTimer = setTimeout(() => {
      this.globalTimer = undefined;
      void this.reloadGlobal();
    }, this.options.globalRefreshDebounceMs);
    this.globalTimer.unref();
  }

  private accountCells(accountId: string): Promise<TypeCells> {
    const cached = this.accounts.get(accountId);
    if (cached) return cached;
    {
      if (this.accounts.size >= this.options.maxAccounts) {
        const oldest = this.accounts.keys().next().value;
        if (oldest !== undefined) this.accounts.delete(oldest);
      }
      const cells = this.source.loadAccountCells(accountId).then((rows) => {
        const map: TypeCells = new Map();
        for (const row of rows) getOrCreate(map, row.queryType).set(row.model, row);
        return map;
      });
      cells.catch(() => this.accounts.delete(accountId));
      this.accounts.set(accountId, cells);
      return cells;
    }
  }
}

function getOrCreate<T>(map: Map<string, Map<string, T>>, key: string): Map<string, T> {
  let inner = map.get(key);
  if (!inner) {
    inner = new Map();
    map.set(key, inner);
  }
  return inner;
}

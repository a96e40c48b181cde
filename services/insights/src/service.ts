import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { insightsV1 } from '@routeplex/contracts';
import { queryTypeFromProto, queryTypeToProto, stageToProto } from '@routeplex/learning';
import {
  bindService,
  invalidArgument,
  type Authenticator,
  type CallContext,
  type Handlers,
  type Logger,
} from '@routeplex/platform';
import type { QueryType, ScoringConfig } from '@routeplex/scoring';
import type { ListedEntry, Store } from '@routeplex/store';
import { learningDashboard, modelStatsFromCells, recommendationsFor, type InsightsOptions } from './insights.js';
import { windowedModelStats } from './windowed.js';

export type InsightsStore = Pick<
  Store,
  'loadAccountCells' | 'loadCounters' | 'loadGlobalCells' | 'listEntries' | 'windowedModelStats' | 'deleteAccountData'
>;

export interface InsightsDeps {
  store: InsightsStore;
  scoring: ScoringConfig;
  /** The provider of a model id (the catalog's `lookup`); cells do not record it. */
  providerOf?: (model: string) => string | undefined;
  options?: Partial<InsightsOptions>;
  now?: () => number;
}

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 500;
const MAX_WINDOW_SECONDS = 365 * 24 * 3600;

function parseQueryType(value: number): QueryType | undefined {
  const type = queryTypeFromProto(value);
  if (type === null)
    throw invalidArgument(`query_type ${value} is unknown: use a QUERY_TYPE_* value, or leave it unset for every type`);
  return type;
}

/** The window in ms, or undefined when unset (proto3 zero counts as unset). */
function parseWindow(window: { seconds: string; nanos: number } | undefined): number | undefined {
  if (window === undefined) return undefined;
  const seconds = Number(window.seconds);
  const nanos = window.nanos ?? 0;
  if (!Number.isFinite(seconds) || seconds < 0 || nanos < 0)
    throw invalidArgument(
      'time_window must not be negative: give a duration such as "86400s" (one day), at most 365 days',
    );
  // google.protobuf.Duration: nanos in [0, 999,999,999] (REST's "1.5s" arrives so); more would be a second field.
  if (nanos > 999_999_999)
    throw invalidArgument('time_window.nanos must be below 1,000,000,000: put whole seconds in seconds');
  const ms = seconds * 1000 + nanos / 1e6;
  if (seconds + nanos / 1e9 > MAX_WINDOW_SECONDS)
    throw invalidArgument(
      'time_window is longer than 365 days: give at most "31536000s", or leave it unset for all statistics',
    );
  return ms > 0 ? ms : undefined;
}

function requestEntryToProto(e: ListedEntry): insightsV1.RequestEntry {
  return {
    requestId: e.id,
    createTime: e.createdAt,
    kind: e.kind,
    queryType: queryTypeToProto(e.queryType),
    model: e.model,
    provider: e.provider,
    // A request that named its model was not routed at any stage.
    stage: e.autoRouted ? stageToProto(e.stage) : stageToProto(''),
    autoRouted: e.autoRouted,
    promptEnhanced: e.enhanced,
    latencyMs: e.latencyMs,
    promptTokens: e.promptTokens,
    completionTokens: e.completionTokens,
    costUsd: e.costUsd,
    heuristicQuality: e.heuristicQuality ?? 0,
    ...(e.rating?.score != null ? { ratingScore: e.rating.score } : {}),
    ...(e.rating?.isHelpful != null ? { ratingIsHelpful: e.rating.isHelpful } : {}),
  };
}

/**
 * InsightsService handlers. Every answer is computed from the caller's own rows (the account comes from the
 * credential), plus global cells only where at least K accounts contribute.
 */
export function insightsHandlers(deps: InsightsDeps): Handlers<typeof insightsV1.InsightsServiceService> {
  const now = deps.now ?? Date.now;
  const providerOf = deps.providerOf ?? (() => undefined);
  const K = deps.scoring.anonymityK;

  async function inputs(accountId: string, withGlobal: boolean) {
    // Global cells first: the caller's own cells, read after, hold every contribution of the caller the
    // global counts hold, so that "K accounts besides the caller" never counts the caller among the K.
    const global = withGlobal ? await deps.store.loadGlobalCells({ minContributors: K }) : [];
    const [cells, counters] = await Promise.all([
      deps.store.loadAccountCells(accountId),
      deps.store.loadCounters(accountId),
    ]);
    return {
      cells,
      counters,
      global,
      nowMs: now(),
      scoring: deps.scoring,
      providerOf,
      ...(deps.options ? { options: deps.options } : {}),
    };
  }

  return {
    async getLearningDashboard(_req, ctx: CallContext) {
      return learningDashboard(await inputs(ctx.principal.accountId, true));
    },

    async listModelStats(req, ctx: CallContext) {
      const queryType = parseQueryType(req.queryType);
      const windowMs = parseWindow(req.timeWindow);
      const accountId = ctx.principal.accountId;
      const nowMs = now();
      if (windowMs === undefined) {
        const cells = await deps.store.loadAccountCells(accountId);
        return { modelStats: modelStatsFromCells(cells, nowMs, deps.scoring, providerOf, queryType) };
      }
      return {
        modelStats: await windowedModelStats(
          deps.store,
          accountId,
          new Date(nowMs - windowMs),
          queryType,
          nowMs,
          deps.scoring,
        ),
      };
    },

    async listRecommendations(_req, ctx: CallContext) {
      return { recommendations: recommendationsFor(await inputs(ctx.principal.accountId, true)) };
    },

    async listRequests(req, ctx: CallContext) {
      if (req.pageSize < 0)
        throw invalidArgument(
          `page_size must not be negative: give 1 to ${MAX_PAGE_SIZE}, or 0 for the default of ${DEFAULT_PAGE_SIZE}`,
        );
      const pageSize = req.pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(req.pageSize, MAX_PAGE_SIZE);
      const page = await deps.store.listEntries(ctx.principal.accountId, {
        pageSize,
        ...(req.pageToken ? { pageToken: req.pageToken } : {}),
      });
      return { requests: page.entries.map(requestEntryToProto), nextPageToken: page.nextPageToken ?? '' };
    },

    async deleteLearningData(_req, ctx: CallContext) {
      // The store's 'delete' change event makes every replica's learning cache drop the account.
      const deleted = await deps.store.deleteAccountData(ctx.principal.accountId);
      return {
        deletedEntries: String(deleted.entries),
        deletedRatings: String(deleted.ratings),
        deletedCells: String(deleted.cells),
      };
    },
  };
}

/** InsightsService bound to the shared server boundary (authentication, error mapping, cancellation). */
export function insightsServiceImplementation(
  deps: InsightsDeps & { authenticator: Authenticator; logger: Logger },
): UntypedServiceImplementation {
  return bindService(insightsV1.InsightsServiceService, insightsHandlers(deps), {
    authenticator: deps.authenticator,
    logger: deps.logger,
  });
}

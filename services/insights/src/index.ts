import { insightsV1 } from '@routeplex/contracts';
import { startGrpcServer, type Authenticator, type Logger } from '@routeplex/platform';
import type { ScoringConfig } from '@routeplex/scoring';
import type { Store } from '@routeplex/store';
import type { InsightsOptions } from './insights.js';
import { insightsServiceImplementation } from './service.js';

export {
  DEFAULT_INSIGHTS_OPTIONS,
  enhancementEffects,
  learningDashboard,
  modelStatsFromCells,
  recommendationsFor,
  routingInfluenceFromCounters,
  typeStages,
} from './insights.js';
export type { InsightsInput, InsightsOptions, TypeStage } from './insights.js';
export { insightsHandlers, insightsServiceImplementation } from './service.js';
export type { InsightsDeps, InsightsStore } from './service.js';
export { windowedModelStats } from './windowed.js';

export interface InsightsServiceOptions {
  store: Store;
  authenticator: Authenticator;
  logger: Logger;
  host: string;
  /** 0 picks a free port. */
  port: number;
  scoring: ScoringConfig;
  /** Catalog lookup for the provider of a model (a Catalog fits); providers are left empty without it. */
  catalog?: { lookup(id: string): { provider: string } | undefined };
  options?: Partial<InsightsOptions>;
  now?: () => number;
}

export interface RunningInsightsService {
  readonly port: number;
  close(): Promise<void>;
}

/** Starts InsightsService on its own gRPC server, over a store the caller owns (and closes). */
export async function startInsightsService(options: InsightsServiceOptions): Promise<RunningInsightsService> {
  const catalog = options.catalog;
  const implementation = insightsServiceImplementation({
    store: options.store,
    scoring: options.scoring,
    authenticator: options.authenticator,
    logger: options.logger,
    ...(catalog ? { providerOf: (model: string) => catalog.lookup(model)?.provider } : {}),
    ...(options.options ? { options: options.options } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const server = await startGrpcServer({
    host: options.host,
    port: options.port,
    services: [{ definition: insightsV1.InsightsServiceService, implementation }],
  });
  return { port: server.port, close: () => server.close() };
}

import { routerV1 } from '@routeplex/contracts';
import { startGrpcServer, type Authenticator, type Logger } from '@routeplex/platform';
import { LearningCache } from '@routeplex/learning';
import { CircuitBreakerRegistry } from '@routeplex/providers';
import { mulberry32, type ScoringConfig } from '@routeplex/scoring';
import type { Store } from '@routeplex/store';
import { Router, type RouterCatalog } from './router.js';
import { routerServiceImplementation } from './service.js';

export { Router, type RouterCatalog, type RoutableModel } from './router.js';
export { AUTO_MODEL } from './validation.js';

export interface RouterServiceDeps {
  store: Store;
  catalog: RouterCatalog;
  authenticator: Authenticator;
  logger: Logger;
  host: string;
  port: number;
  scoring: ScoringConfig;
  hmacSecret: string;
  enhancementHoldout: number;
  maxAttempts: number;
  callTimeoutMs: number;
  breaker: { failureThreshold: number; coolDownMs: number };
  /** Seed of the exploration sampler; fixed in tests so that decisions are reproducible. */
  seed?: number;
}

/** Starts RouterService on its own gRPC server. */
export async function startRouterService(deps: RouterServiceDeps) {
  const cache = new LearningCache(deps.store, { logger: deps.logger });
  await cache.start();
  const breakers = new CircuitBreakerRegistry({
    failureThreshold: deps.breaker.failureThreshold,
    coolDownMs: deps.breaker.coolDownMs,
    now: Date.now,
  });
  const router = new Router({
    catalog: deps.catalog,
    cache,
    record: (write) => deps.store.enqueue(write),
    breakers,
    scoring: deps.scoring,
    hmacSecret: deps.hmacSecret,
    enhancementHoldout: deps.enhancementHoldout,
    maxAttempts: deps.maxAttempts,
    callTimeoutMs: deps.callTimeoutMs,
    now: Date.now,
    rng: mulberry32(deps.seed ?? (Date.now() ^ (process.pid << 16)) >>> 0),
    onRecordError: (err) => deps.logger.error({ err }, 'recording a request failed'),
  });
  const implementation = routerServiceImplementation(router, deps.catalog, {
    authenticator: deps.authenticator,
    logger: deps.logger,
    startedMs: Date.now(),
  });
  const server = await startGrpcServer({
    host: deps.host,
    port: deps.port,
    services: [{ definition: routerV1.RouterServiceService, implementation }],
  });
  return {
    port: server.port,
    router,
    cache,
    async close() {
      await server.close();
      cache.close();
    },
  };
}

import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { feedbackV1 } from '@routeplex/contracts';
import { bindService, startGrpcServer, type Authenticator, type Logger } from '@routeplex/platform';
import type { ScoringConfig } from '@routeplex/scoring';
import type { Store } from '@routeplex/store';
import { DEFAULT_RETENTION_DAYS, feedbackHandlers, type FeedbackDeps } from './feedback.js';
import { RatingBatcher, type RatingBatcherOptions } from './rating-batcher.js';

export {
  DEFAULT_RETENTION_DAYS,
  feedbackHandlers,
  ratingComputation,
  ratingRejection,
  validateFeedback,
} from './feedback.js';
export type { FeedbackDeps, FeedbackHandlers, FeedbackInput } from './feedback.js';
export { DEFAULT_RATING_BATCHER_OPTIONS, RatingBatcher } from './rating-batcher.js';
export type { RatingBatcherOptions } from './rating-batcher.js';

/** FeedbackService bound to the shared server boundary (authentication, error mapping, cancellation). */
export function feedbackServiceImplementation(
  deps: FeedbackDeps & { authenticator: Authenticator; logger: Logger },
): UntypedServiceImplementation {
  return bindService(feedbackV1.FeedbackServiceService, feedbackHandlers(deps), {
    authenticator: deps.authenticator,
    logger: deps.logger,
  });
}

export interface FeedbackServiceOptions {
  store: Store;
  authenticator: Authenticator;
  logger: Logger;
  host: string;
  /** 0 picks a free port. */
  port: number;
  scoring: ScoringConfig;
  /** Ratings are accepted for this many days after the answer (default 30). */
  retentionDays?: number;
  /** How ratings are grouped into store transactions (default: up to 200 ratings or 5 ms). */
  batch?: Partial<RatingBatcherOptions>;
  now?: () => number;
}

export interface RunningFeedbackService {
  readonly port: number;
  close(): Promise<void>;
}

/** Starts FeedbackService on its own gRPC server, over a store the caller owns (and closes). */
export async function startFeedbackService(options: FeedbackServiceOptions): Promise<RunningFeedbackService> {
  const ratings = new RatingBatcher(
    options.store,
    // PGlite runs its single connection on this thread: a second batch in flight would only queue.
    { ...(options.store.backend === 'pglite' ? { maxInFlight: 1 } : {}), ...options.batch },
    options.logger,
  );
  const implementation = feedbackServiceImplementation({
    store: options.store,
    ratings,
    scoring: options.scoring,
    retentionDays: options.retentionDays ?? DEFAULT_RETENTION_DAYS,
    authenticator: options.authenticator,
    logger: options.logger,
    ...(options.now ? { now: options.now } : {}),
  });
  const server = await startGrpcServer({
    host: options.host,
    port: options.port,
    services: [{ definition: feedbackV1.FeedbackServiceService, implementation }],
  });
  return {
    port: server.port,
    // The server lets calls in flight finish (their batches commit first); then nothing is left waiting.
    close: () => server.close().finally(() => ratings.close()),
  };
}

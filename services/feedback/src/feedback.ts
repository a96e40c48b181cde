import type { feedbackV1 } from '@routeplex/contracts';
import type { DomainError } from '@routeplex/platform';
import { failedPrecondition, invalidArgument } from '@routeplex/platform';
import { ratingDelta, ratingToQuality, type ScoringConfig } from '@routeplex/scoring';
import type { CounterIncrements, Rating, RatingComputation, RequestEntry, Store } from '@routeplex/store';
import { RatingBatcher, type RatingBatcherOptions } from './rating-batcher.js';

/** The request ids the router hands out: `req_` and 8 to 64 letters and digits (the store's schema rule). */
const REQUEST_ID_SHAPE = /^req_[A-Za-z0-9]{8,64}$/;

export const DEFAULT_RETENTION_DAYS = 30;
const DAY_MS = 24 * 3600 * 1000;

export interface FeedbackDeps {
  store: Pick<Store, 'rateRequests'>;
  /** Groups concurrent ratings into one store transaction per batch (one is made when absent). */
  ratings?: RatingBatcher;
  /** Options of the batcher made when `ratings` is absent. */
  batch?: Partial<RatingBatcherOptions>;
  scoring: Pick<ScoringConfig, 'epochMs' | 'halfLifeMs' | 'ratingWeight'>;
  /** Ratings are accepted for this many days after the rated answer. */
  retentionDays: number;
  now?: () => number;
}

/** A validated SubmitFeedback request. */
export interface FeedbackInput {
  requestId: string;
  score: number | null;
  isHelpful: boolean | null;
  quality: number;
}

/** Checks a SubmitFeedback request; every failure is INVALID_ARGUMENT naming the field and how to fix it. */
export function validateFeedback(req: feedbackV1.SubmitFeedbackRequest): FeedbackInput {
  const requestId = req.requestId ?? '';
  if (requestId === '')
    throw invalidArgument('request_id is required: pass the id (req_...) of the chat completion to rate');
  if (!REQUEST_ID_SHAPE.test(requestId))
    throw invalidArgument(
      'request_id is malformed: pass the "id" of a chat completion, "req_" followed by 8 to 64 letters and digits',
    );
  const score = req.score ?? null;
  const isHelpful = req.isHelpful ?? null;
  if (score === null && isHelpful === null)
    throw invalidArgument('score or is_helpful is required: give a score from 1 to 5, is_helpful, or both');
  if (score !== null && !(Number.isInteger(score) && score >= 1 && score <= 5))
    throw invalidArgument('score must be an integer from 1 (bad) to 5 (excellent)');
  const quality = ratingToQuality(score ?? undefined, isHelpful ?? undefined) as number;
  return { requestId, score, isHelpful, quality };
}

/**
 * Why an entry cannot be rated, or undefined when it can. Creation time and kind never change, so the
 * check is the same inside and outside the rating transaction.
 */
export function ratingRejection(entry: RequestEntry, nowMs: number, retentionDays: number): DomainError | undefined {
  if (entry.kind !== 'completion' || entry.heuristicQuality === null)
    return failedPrecondition(
      `request ${entry.id} was a routing decision only (SelectModel): there is no answer to rate; rate the id of a chat completion`,
    );
  if (entry.createdAt.getTime() < nowMs - retentionDays * DAY_MS)
    return failedPrecondition(
      `request ${entry.id} is older than the ${retentionDays}-day rating window: ratings are accepted for ${retentionDays} days after the answer`,
    );
  return undefined;
}

/**
 * What a rating changes. In the cells: the request's earlier contribution (its heuristic signal, or the
 * previous rating) is removed and the rating added, with the request's own time, latency and cost, so the
 * sums are exactly those of a history in which the request was rated this way from the start. In the
 * enhancement counters (plain means over auto-routed completions, the way the router records them): the
 * earlier quality is swapped for the new one.
 */
export function ratingComputation(
  entry: RequestEntry,
  previous: Rating | null,
  input: FeedbackInput,
  scoring: FeedbackDeps['scoring'],
): RatingComputation {
  const heuristic = entry.heuristicQuality as number;
  const cellDelta = ratingDelta(
    {
      request: {
        heuristicQuality: heuristic,
        latencyMs: entry.latencyMs,
        costUsd: entry.costUsd,
        atMs: entry.createdAt.getTime(),
      },
      previousRatingQuality: previous?.quality,
      newRatingQuality: input.quality,
    },
    scoring,
  );
  const computation: RatingComputation = {
    rating: { score: input.score, isHelpful: input.isHelpful, quality: input.quality },
    cellDelta,
  };
  if (entry.autoRouted) {
    const before = previous?.quality ?? heuristic;
    const dq = input.quality - before;
    const dq2 = input.quality * input.quality - before * before;
    const counterDelta: CounterIncrements = entry.enhanced
      ? { enhancedQ: dq, enhancedQ2: dq2 }
      : { plainQ: dq, plainQ2: dq2 };
    computation.counterDelta = counterDelta;
  }
  return computation;
}

export interface FeedbackHandlers {
  submitFeedback(
    req: feedbackV1.SubmitFeedbackRequest,
    ctx: { principal: { accountId: string } },
  ): Promise<feedbackV1.SubmitFeedbackResponse>;
}

export function feedbackHandlers(deps: FeedbackDeps): FeedbackHandlers {
  if (!(deps.retentionDays > 0))
    throw invalidArgument(`retentionDays must be a positive number of days; got ${deps.retentionDays}`);
  const now = deps.now ?? Date.now;
  const ratings = deps.ratings ?? new RatingBatcher(deps.store, deps.batch);
  return {
    async submitFeedback(req, ctx) {
      const input = validateFeedback(req);
      const nowMs = now();
      // Acknowledged only once the batch holding this rating has committed. A rejection thrown by the
      // computation refuses this rating alone and comes back as it was thrown.
      const result = await ratings.submit({
        accountId: ctx.principal.accountId,
        requestId: input.requestId,
        compute: (entry, previous) => {
          const rejection = ratingRejection(entry, nowMs, deps.retentionDays);
          if (rejection !== undefined) throw rejection;
          return ratingComputation(entry, previous, input, deps.scoring);
        },
      });
      const { rating, previous, entry } = result;
      return {
        rating: {
          requestId: rating.requestId,
          ...(rating.score !== null ? { score: rating.score } : {}),
          ...(rating.isHelpful !== null ? { isHelpful: rating.isHelpful } : {}),
          quality: rating.quality,
          createTime: rating.createdAt,
          updateTime: rating.updatedAt,
        },
        replacedPrevious: previous !== null,
        model: entry.model,
      };
    },
  };
}

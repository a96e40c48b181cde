import type { CellSums, Contribution } from './cells.js';
import { contributionCell, diffCells } from './cells.js';
import type { ScoringConfig } from './config.js';
import { ScoringError } from './errors.js';

/**
 * A user's rating as a quality in [0, 1]: score 1..5 maps linearly to 0..1; is_helpful alone maps to
 * 0.85 / 0.15 (a thumbs-up is strong but not perfect evidence); both together: 80% score, 20% helpfulness.
 * Returns undefined when neither is given.
 */
export function ratingToQuality(score: number | undefined, isHelpful: boolean | undefined): number | undefined {
  if (score !== undefined) {
    if (!Number.isFinite(score) || score < 1 || score > 5)
      throw new ScoringError('OUT_OF_RANGE', `Rating score must be between 1 and 5; got ${score}.`);
    const fromScore = (score - 1) / 4;
    return isHelpful === undefined ? fromScore : 0.8 * fromScore + 0.2 * (isHelpful ? 1 : 0);
  }
  if (isHelpful !== undefined) return isHelpful ? 0.85 : 0.15;
  return undefined;
}

/** What the cells hold for one successful request: its latency, cost, time and heuristic quality. */
export interface RequestContribution {
  heuristicQuality: number;
  latencyMs?: number | undefined;
  costUsd?: number | undefined;
  atMs: number;
}

function asContribution(req: RequestContribution, quality: number, weight: number, rated: boolean): Contribution {
  return { quality, weight, rated, latencyMs: req.latencyMs, costUsd: req.costUsd, atMs: req.atMs };
}

/** The cell a request contributes before any rating (heuristic quality, weight 1). */
export function requestCell(req: RequestContribution, cfg: Pick<ScoringConfig, 'epochMs' | 'halfLifeMs'>): CellSums {
  return contributionCell(asContribution(req, req.heuristicQuality, 1, false), cfg);
}

/** The cell a request contributes once rated with `ratingQuality` (rating weight, counted as rated). */
export function ratedRequestCell(
  req: RequestContribution,
  ratingQuality: number,
  cfg: Pick<ScoringConfig, 'epochMs' | 'halfLifeMs' | 'ratingWeight'>,
): CellSums {
  return contributionCell(asContribution(req, ratingQuality, cfg.ratingWeight, true), cfg);
}

/**
 * The change to apply to the request's cells when a rating arrives. A rating *replaces* what the
 * request contributed before (its heuristic signal, or the previous rating), so re-rating never
 * double-counts. The request's latency, cost and time are unchanged, so only n, q, q2 and ratings move.
 * Pass `newRatingQuality: undefined` to withdraw a rating (back to the heuristic).
 */
export function ratingDelta(
  input: {
    request: RequestContribution;
    previousRatingQuality?: number | undefined;
    newRatingQuality: number | undefined;
  },
  cfg: Pick<ScoringConfig, 'epochMs' | 'halfLifeMs' | 'ratingWeight'>,
): CellSums {
  const before =
    input.previousRatingQuality === undefined
      ? requestCell(input.request, cfg)
      : ratedRequestCell(input.request, input.previousRatingQuality, cfg);
  const after =
    input.newRatingQuality === undefined
      ? requestCell(input.request, cfg)
      : ratedRequestCell(input.request, input.newRatingQuality, cfg);
  return diffCells(after, before);
}

/**
 * Typed errors of the learning core. `code` is a gRPC status code name so that callers can map it
 * to a transport status without inspecting messages.
 */
export type ScoringErrorCode = 'INVALID_ARGUMENT' | 'FAILED_PRECONDITION' | 'OUT_OF_RANGE';

export class ScoringError extends Error {
  readonly code: ScoringErrorCode;
  constructor(code: ScoringErrorCode, message: string) {
    super(message);
    this.name = 'ScoringError';
    this.code = code;
  }
}

export type RejectionReason = 'not_allowed' | 'unhealthy' | 'context_window' | 'missing_capability' | 'over_budget';

export interface CandidateRejection {
  model: string;
  reason: RejectionReason;
  /** A short, content-free explanation, e.g. "needs 140000 tokens, window is 128000". */
  detail: string;
}

/** What the caller can relax, per rejection reason, phrased as an instruction. */
const RELAX_HINT: Record<RejectionReason, string> = {
  not_allowed: 'add a model to allowed_models',
  unhealthy: 'retry later or allow a model from a healthy provider',
  context_window: 'shorten the conversation or allow a model with a larger context window',
  missing_capability: 'drop a required capability or allow a model that has it',
  over_budget: 'raise max_cost_usd or lower max_tokens',
};

/**
 * No candidate passed the constraints. `rejections` lists every candidate with the first constraint
 * it failed; `blocking` is the constraint that eliminated the most candidates, the one to relax first.
 */
export class NoEligibleModelError extends ScoringError {
  readonly rejections: CandidateRejection[];
  readonly blocking: RejectionReason | undefined;
  constructor(rejections: CandidateRejection[]) {
    const counts = new Map<RejectionReason, number>();
    for (const r of rejections) counts.set(r.reason, (counts.get(r.reason) ?? 0) + 1);
    let blocking: RejectionReason | undefined;
    let best = 0;
    for (const [reason, count] of counts) {
      if (count > best) {
        best = count;
        blocking = reason;
      }
    }
    const summary = [...counts].map(([reason, count]) => `${count} ${reason}`).join(', ');
    const message =
      rejections.length === 0
        ? 'No candidate model was given; configure at least one model in the catalog.'
        : `No candidate model satisfies the request's constraints (${summary}); to fix, ${RELAX_HINT[blocking!]}.`;
    super('FAILED_PRECONDITION', message);
    this.name = 'NoEligibleModelError';
    this.rejections = rejections;
    this.blocking = blocking;
  }
}

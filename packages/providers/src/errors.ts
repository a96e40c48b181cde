/** gRPC status code names used by provider and catalog errors. */
export type StatusCodeName =
  | 'INVALID_ARGUMENT'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'NOT_FOUND'
  | 'RESOURCE_EXHAUSTED'
  | 'FAILED_PRECONDITION'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'CANCELLED'
  | 'INTERNAL';

export interface ProviderErrorOptions {
  code: StatusCodeName;
  message: string;
  /** True when repeating the same call to the same upstream soon may succeed (429, 5xx, connection errors). */
  retryable: boolean;
  providerId?: string;
  model?: string;
  httpStatus?: number;
  retryAfterMs?: number;
  /** Error type or code reported by the upstream (never its free-text message, which may echo the prompt). */
  upstreamType?: string;
  attempts?: number;
  cause?: unknown;
}

/**
 * A failed upstream call. The message never contains prompt or answer text: upstream error bodies can echo the
 * prompt, so only their error type or code is kept.
 */
export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  readonly code: StatusCodeName;
  readonly retryable: boolean;
  readonly providerId: string | undefined;
  readonly model: string | undefined;
  readonly httpStatus: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly upstreamType: string | undefined;
  readonly attempts: number;

  constructor(options: ProviderErrorOptions) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code;
    this.retryable = options.retryable;
    this.providerId = options.providerId;
    this.model = options.model;
    this.httpStatus = options.httpStatus;
    this.retryAfterMs = options.retryAfterMs;
    this.upstreamType = options.upstreamType;
    this.attempts = options.attempts ?? 1;
  }

  /** The same error, reporting how many attempts were made in all. */
  withAttempts(attempts: number): ProviderError {
    if (attempts <= 1) return this;
    return new ProviderError({
      code: this.code,
      message: `${this.message} (gave up after ${attempts} attempts)`,
      retryable: this.retryable,
      providerId: this.providerId,
      model: this.model,
      httpStatus: this.httpStatus,
      retryAfterMs: this.retryAfterMs,
      upstreamType: this.upstreamType,
      attempts,
      cause: this.cause,
    });
  }
}

/** gRPC code for an upstream HTTP status. */
export function codeForHttpStatus(status: number): StatusCodeName {
  switch (status) {
    case 400:
    case 413:
    case 422:
      return 'INVALID_ARGUMENT';
    case 401:
      return 'UNAUTHENTICATED';
    case 403:
      return 'PERMISSION_DENIED';
    case 404:
      return 'NOT_FOUND';
    case 408:
      return 'DEADLINE_EXCEEDED';
    case 429:
      return 'RESOURCE_EXHAUSTED';
    default:
      return status >= 500 ? 'UNAVAILABLE' : 'INTERNAL';
  }
}

/** Whether an upstream HTTP status is worth retrying against the same upstream. */
export function isRetryableHttpStatus(status: number): boolean {
  return status === 429 || status === 408 || status >= 500;
}

const FIX_HINTS: Record<StatusCodeName, string> = {
  INVALID_ARGUMENT: 'check the request parameters (model name, max tokens, message roles) against the provider',
  UNAUTHENTICATED: 'check that the API key variable named in the catalog holds a valid key',
  PERMISSION_DENIED: 'check that the API key is allowed to use this model',
  NOT_FOUND: 'check the providerModel and baseUrl of this catalog entry',
  RESOURCE_EXHAUSTED: 'the provider is rate limiting: retry later or route to another model',
  FAILED_PRECONDITION: 'fix the configuration named above',
  UNAVAILABLE: 'the provider is failing: retry later or route to another model',
  DEADLINE_EXCEEDED: 'raise the timeout or route to a faster model',
  CANCELLED: 'the caller went away; nothing to fix',
  INTERNAL: 'the provider answered something this adapter cannot read; check that baseUrl points at the right API',
};

/** The what-to-do-next sentence for a code (AIP-193 style). */
export function fixHint(code: StatusCodeName): string {
  return FIX_HINTS[code];
}

/** A problem found in one place of a catalog. */
export interface CatalogProblem {
  /** Index of the entry in `models`, when the problem belongs to one entry. */
  index?: number;
  /** Id of that entry, when it has a readable one. */
  id?: string;
  /** Dotted path of the field inside the entry (or the catalog when no entry). */
  field: string;
  message: string;
}

/** A catalog that cannot be used. The message lists every problem, each naming the entry and the field. */
export class CatalogError extends Error {
  override readonly name = 'CatalogError';
  readonly code: StatusCodeName = 'FAILED_PRECONDITION';
  readonly problems: CatalogProblem[];

  constructor(source: string, problems: CatalogProblem[]) {
    const lines = problems.map((p) => `  - ${describeProblemPlace(p)}: ${p.message}`);
    super(`model catalog ${source} is invalid; fix these ${problems.length} problem(s):\n${lines.join('\n')}`);
    this.problems = problems;
  }
}

function describeProblemPlace(problem: CatalogProblem): string {
  if (problem.index === undefined) return problem.field === '' ? 'catalog' : `catalog field "${problem.field}"`;
  const entry = problem.id === undefined ? `entry ${problem.index}` : `entry ${problem.index} (id "${problem.id}")`;
  return problem.field === '' ? entry : `${entry}, field "${problem.field}"`;
}

/**
 * Whether a failed call says something about the health of the (provider, model) and should count against its
 * circuit breaker. A caller's cancellation or a bad request says nothing about the upstream.
 */
export function countsAgainstHealth(error: unknown): boolean {
  if (!(error instanceof ProviderError)) return true;
  return error.code !== 'CANCELLED' && error.code !== 'INVALID_ARGUMENT';
}

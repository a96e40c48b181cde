// A small client of routeplex's public REST API (/api/v1), the only thing the dashboard talks to.

/* global fetch, URLSearchParams -- browser globals: this file runs in the page */

/** A failed API call: `code` is the gRPC status name of the answer (UNAUTHENTICATED, NOT_FOUND, ...). */
export class ApiError extends Error {
  constructor(code, message, httpStatus) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.httpStatus = httpStatus;
  }
}

// gRPC status numbers of google.rpc.Status bodies, for answers that carry the number only.
const CODE_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

/** Reads the status name and message of an error answer (a google.rpc.Status, with an OpenAI-style `error`). */
export function errorFromBody(httpStatus, body) {
  const nested = body && typeof body.error === 'object' && body.error !== null ? body.error : undefined;
  let code = typeof nested?.code === 'string' ? nested.code : undefined;
  if (code === undefined && typeof body?.code === 'number') code = CODE_NAMES[body.code];
  if (code === undefined) code = httpStatus === 401 ? 'UNAUTHENTICATED' : 'UNKNOWN';
  const message =
    (typeof body?.message === 'string' && body.message) ||
    (typeof nested?.message === 'string' && nested.message) ||
    `the server answered HTTP ${httpStatus}`;
  return new ApiError(code, message, httpStatus);
}

export class ApiClient {
  /**
   * @param {string} baseUrl origin of the facade, e.g. `http://127.0.0.1:8080` (empty string: same origin)
   * @param {string} credential an API key or a JWT, sent as `Authorization: Bearer ...`
   */
  constructor(baseUrl, credential) {
    this.baseUrl = baseUrl;
    this.credential = credential;
  }

  async call(method, path, body) {
    const headers = { authorization: `Bearer ${this.credential}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response;
    try {
      response = await fetch(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch (cause) {
      throw new ApiError(
        'UNAVAILABLE',
        `the routeplex server could not be reached (${cause?.message ?? cause}): check that it is running`,
        0,
      );
    }
    const text = await response.text();
    let json;
    try {
      json = text === '' ? {} : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!response.ok) throw errorFromBody(response.status, json);
    if (json === undefined) {
      throw new ApiError('INTERNAL', `the server answered ${path} with something that is not JSON`, response.status);
    }
    return json;
  }

  getLearning() {
    return this.call('GET', '/api/v1/insights/learning');
  }

  /** @param {number | undefined} timeWindowSeconds only requests this recent (exact counts); all history when unset */
  listModelStats(timeWindowSeconds) {
    if (!timeWindowSeconds) return this.call('GET', '/api/v1/insights/models');
    const query = new URLSearchParams({ time_window: `${timeWindowSeconds}s` });
    return this.call('GET', `/api/v1/insights/models?${query}`);
  }

  listRecommendations() {
    return this.call('GET', '/api/v1/insights/recommendations');
  }

  listRequests(pageSize, pageToken) {
    const query = new URLSearchParams({ page_size: String(pageSize) });
    if (pageToken) query.set('page_token', pageToken);
    return this.call('GET', `/api/v1/insights/requests?${query}`);
  }

  /** @param {{request_id: string, score?: number, is_helpful?: boolean}} rating */
  submitFeedback(rating) {
    return this.call('POST', '/api/v1/insights/feedback', rating);
  }

  deleteLearningData() {
    return this.call('DELETE', '/api/v1/insights/data');
  }
}

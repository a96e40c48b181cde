import { status as GrpcStatus } from '@grpc/grpc-js';

/** gRPC status code names, as used by `google.rpc.Code` and by every domain error's `code`. */
export type GrpcCodeName =
  | 'OK'
  | 'CANCELLED'
  | 'UNKNOWN'
  | 'INVALID_ARGUMENT'
  | 'DEADLINE_EXCEEDED'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'OUT_OF_RANGE'
  | 'UNIMPLEMENTED'
  | 'INTERNAL'
  | 'UNAVAILABLE'
  | 'DATA_LOSS'
  | 'UNAUTHENTICATED';

const CODE_NAMES: readonly GrpcCodeName[] = [
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

/**
 * The one gRPC code -> HTTP status table, as grpc-gateway's runtime/errors.go HTTPStatusFromCode.
 * FAILED_PRECONDITION deliberately maps to 400 (not 412), and CANCELLED to the de-facto 499.
 */
const HTTP_STATUS_BY_CODE: Readonly<Record<GrpcCodeName, number>> = {
  OK: 200,
  CANCELLED: 499,
  UNKNOWN: 500,
  INVALID_ARGUMENT: 400,
  DEADLINE_EXCEEDED: 504,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  PERMISSION_DENIED: 403,
  RESOURCE_EXHAUSTED: 429,
  FAILED_PRECONDITION: 400,
  ABORTED: 409,
  OUT_OF_RANGE: 400,
  UNIMPLEMENTED: 501,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  DATA_LOSS: 500,
  UNAUTHENTICATED: 401,
};

/** OpenAI's error `type` for each code, so that OpenAI clients and dashboards classify errors as usual. */
const OPENAI_TYPE_BY_CODE: Readonly<Partial<Record<GrpcCodeName, string>>> = {
  INVALID_ARGUMENT: 'invalid_request_error',
  FAILED_PRECONDITION: 'invalid_request_error',
  OUT_OF_RANGE: 'invalid_request_error',
  NOT_FOUND: 'not_found_error',
  UNAUTHENTICATED: 'authentication_error',
  PERMISSION_DENIED: 'permission_error',
  RESOURCE_EXHAUSTED: 'rate_limit_error',
  ALREADY_EXISTS: 'conflict_error',
  ABORTED: 'conflict_error',
  DEADLINE_EXCEEDED: 'timeout_error',
};

export function httpStatusFromCode(code: GrpcCodeName): number {
  return HTTP_STATUS_BY_CODE[code];
}

export function codeNameFromNumber(code: number): GrpcCodeName {
  return CODE_NAMES[code] ?? 'UNKNOWN';
}

export function codeNumberFromName(name: GrpcCodeName): number {
  return GrpcStatus[name];
}

/**
 * A failure the gateway itself detects (bad request, unknown route, body too large, ...) or a backend
 * status carried to the client. `httpStatus` defaults to the table; it is set explicitly only for the
 * transport-level answers that have no gRPC counterpart (405, 413, 415, 431).
 */
export class GatewayError extends Error {
  readonly code: GrpcCodeName;
  readonly httpStatus: number;
  readonly headers: Readonly<Record<string, string>> | undefined;
  /** OpenAI's error type, when the code's usual one would mislead (a body too large is no rate limit). */
  readonly openAiType: string | undefined;

  constructor(
    code: GrpcCodeName,
    message: string,
    options: { httpStatus?: number; headers?: Record<string, string>; openAiType?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.httpStatus = options.httpStatus ?? httpStatusFromCode(code);
    this.headers = options.headers;
    this.openAiType = options.openAiType;
  }
}

/**
 * The JSON error body: a `google.rpc.Status` ({code, message, details}) plus an OpenAI-style `error`
 * member so that OpenAI clients (which read `error.message`) show the same message.
 */
export function errorBody(code: GrpcCodeName, message: string, openAiType?: string): string {
  return JSON.stringify({
    code: codeNumberFromName(code),
    message,
    details: [],
    error: { message, type: openAiType ?? OPENAI_TYPE_BY_CODE[code] ?? 'api_error', code },
  });
}

/** The `error` object of an SSE error event (the OpenAI stream format); `code` is the gRPC code name. */
export function streamErrorEvent(code: GrpcCodeName, message: string): string {
  return `data: ${JSON.stringify({
    error: { message, type: OPENAI_TYPE_BY_CODE[code] ?? 'api_error', code, status: codeNumberFromName(code) },
  })}\n\n`;
}

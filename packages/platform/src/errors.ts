import { Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';

/** gRPC status code names: the vocabulary every typed error in the project uses for its `code`. */
export type StatusCodeName = Exclude<keyof typeof GrpcStatus, `${number}`>;

const CODE_NAMES = new Set(Object.keys(GrpcStatus).filter((k) => Number.isNaN(Number(k))));

export function isStatusCodeName(value: unknown): value is StatusCodeName {
  return typeof value === 'string' && CODE_NAMES.has(value) && value !== 'OK';
}

/**
 * A typed domain error: a gRPC code name and a message that tells the caller what to fix. The message is
 * sent to clients; the cause is kept for logs only.
 */
export class DomainError extends Error {
  override readonly name: string = 'DomainError';
  constructor(
    readonly code: StatusCodeName,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const invalidArgument = (message: string, cause?: unknown) =>
  new DomainError('INVALID_ARGUMENT', message, { cause });
export const notFound = (message: string) => new DomainError('NOT_FOUND', message);
export const failedPrecondition = (message: string) => new DomainError('FAILED_PRECONDITION', message);
export const unauthenticated = (message: string, cause?: unknown) =>
  new DomainError('UNAUTHENTICATED', message, { cause });
export const unavailable = (message: string, cause?: unknown) => new DomainError('UNAVAILABLE', message, { cause });

/** What the server boundary sends: a code and a safe message. */
export interface PublicStatus {
  code: GrpcStatus;
  codeName: StatusCodeName;
  message: string;
  /** True when the error was not a typed error: the message is generic and the cause must be logged. */
  unexpected: boolean;
}

/**
 * The one place that turns any failure into a gRPC status (after connect-es's ConnectError.from): errors
 * that carry a gRPC code name (domain, provider, store, catalog errors) keep their code and message;
 * anything else becomes INTERNAL with a generic message, its cause left to the logs.
 */
export function toPublicStatus(err: unknown): PublicStatus {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    if (isStatusCodeName(code)) {
      return { code: GrpcStatus[code], codeName: code, message: err.message, unexpected: false };
    }
    if (err.name === 'AbortError') {
      return {
        code: GrpcStatus.CANCELLED,
        codeName: 'CANCELLED',
        message: 'the call was cancelled',
        unexpected: false,
      };
    }
  }
  return { code: GrpcStatus.INTERNAL, codeName: 'INTERNAL', message: 'internal error', unexpected: true };
}

/**
 * Trailer that marks a status as made by a routeplex service's boundary, whose message is written for the
 * caller. A status without it comes from the transport (grpc-js: an unreachable backend, a dropped
 * connection), whose text names hosts and ports and is for the logs only.
 */
export const SERVICE_STATUS_TRAILER = 'routeplex-status';

/** A grpc-js ServiceError for a public status. */
export function toServiceError(status: PublicStatus): Partial<ServiceError> {
  const metadata = new Metadata();
  metadata.set(SERVICE_STATUS_TRAILER, 'service');
  return { code: status.code, details: status.message, metadata };
}

/** Whether a status received from a backend was made by its boundary (see SERVICE_STATUS_TRAILER). */
export function isServiceStatus(error: Pick<ServiceError, 'metadata'>): boolean {
  return error.metadata?.get(SERVICE_STATUS_TRAILER)[0] === 'service';
}

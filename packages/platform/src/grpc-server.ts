import {
  Server,
  ServerCredentials,
  status as GrpcStatus,
  type Metadata,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Authenticator, Principal } from './auth.js';
import { toPublicStatus, toServiceError } from './errors.js';

/** What a handler knows about its call besides the request. */
export interface CallContext {
  /** The authenticated account: always from the credential, never from the request. */
  readonly principal: Principal;
  /** Aborted when the caller cancels or goes away. */
  readonly signal: AbortSignal;
  readonly metadata: Metadata;
}

type RequestOf<D> = D extends { requestDeserialize: (b: Buffer) => infer R } ? R : never;
type ResponseOf<D> = D extends { responseSerialize: (v: infer R) => Buffer } ? R : never;

export type Handlers<S extends ServiceDefinition> = {
  [K in keyof S]: S[K] extends { responseStream: true }
    ? (req: RequestOf<S[K]>, ctx: CallContext, send: (msg: ResponseOf<S[K]>) => Promise<void>) => Promise<void>
    : (req: RequestOf<S[K]>, ctx: CallContext) => Promise<ResponseOf<S[K]>>;
};

export interface BindOptions {
  authenticator: Authenticator;
  logger: Logger;
}

/** Codes of failures on the server's side, whose causes are logged at warn level. */
const SERVER_SIDE: ReadonlySet<string> = new Set(['INTERNAL', 'UNKNOWN', 'DATA_LOSS', 'UNAVAILABLE']);

/**
 * Binds async handlers to a grpc-js service definition. This is the server boundary every service shares:
 * it authenticates each call (the auth interceptor), wires cancellation, and is the one place where any
 * failure becomes a gRPC status (the cause logged, never sent).
 */
export function bindService<S extends ServiceDefinition>(
  definition: S,
  handlers: Handlers<S>,
  options: BindOptions,
): UntypedServiceImplementation {
  const implementation: UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(definition)) {
    const handler = handlers[name as keyof S] as unknown as (...args: unknown[]) => Promise<unknown>;
    const path = method.path;
    const fail = (err: unknown) => {
      const status = toPublicStatus(err);
      if (status.unexpected) options.logger.error({ err, method: path }, 'unexpected failure');
      // A typed error of the server's side (the database, an upstream) tells the caller only what happened;
      // its cause, which may name hosts or tables, is for the operator.
      else if (SERVER_SIDE.has(status.codeName))
        options.logger.warn({ err, code: status.codeName, method: path }, 'call failed on the server side');
      else if (status.codeName !== 'UNAUTHENTICATED' && status.codeName !== 'CANCELLED')
        options.logger.debug({ code: status.codeName, method: path }, 'call failed');
      return status;
    };
    if (method.responseStream) {
      implementation[name] = (call: ServerWritableStream<unknown, unknown>) => {
        const controller = new AbortController();
        let settled = false;
        call.on('cancelled', () => {
          if (!settled) controller.abort();
        });
        // A full buffer waits for 'drain', which grpc-js never emits once the call is cancelled: the
        // abort must end the wait too, or the handler (and all it holds) would wait for good.
        const send = (msg: unknown) =>
          new Promise<void>((resolve) => {
            const signal = controller.signal;
            if (signal.aborted || call.write(msg)) return resolve();
            const done = () => {
              call.off('drain', done);
              signal.removeEventListener('abort', done);
              resolve();
            };
            call.once('drain', done);
            signal.addEventListener('abort', done, { once: true });
          });
        authenticate(call.metadata)
          .then((principal) =>
            handler(call.request, { principal, signal: controller.signal, metadata: call.metadata }, send),
          )
          .then(
            () => {
              settled = true;
              call.end();
            },
            (err) => {
              settled = true;
              if (!controller.signal.aborted) call.emit('error', toServiceError(fail(err)));
            },
          );
      };
    } else {
      implementation[name] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
        const controller = new AbortController();
        // grpc-js also emits 'cancelled' after every status it sends: only a call still running is aborted
        // (an abort builds a DOMException with its stack, a few percent of a call's CPU).
        let settled = false;
        call.on('cancelled', () => {
          if (!settled) controller.abort();
        });
        authenticate(call.metadata)
          .then((principal) => handler(call.request, { principal, signal: controller.signal, metadata: call.metadata }))
          .then(
            (response) => {
              settled = true;
              callback(null, response);
            },
            (err) => {
              settled = true;
              callback(toServiceError(fail(err)));
            },
          );
      };
    }
  }
  return implementation;

  function authenticate(metadata: Metadata): Promise<Principal> {
    const value = metadata.get('authorization')[0];
    return options.authenticator.authenticate(typeof value === 'string' ? value : undefined);
  }
}

export interface RunningServer {
  readonly port: number;
  readonly server: Server;
  /** Stops accepting calls, lets running ones finish (up to graceMs), then forces the rest. */
  close(graceMs?: number): Promise<void>;
}

/** The largest message a service accepts (grpc-js's default is 4 MiB); the facade checks requests against it. */
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

/** Starts one gRPC server for one or more bound services. */
export async function startGrpcServer(options: {
  host: string;
  port: number;
  services: { definition: ServiceDefinition; implementation: UntypedServiceImplementation }[];
}): Promise<RunningServer> {
  // channelz bookkeeping costs CPU on every call and nothing here reads it.
  const server = new Server({ 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES, 'grpc.enable_channelz': 0 });
  for (const s of options.services) server.addService(s.definition, s.implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${options.host}:${options.port}`, ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  return {
    port,
    server,
    close: (graceMs = 5000) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}

export { GrpcStatus };

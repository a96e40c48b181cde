import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Metadata, status as GrpcStatus, type Client, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import type { JsonValue } from '@bufbuild/protobuf';
import { contractsImageUrl } from '@routeplex/contracts';
import { MAX_MESSAGE_BYTES, isServiceStatus } from '@routeplex/platform';
import { Backends, deserializeBytes, serializeBytes, type BackendMap } from './backends.js';
import { loadContracts } from './descriptors.js';
import { codeNameFromNumber, errorBody, GatewayError, httpStatusFromCode, streamErrorEvent } from './errors.js';
import { buildOpenApi } from './openapi.js';
import { RouteTable, type Binding } from './route-table.js';
import { createStaticHandler, type StaticHandler } from './static-files.js';
import { decodeResponse, encodeRequest, invalidArgument } from './transcode.js';

/** A pino-like logger; the gateway logs start-up, shutdown and its own failures, never request content. */
export interface GatewayLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface GatewayOptions {
  /** Interface to listen on, e.g. `127.0.0.1` or `0.0.0.0`. */
  host: string;
  /** Port to listen on; 0 picks a free one (read it back from the result). */
  port: number;
  /** Service full name (e.g. `routeplex.router.v1.RouterService`) -> `host:port`; `default` for the rest. */
  backends: Record<string, string> | { default: string };
  /** The compiled contracts (buf image with imports); defaults to the one of `@routeplex/contracts`. */
  imageUrl?: URL;
  /** Largest request body accepted; larger ones get 413 without being read. */
  bodyLimitBytes: number;
  /** A folder served as static files under `staticPrefix` (e.g. the dashboard). */
  staticDir?: string;
  /** URL prefix of the static files, e.g. `/dashboard`; required with `staticDir`. */
  staticPrefix?: string;
  logger?: GatewayLogger;
  /**
   * A streaming client that takes none of the answer for this long is disconnected, which cancels its backend
   * call (default 60 s): a client that stops reading would otherwise hold the call, and the upstream request
   * behind it, for as long as its connection lives.
   */
  stalledClientMs?: number;
  /** How long close() lets answers in flight finish before it cuts their connections (default 10 s). */
  shutdownGraceMs?: number;
  /**
   * Browser origins allowed to call the API (CORS): exact origins such as `https://app.example.com`, or `*` for
   * any. Default none: browsers on other origins are refused, as they are by a server that knows no CORS.
   */
  corsOrigins?: readonly string[];
}

export interface Gateway {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  port: number;
  /**
   * Stops accepting connections, ends idle ones, lets answers in flight finish for the grace period (then cuts
   * their connections, cancelling their calls), and closes the backend channels.
   */
  close(): Promise<void>;
}

export const OPENAPI_PATH = '/api/v1/openapi.json';
export const HEALTH_PATH = '/healthz';

const JSON_TYPE = 'application/json';
const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
};
const DONE_EVENT = 'data: [DONE]\n\n';
const utf8 = new TextDecoder('utf-8', { fatal: true });
const noop = () => {};

export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  if (!Number.isInteger(options.bodyLimitBytes) || options.bodyLimitBytes <= 0) {
    throw new GatewayError(
      'INVALID_ARGUMENT',
      `bodyLimitBytes is ${options.bodyLimitBytes}: give a positive integer, e.g. 1048576`,
    );
  }
  const contracts = await loadContracts(options.imageUrl ?? contractsImageUrl);
  const table = new RouteTable(contracts);
  const openApiBody = Buffer.from(JSON.stringify(buildOpenApi(contracts, table)));
  const staticHandler =
    options.staticDir === undefined ? undefined : createStaticHandler(options.staticDir, options.staticPrefix ?? '');
  const backends = new Backends(options.backends as BackendMap);
  const handler = new RequestHandler(
    table,
    backends,
    options.bodyLimitBytes,
    openApiBody,
    staticHandler,
    options.logger,
    options.stalledClientMs ?? 60_000,
    options.corsOrigins ?? [],
  );

  // While closing, an answer ends its connection: kept alive, it would hold close() for the keep-alive
  // timeout (65 s), and its client could send more requests on it meanwhile.
  let closing = false;
  const inFlight = new Set<ServerResponse>();
  const track = (res: ServerResponse) => {
    if (closing) res.shouldKeepAlive = false;
    inFlight.add(res);
    res.once('close', () => {
      inFlight.delete(res);
      if (closing) server.closeIdleConnections();
    });
  };
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    track(res);
    handler.handle(req, res);
  });
  // Expect: 100-continue: refuse an oversized body before the client sends it.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    track(res);
    if (Number(req.headers['content-length']) > options.bodyLimitBytes) return handler.tooLarge(res);
    res.writeContinue();
    handler.handle(req, res);
  });
  // Malformed requests that never reach the handler (bad request line, header abuse) still get a Status body.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => writeClientError(err, socket));
  await listen(server, options.host, options.port);
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host;
  options.logger?.info({ port, routes: table.bindings.length }, 'gateway listening');
  return {
    url: `http://${hostForUrl}:${port}`,
    port,
    close: async () => {
      closing = true;
      for (const res of inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
      await new Promise<void>((resolve) => {
        const cut = setTimeout(() => server.closeAllConnections(), options.shutdownGraceMs ?? 10_000);
        server.close(() => {
          clearTimeout(cut);
          resolve();
        });
        server.closeIdleConnections();
      });
      backends.close();
      options.logger?.info({ port }, 'gateway closed');
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function writeClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable || (err.code === 'ECONNRESET' && socket.destroyed)) {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
  const status = tooLarge ? 431 : timeout ? 408 : 400;
  const body = tooLarge
    ? errorBody('INVALID_ARGUMENT', 'request headers are too large: send fewer or shorter headers')
    : timeout
      ? errorBody('DEADLINE_EXCEEDED', 'the request was not received in time: send the whole request promptly')
      : errorBody('INVALID_ARGUMENT', 'malformed HTTP request: send a valid HTTP/1.1 request line and headers');
  const reason = tooLarge ? 'Request Header Fields Too Large' : timeout ? 'Request Timeout' : 'Bad Request';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-type: ${JSON_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

class RequestHandler {
  constructor(
    private readonly table: RouteTable,
    private readonly backends: Backends,
    private readonly bodyLimit: number,
    private readonly openApiBody: Buffer,
    private readonly staticHandler: StaticHandler | undefined,
    private readonly logger: GatewayLogger | undefined,
    private readonly stalledClientMs: number,
    private readonly corsOrigins: readonly string[],
  ) {}

  handle(req: IncomingMessage, res: ServerResponse): void {
    this.route(req, res).catch((err: unknown) => this.fail(res, err));
  }

  tooLarge(res: ServerResponse): void {
    this.fail(res, this.tooLargeError());
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    const rawQuery = q < 0 ? '' : target.slice(q + 1);
    const method = req.method ?? 'GET';
    if (path.charCodeAt(0) !== 47 /* '/' */) {
      throw invalidArgument('the request target must be an absolute path such as /api/v1/models');
    }
    const origin = req.headers.origin;
    const allowedOrigin = origin === undefined ? undefined : this.allowedOrigin(origin);
    if (allowedOrigin !== undefined) {
      res.setHeader('access-control-allow-origin', allowedOrigin);
      res.setHeader('vary', 'Origin');
      res.setHeader('access-control-expose-headers', 'retry-after');
    }
    if (method === 'OPTIONS' && origin !== undefined && req.headers['access-control-request-method'] !== undefined)
      return this.preflight(req, res, path, origin, allowedOrigin);
    if (path === HEALTH_PATH || path === OPENAPI_PATH) {
      if (method !== 'GET' && method !== 'HEAD') {
        throw new GatewayError('UNIMPLEMENTED', `method ${method.slice(0, 20)} is not allowed on ${path}: use GET`, {
          httpStatus: 405,
          headers: { allow: 'GET, HEAD' },
        });
      }
      const body = path === HEALTH_PATH ? Buffer.from('{"status":"SERVING"}') : this.openApiBody;
      res.writeHead(200, { 'content-type': JSON_TYPE, 'content-length': body.length });
      res.end(method === 'HEAD' ? undefined : body);
      return;
    }
    if (this.staticHandler?.matches(path)) {
      await this.staticHandler.serve(req, res, path);
      return;
    }
    // HEAD is GET without the body (Node's response leaves it out).
    const { bindings, captured } = this.table.match(method === 'HEAD' ? 'GET' : method, path);
    const anyBinding = (bindings.unary ?? bindings.streaming)!;
    let body: JsonValue | undefined;
    if (anyBinding.body === '') {
      if (hasBody(req)) {
        throw invalidArgument(
          `${method} ${anyBinding.template.source} takes no request body: pass fields as query parameters`,
        );
      }
    } else {
      body = await this.readJson(req);
    }
    const binding = chooseBinding(bindings.unary, bindings.streaming, body);
    const request = encodeRequest(binding, captured, rawQuery, body);
    // JSON that fits the body limit can grow as protobuf (every number of a Value is a message): refused here
    // as too large, not left to the service's receive limit, whose status would read as a rate limit.
    if (request.length > MAX_MESSAGE_BYTES)
      throw new GatewayError(
        'RESOURCE_EXHAUSTED',
        `the request is ${request.length} bytes once encoded for the service, which accepts at most ${MAX_MESSAGE_BYTES}: send a smaller body`,
        { httpStatus: 413, openAiType: 'invalid_request_error' },
      );
    const client = this.backends.clientFor(binding.serviceName);
    if (!client) {
      throw new GatewayError(
        'UNIMPLEMENTED',
        `${binding.serviceName} has no backend configured: add it to the gateway's backends`,
      );
    }
    const metadata = new Metadata();
    const authorization = req.headers.authorization;
    if (authorization !== undefined) {
      try {
        metadata.set('authorization', authorization);
      } catch {
        // grpc metadata values must be printable ASCII; the value itself is never echoed or logged.
        throw new GatewayError(
          'UNAUTHENTICATED',
          'the Authorization header holds characters other than printable ASCII: send "Bearer <token>"',
        );
      }
    }
    if (binding.serverStreaming) this.stream(client, binding, request, metadata, res);
    else this.unary(client, binding, request, metadata, res);
  }

  private unary(client: Client, binding: Binding, request: Uint8Array, metadata: Metadata, res: ServerResponse): void {
    // grpc-js and Node's HTTP/2 stream keep the callback reachable until the next full collection (a native
    // stream handle survives young-generation collections); holding the response through a slot that is
    // cleared on completion keeps the response and its request from being promoted with it.
    const slot: { res: ServerResponse | undefined } = { res };
    const call = client.makeUnaryRequest(
      binding.grpcPath,
      serializeBytes,
      deserializeBytes,
      request,
      metadata,
      {},
      (err, value) => {
        const out = slot.res;
        slot.res = undefined;
        if (out === undefined) return;
        if (err) return this.fail(out, err);
        let json: string;
        try {
          json = decodeResponse(binding, value!);
        } catch (e) {
          return this.fail(out, e);
        }
        out.writeHead(200, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(json) });
        out.end(json);
      },
    );
    // A client that goes away cancels the backend call (and through it the provider call).
    res.once('close', () => {
      if (slot.res !== undefined) call.cancel();
    });
  }

  /** The value of Access-Control-Allow-Origin for a browser origin, or undefined when it may not call. */
  private allowedOrigin(origin: string): string | undefined {
    if (this.corsOrigins.includes('*')) return '*';
    return this.corsOrigins.includes(origin) ? origin : undefined;
  }

  /** A browser asks whether a cross-origin request may be sent: the methods of the path, and the headers asked for. */
  private preflight(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    origin: string,
    allowedOrigin: string | undefined,
  ): void {
    if (allowedOrigin === undefined)
      throw new GatewayError(
        'PERMISSION_DENIED',
        `browsers on ${origin.slice(0, 100)} may not call this API: add the origin to the gateway's CORS origins (GATEWAY_CORS_ORIGINS)`,
      );
    const methods = path === HEALTH_PATH || path === OPENAPI_PATH ? ['GET'] : this.table.methodsFor(path);
    if (methods.length === 0) this.table.match('GET', path); // throws NOT_FOUND naming the path
    if (methods.includes('GET')) methods.push('HEAD');
    res.writeHead(204, {
      'access-control-allow-methods': methods.join(', '),
      // Whatever headers the client sends (OpenAI's SDKs add x-stainless-*): only Authorization is passed on.
      'access-control-allow-headers': req.headers['access-control-request-headers'] ?? 'authorization, content-type',
      'access-control-max-age': '600',
    });
    res.end();
  }

  private stream(client: Client, binding: Binding, request: Uint8Array, metadata: Metadata, res: ServerResponse): void {
    const call = client.makeServerStreamRequest(
      binding.grpcPath,
      serializeBytes,
      deserializeBytes,
      request,
      metadata,
      {},
    );
    let started = false;
    let finished = false;
    /** Running while the client takes nothing more: it ends the response when it runs out. */
    let stalled: NodeJS.Timeout | undefined;
    const start = () => {
      if (!started) {
        started = true;
        res.writeHead(200, SSE_HEADERS);
      }
    };
    call.on('data', (bytes: Buffer) => {
      if (finished) return;
      let json: string;
      try {
        json = decodeResponse(binding, bytes);
      } catch (e) {
        finished = true;
        call.cancel();
        this.logger?.error({ err: (e as Error).message, rpc: binding.grpcPath }, 'cannot decode a backend message');
        if (!started) return this.fail(res, e);
        res.end(streamErrorEvent('INTERNAL', 'the backend sent a message the gateway cannot decode'));
        return;
      }
      start();
      if (!res.write(`data: ${json}\n\n`) && stalled === undefined) {
        call.pause();
        stalled = setTimeout(() => res.destroy(), this.stalledClientMs);
        res.once('drain', () => {
          clearTimeout(stalled);
          stalled = undefined;
          call.resume();
        });
      }
    });
    call.on('error', (err: ServiceError) => {
      if (finished) return;
      finished = true;
      // Before any output the client gets a plain error response with the mapped HTTP status.
      if (!started) return this.fail(res, err);
      res.end(streamErrorEvent(codeNameFromNumber(err.code), this.publicDetails(err)));
    });
    call.on('status', noop as (s: StatusObject) => void);
    call.on('end', () => {
      if (finished) return;
      finished = true;
      start();
      res.end(DONE_EVENT);
    });
    res.once('close', () => {
      clearTimeout(stalled);
      if (!finished) {
        finished = true;
        call.cancel();
      }
    });
  }

  private readJson(req: IncomingMessage): Promise<JsonValue | undefined> {
    const contentType = req.headers['content-type'];
    if (contentType !== undefined && !isJsonContentType(contentType)) {
      return Promise.reject(
        new GatewayError(
          'INVALID_ARGUMENT',
          `content type "${contentType.slice(0, 100)}" is not supported: send JSON with "Content-Type: application/json"`,
          {
            httpStatus: 415,
          },
        ),
      );
    }
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > this.bodyLimit) {
      return Promise.reject(this.tooLargeError());
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size > this.bodyLimit) {
          // Stop reading: the rest of the body is neither buffered nor waited for.
          req.off('data', onData);
          req.pause();
          reject(this.tooLargeError());
          return;
        }
        chunks.push(chunk);
      };
      req.on('data', onData);
      // The client went away while sending: nothing to answer, and no failure of the gateway's to log.
      req.once('error', (err) =>
        reject(
          new GatewayError('CANCELLED', 'the client closed the connection while sending the body', { cause: err }),
        ),
      );
      req.once('end', () => {
        if (size > this.bodyLimit) return;
        if (size === 0) return resolve(undefined);
        const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
        let text: string;
        try {
          text = utf8.decode(buf);
        } catch {
          return reject(invalidArgument('the request body is not valid UTF-8: encode the JSON as UTF-8'));
        }
        try {
          resolve(JSON.parse(text) as JsonValue);
        } catch (e) {
          // The parser's own message can quote the body around the error (the prompt): only its position is kept.
          const position = /at position (\d+)/.exec((e as Error).message)?.[1];
          const where = position === undefined ? '' : ` (at character ${position})`;
          reject(invalidArgument(`the request body is not valid JSON${where}: send a JSON object`));
        }
      });
    });
  }

  private tooLargeError(): GatewayError {
    return new GatewayError(
      'RESOURCE_EXHAUSTED',
      `the request body is larger than ${this.bodyLimit} bytes: send a smaller body`,
      { httpStatus: 413, headers: { connection: 'close' }, openAiType: 'invalid_request_error' },
    );
  }

  /**
   * What a client is told of a backend's status: the service's own message, or, for a status of the
   * transport (backend unreachable, connection dropped), a plain one, its details (hosts, ports) logged.
   */
  private publicDetails(err: ServiceError): string {
    const code = codeNameFromNumber(err.code);
    if (isServiceStatus(err)) return err.details || code;
    this.logger?.warn({ code, err: err.details || err.message }, 'backend call failed in transport');
    if (code === 'UNAVAILABLE') return 'the service for this path is unreachable; retry later';
    if (code === 'DEADLINE_EXCEEDED') return 'the service for this path did not answer in time; retry later';
    return `the call to the service for this path failed (${code})`;
  }

  /** The one place that turns any failure into an HTTP error response. */
  fail(res: ServerResponse, err: unknown): void {
    let status: number;
    let body: string;
    let headers: Readonly<Record<string, string>> | undefined;
    if (err instanceof GatewayError) {
      status = err.httpStatus;
      body = errorBody(err.code, err.message, err.openAiType);
      headers = err.headers;
    } else if (isServiceError(err)) {
      const code = codeNameFromNumber(err.code);
      // RESOURCE_EXHAUSTED from the transport is a message over a size limit, not a rate limit to retry.
      const oversized = code === 'RESOURCE_EXHAUSTED' && !isServiceStatus(err);
      status = oversized ? 500 : httpStatusFromCode(code);
      body = errorBody(code, this.publicDetails(err), oversized ? 'api_error' : undefined);
    } else {
      status = 500;
      body = errorBody('INTERNAL', 'the gateway failed to handle the request; it has been logged');
      this.logger?.error({ err: err instanceof Error ? err.message : String(err) }, 'gateway failure');
    }
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    res.writeHead(status, { ...headers, 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}

function chooseBinding(
  unary: Binding | undefined,
  streaming: Binding | undefined,
  body: JsonValue | undefined,
): Binding {
  if (unary && streaming) {
    const wantsStream = body !== null && typeof body === 'object' && !Array.isArray(body) && body.stream === true;
    return wantsStream ? streaming : unary;
  }
  return (unary ?? streaming)!;
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

function isJsonContentType(value: string): boolean {
  const semi = value.indexOf(';');
  const type = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  if (type !== JSON_TYPE && !(type.startsWith('application/') && type.endsWith('+json'))) return false;
  if (semi < 0) return true;
  const charset = /charset\s*=\s*"?([^";\s]+)/i.exec(value.slice(semi));
  return !charset || /^utf-?8$/i.test(charset[1]!);
}

function isServiceError(err: unknown): err is ServiceError {
  return (
    err instanceof Error && typeof (err as ServiceError).code === 'number' && (err as ServiceError).code in GrpcStatus
  );
}

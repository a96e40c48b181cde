import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { Pool, type Dispatcher } from 'undici';
import { ProviderError, codeForHttpStatus, fixHint, isRetryableHttpStatus } from './errors.js';
import {
  DEFAULT_BACKOFF,
  nextRetryWait,
  parseRetryAfter,
  sleep,
  type BackoffOptions,
  type RetryOptions,
} from './retry.js';
import type { ChatCall, ChatChunk } from './types.js';

/** Settings shared by the HTTP adapters. */
export interface HttpProviderOptions {
  /** Base URL of the API. */
  baseUrl?: string;
  apiKey?: string;
  /** Overrides the provider id (defaults to the protocol name, plus `@host` for a non-default base URL). */
  id?: string;
  /** Extra headers sent with every request (e.g. OpenRouter's HTTP-Referer). */
  headers?: Record<string, string>;
  /** Whole-call deadline, retries included. Default 120 s. */
  timeoutMs?: number;
  /** Deadline for the response headers of each attempt. Default 60 s. */
  firstByteTimeoutMs?: number;
  /** Longest silence allowed between two body chunks. Default 60 s. */
  idleTimeoutMs?: number;
  retry?: Partial<BackoffOptions>;
  /** Jitter source for back-off; injected in tests. */
  random?: () => number;
  /** Upper bound of pooled keep-alive connections to the upstream. Default 256. */
  connections?: number;
  /** Use this dispatcher instead of a private keep-alive pool (then `close()` leaves it open). */
  dispatcher?: Dispatcher;
}

/** The parts of the upstream error body worth keeping: type or code only, never free text. */
export type ErrorTypeReader = (body: unknown) => string | undefined;

/** Turns the SSE events of one streamed answer into chunks. One instance per call. */
export interface StreamDecoder {
  /** Returns a chunk to emit, or undefined. Throws ProviderError for an upstream error event. */
  onEvent(event: EventSourceMessage): ChatChunk | undefined;
  /** True once the upstream signalled the end of the answer. */
  readonly done: boolean;
  /** The closing chunk (finish reason, usage). Throws when the stream ended without the end marker. */
  finish(): ChatChunk;
}

interface CallScope {
  signal: AbortSignal;
  deadlineAt: number;
  firstByteTimeoutMs: number;
  callerSignal: AbortSignal | undefined;
  timedOut: () => boolean;
  /** Ends the call because an attempt's response headers did not arrive in time. */
  expireFirstByte: () => void;
  firstByteExpired: () => boolean;
  /** Stops the upstream request (the consumer of a stream went away). */
  abort: () => void;
  /** Starts the deadline again from now: a stream's chunk shows the answer is still coming. */
  extendDeadline: () => void;
  dispose: () => void;
}

interface UpstreamResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
}

/** A whole answer read into memory (the unary path). */
interface BufferedResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * Keep-alive HTTP client for one upstream base URL, with deadlines, retries and error mapping. The adapters give it
 * request bodies and response parsers; it never looks at the content.
 */
export class UpstreamClient {
  readonly providerId: string;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly origin: string;
  private readonly pathPrefix: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly firstByteTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly backoff: BackoffOptions;
  private readonly random: () => number;
  private readonly readErrorType: ErrorTypeReader;
  private closed = false;

  constructor(
    providerId: string,
    baseUrl: string,
    headers: Record<string, string>,
    options: HttpProviderOptions,
    readErrorType: ErrorTypeReader,
  ) {
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw new ProviderError({
        code: 'INVALID_ARGUMENT',
        message: `${providerId}: baseUrl "${baseUrl}" is not an absolute URL; use e.g. "https://api.example.com/v1"`,
        retryable: false,
        providerId,
      });
    }
    this.providerId = providerId;
    this.origin = url.origin;
    this.pathPrefix = url.pathname.replace(/\/+$/, '');
    this.headers = { 'content-type': 'application/json', accept: 'application/json', ...headers, ...options.headers };
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.firstByteTimeoutMs = options.firstByteTimeoutMs ?? 60_000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.retry };
    this.random = options.random ?? Math.random;
    this.readErrorType = readErrorType;
    if (options.dispatcher) {
      this.dispatcher = options.dispatcher;
      this.ownsDispatcher = false;
    } else {
      this.dispatcher = new Pool(url.origin, {
        connections: options.connections ?? 256,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
      });
      this.ownsDispatcher = true;
    }
  }

  /** POSTs `body` to `path` and parses the JSON answer with `parse`, retrying 429/5xx/connection failures. */
  async postJson<T>(call: ChatCall, path: string, body: string, parse: (json: unknown) => T): Promise<T> {
    const scope = this.openScope(call);
    // Built on the first failure only: the success path allocates as little as possible.
    let retryOptions: RetryOptions | undefined;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          const response = await this.exchange(path, body, scope, call.model);
          if (response.statusCode >= 300) throw this.errorFromStatus(response, call.model);
          return parse(this.parseJson(response.text, call.model));
        } catch (error) {
          retryOptions ??= this.retryOptions(scope);
          const wait = nextRetryWait(error, attempt, retryOptions);
          if (wait === undefined) throw error instanceof ProviderError ? error.withAttempts(attempt) : error;
          await this.pause(wait, scope, call.model);
        }
      }
    } finally {
      scope.dispose();
    }
  }

  /**
   * POSTs `body` to `path` and yields the chunks `decoder` makes of the SSE answer. Failures before the first chunk
   * is yielded are retried like unary calls; once output has started, a failure ends the stream with an error.
   */
  async *postStream(
    call: ChatCall,
    path: string,
    body: string,
    createDecoder: () => StreamDecoder,
  ): AsyncGenerator<ChatChunk, void, undefined> {
    const scope = this.openScope(call);
    let retryOptions: RetryOptions | undefined;
    let response: UpstreamResponse | undefined;
    let finished = false;
    try {
      for (let attempt = 1; ; attempt++) {
        let yielded = false;
        try {
          response = await this.send(path, body, scope, call.model, 'text/event-stream');
          if (response.statusCode >= 300) throw await this.errorFromResponse(response, call.model);
          const decoder = createDecoder();
          const pending: EventSourceMessage[] = [];
          const parser = createParser({ onEvent: (event) => pending.push(event) });
          const textDecoder = new TextDecoder();
          try {
            for await (const bytes of response.body) {
              parser.feed(textDecoder.decode(bytes as Uint8Array, { stream: true }));
              for (let i = 0; i < pending.length; i++) {
                const chunk = decoder.onEvent(pending[i]!);
                if (chunk !== undefined) {
                  yielded = true;
                  // The deadline is for an answer that stops coming, not for one that is long.
                  scope.extendDeadline();
                  yield chunk;
                }
              }
              pending.length = 0;
              if (decoder.done) break;
            }
          } catch (error) {
            if (error instanceof ProviderError) throw error;
            throw this.transportError(error, scope, call.model);
          }
          const last = decoder.finish();
          finished = true;
          yield last;
          return;
        } catch (error) {
          if (response !== undefined && !response.body.destroyed) response.body.destroy();
          response = undefined;
          retryOptions ??= this.retryOptions(scope);
          const wait = yielded ? undefined : nextRetryWait(error, attempt, retryOptions);
          if (wait === undefined) throw error instanceof ProviderError ? error.withAttempts(attempt) : error;
          await this.pause(wait, scope, call.model);
        }
      }
    } finally {
      // The consumer may stop early (break, return): abort the upstream so the provider stops generating.
      if (!finished && !scope.signal.aborted) scope.abort();
      if (response !== undefined && !response.body.destroyed) response.body.destroy();
      scope.dispose();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private openScope(call: ChatCall): CallScope {
    const timeoutMs = call.timeoutMs ?? this.timeoutMs;
    const controller = new AbortController();
    const callerSignal = call.signal;
    let timedOut = false;
    let firstByteExpired = false;
    const expire = () => {
      timedOut = true;
      controller.abort(new Error('deadline exceeded'));
    };
    let timer = setTimeout(expire, timeoutMs);
    const onCallerAbort = (): void => controller.abort(new Error('cancelled by caller'));
    if (callerSignal) {
      if (callerSignal.aborted) onCallerAbort();
      else callerSignal.addEventListener('abort', onCallerAbort, { once: true });
    }
    return {
      signal: controller.signal,
      deadlineAt: Date.now() + timeoutMs,
      firstByteTimeoutMs: Math.min(call.firstByteTimeoutMs ?? this.firstByteTimeoutMs, timeoutMs),
      callerSignal,
      timedOut: () => timedOut,
      expireFirstByte: () => {
        firstByteExpired = true;
        controller.abort(new Error('first byte timeout'));
      },
      firstByteExpired: () => firstByteExpired,
      abort: () => controller.abort(new Error('stream consumer stopped')),
      extendDeadline: () => {
        if (timedOut || controller.signal.aborted) return;
        clearTimeout(timer);
        timer = setTimeout(expire, timeoutMs);
      },
      dispose: () => {
        clearTimeout(timer);
        callerSignal?.removeEventListener('abort', onCallerAbort);
      },
    };
  }

  private retryOptions(scope: CallScope): RetryOptions {
    return {
      ...this.backoff,
      signal: scope.signal,
      deadlineAt: scope.deadlineAt,
      random: this.random,
      classify: (error) =>
        error instanceof ProviderError && error.retryable
          ? error.retryAfterMs === undefined
            ? { retry: true }
            : { retry: true, retryAfterMs: error.retryAfterMs }
          : { retry: false },
    };
  }

  private async send(
    path: string,
    body: string,
    scope: CallScope,
    model: string,
    accept?: string,
  ): Promise<UpstreamResponse> {
    const signal = scope.signal;
    if (signal.aborted) throw this.abortError(scope, model);
    // Own timer rather than undici's headersTimeout, whose coarse clock can overshoot short timeouts by a second.
    const firstByteTimer = startFirstByteTimer(scope);
    try {
      return await new Promise<UpstreamResponse>((resolve, reject) => {
        // undici heeds `signal` only once the request has a connection; waiting for one in a busy pool, the call
        // would outlive its deadline and the caller's cancel. undici still drops it, unsent, when its turn comes.
        const onAbort = () => reject(this.abortError(scope, model));
        signal.addEventListener('abort', onAbort, { once: true });
        this.dispatcher
          .request({
            origin: this.origin,
            path: this.pathPrefix + path,
            method: 'POST',
            headers: accept === undefined ? this.headers : { ...this.headers, accept },
            body,
            signal,
            headersTimeout: 0,
            bodyTimeout: this.idleTimeoutMs,
          })
          .then(
            (response) => {
              signal.removeEventListener('abort', onAbort);
              if (!signal.aborted) return resolve(response);
              // The call already gave up: nobody will read this body, and leaving it would hold the connection.
              response.body.destroy();
              reject(this.abortError(scope, model));
            },
            (error: unknown) => {
              signal.removeEventListener('abort', onAbort);
              reject(this.transportError(error, scope, model));
            },
          );
      });
    } catch (error) {
      throw this.transportError(error, scope, model);
    } finally {
      if (firstByteTimer !== undefined) clearTimeout(firstByteTimer);
    }
  }

  /**
   * One request whose answer is read whole: undici's dispatch with a handler that gathers the bytes, about
   * half the CPU of request(), which wraps every answer in a Readable stream. The call's deadline as send().
   */
  private exchange(path: string, body: string, scope: CallScope, model: string): Promise<BufferedResponse> {
    if (scope.signal.aborted) return Promise.reject(this.abortError(scope, model));
    // No first-byte deadline: a server sends a whole answer's headers when it has generated all of it, so
    // only the call's deadline (which the operator sets for long answers) applies.
    return new Promise<BufferedResponse>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let statusCode = 0;
      let headers: BufferedResponse['headers'] = {};
      let controller: Dispatcher.DispatchController | undefined;
      const signal = scope.signal;
      const settle = () => {
        signal.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        if (controller !== undefined) {
          controller.abort(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
          return;
        }
        // Not dispatched yet: the request waits for a connection of the busy pool, which may take longer than the
        // deadline, so the call fails now; onRequestStart stops the request before it is written.
        settle();
        reject(this.abortError(scope, model));
      };
      // Listening from before dispatch: the wait for a pooled connection counts against the deadline too.
      signal.addEventListener('abort', onAbort, { once: true });
      this.dispatcher.dispatch(
        {
          origin: this.origin,
          path: this.pathPrefix + path,
          method: 'POST',
          headers: this.headers,
          body,
          headersTimeout: 0,
          bodyTimeout: this.idleTimeoutMs,
        },
        {
          onRequestStart(c) {
            // Called again when undici retries the request on a fresh connection.
            controller = c;
            // Aborting here, before the request is written, means an upstream never sees a call that gave up.
            if (signal.aborted) c.abort(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
          },
          onResponseStart(_c, status, responseHeaders) {
            statusCode = status;
            headers = responseHeaders;
          },
          onResponseData(_c, chunk) {
            chunks.push(chunk);
          },
          onResponseEnd() {
            settle();
            const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
            resolve({ statusCode, headers, text: bytes.toString('utf8') });
          },
          onResponseError: (_c, error) => {
            settle();
            reject(this.transportError(error, scope, model));
          },
        },
      );
    });
  }

  private async pause(ms: number, scope: CallScope, model: string): Promise<void> {
    try {
      await sleep(ms, scope.signal);
    } catch {
      throw this.abortError(scope, model);
    }
  }

  private parseJson(text: string, model: string): unknown {
    try {
      return JSON.parse(text);
    } catch {
      // The SyntaxError would quote the body (i.e. the answer), so it is not kept as the cause.
      throw this.malformed(model, 'a body that is not JSON');
    }
  }

  malformed(model: string, what: string): ProviderError {
    return new ProviderError({
      code: 'INTERNAL',
      message: `${this.providerId} answered ${what} for model "${model}"; ${fixHint('INTERNAL')}`,
      retryable: false,
      providerId: this.providerId,
      model,
    });
  }

  /** An error event inside a stream (after HTTP 200). */
  streamError(model: string, reportedType: string | undefined): ProviderError {
    const upstreamType = errorToken(reportedType);
    const code = streamErrorCode(upstreamType);
    const type = upstreamType === undefined ? '' : ` (${upstreamType})`;
    return new ProviderError({
      code,
      message: `${this.providerId} reported an error${type} in the middle of the stream for model "${model}"; ${fixHint(code)}`,
      retryable: code === 'UNAVAILABLE' || code === 'RESOURCE_EXHAUSTED',
      providerId: this.providerId,
      model,
      ...(upstreamType === undefined ? {} : { upstreamType }),
    });
  }

  private async errorFromResponse(response: UpstreamResponse, model: string): Promise<ProviderError> {
    let text = '';
    try {
      text = await response.body.text();
    } catch {
      // An unreadable error body still leaves the status code to go by.
    }
    return this.errorFromStatus({ statusCode: response.statusCode, headers: response.headers, text }, model);
  }

  private errorFromStatus(response: BufferedResponse, model: string): ProviderError {
    const status = response.statusCode;
    let upstreamType: string | undefined;
    try {
      upstreamType = errorToken(this.readErrorType(JSON.parse(response.text)));
    } catch {
      // An unreadable error body still leaves the status code to go by.
    }
    const code = status < 400 ? 'INTERNAL' : codeForHttpStatus(status);
    const retryable = isRetryableHttpStatus(status);
    const retryAfterMs = retryable
      ? parseRetryAfter(headerValue(response.headers['retry-after']), headerValue(response.headers['retry-after-ms']))
      : undefined;
    const type = upstreamType === undefined ? '' : ` (${upstreamType})`;
    return new ProviderError({
      code,
      message: `${this.providerId} answered HTTP ${status}${type} for model "${model}"; ${fixHint(code)}`,
      retryable,
      providerId: this.providerId,
      model,
      httpStatus: status,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      ...(upstreamType === undefined ? {} : { upstreamType }),
    });
  }

  private abortError(scope: CallScope, model: string): ProviderError {
    if (scope.callerSignal?.aborted) {
      return new ProviderError({
        code: 'CANCELLED',
        message: `call to ${this.providerId} model "${model}" was cancelled by the caller`,
        retryable: false,
        providerId: this.providerId,
        model,
      });
    }
    if (scope.firstByteExpired()) {
      return new ProviderError({
        code: 'DEADLINE_EXCEEDED',
        message: `${this.providerId} model "${model}" did not start answering within ${scope.firstByteTimeoutMs} ms; ${fixHint('DEADLINE_EXCEEDED')}`,
        retryable: false,
        providerId: this.providerId,
        model,
      });
    }
    if (scope.timedOut()) {
      return new ProviderError({
        code: 'DEADLINE_EXCEEDED',
        message: `${this.providerId} model "${model}" did not finish within the call deadline; ${fixHint('DEADLINE_EXCEEDED')}`,
        retryable: false,
        providerId: this.providerId,
        model,
      });
    }
    return new ProviderError({
      code: 'CANCELLED',
      message: `call to ${this.providerId} model "${model}" was stopped before it finished`,
      retryable: false,
      providerId: this.providerId,
      model,
    });
  }

  /** Maps a failure of the HTTP exchange itself (no usable status) to a ProviderError. */
  private transportError(error: unknown, scope: CallScope, model: string): ProviderError {
    if (error instanceof ProviderError) return error;
    if (scope.signal.aborted) return this.abortError(scope, model);
    const errorCode = (error as { code?: unknown } | null)?.code;
    const transportCode = typeof errorCode === 'string' ? errorCode : 'unknown';
    if (transportCode === 'UND_ERR_HEADERS_TIMEOUT' || transportCode === 'UND_ERR_BODY_TIMEOUT') {
      const what = transportCode === 'UND_ERR_HEADERS_TIMEOUT' ? 'start answering' : 'send the next part of its answer';
      return new ProviderError({
        code: 'DEADLINE_EXCEEDED',
        message: `${this.providerId} model "${model}" did not ${what} in time; ${fixHint('DEADLINE_EXCEEDED')}`,
        retryable: false,
        providerId: this.providerId,
        model,
      });
    }
    // Only the error code is kept: it names the failure (ECONNREFUSED, UND_ERR_SOCKET, ...) without any content.
    return new ProviderError({
      code: 'UNAVAILABLE',
      message: `could not reach ${this.providerId} for model "${model}" (${transportCode}); ${fixHint('UNAVAILABLE')}`,
      retryable: true,
      providerId: this.providerId,
      model,
      upstreamType: transportCode,
    });
  }
}

/** The per-attempt deadline for response headers, unless the call's own deadline comes first. */
function startFirstByteTimer(scope: CallScope): NodeJS.Timeout | undefined {
  return scope.firstByteTimeoutMs < scope.deadlineAt - Date.now()
    ? setTimeout(scope.expireFirstByte, scope.firstByteTimeoutMs)
    : undefined;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function streamErrorCode(upstreamType: string | undefined): ProviderError['code'] {
  const type = (upstreamType ?? '').toLowerCase();
  if (type.includes('rate') || type.includes('quota') || type.includes('exhausted')) return 'RESOURCE_EXHAUSTED';
  if (type.includes('invalid')) return 'INVALID_ARGUMENT';
  return 'UNAVAILABLE';
}

/** Reads a non-negative integer token count, tolerating absence. */
export function tokenCount(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0;
}

/** `obj[key]` when obj is a plain object. */
export function field(obj: unknown, key: string): unknown {
  return typeof obj === 'object' && obj !== null ? (obj as Record<string, unknown>)[key] : undefined;
}

/** The default provider id for a protocol and base URL: the protocol, plus `@host` for a non-default host. */
export function defaultProviderId(protocol: string, baseUrl: string, defaultBaseUrl: string): string {
  if (baseUrl.replace(/\/+$/, '') === defaultBaseUrl) return protocol;
  try {
    return `${protocol}@${new URL(baseUrl).host}`;
  } catch {
    return protocol;
  }
}

/**
 * An upstream's error type or code, kept only when it is a token such as `rate_limit_exceeded` or
 * `RESOURCE_EXHAUSTED`: it goes into messages that reach clients, logs and spans, and a server that put
 * free text there (a moderation notice quoting the prompt) would carry the prompt along.
 */
function errorToken(value: string | undefined): string | undefined {
  return value !== undefined && /^[A-Za-z0-9_.:-]{1,64}$/.test(value) ? value : undefined;
}

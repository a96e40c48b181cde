import { expect } from 'chai';
import { credentials, Metadata, status, type ServiceDefinition, type ServiceError } from '@grpc/grpc-js';
import { feedbackV1, routerV1 } from '@routeplex/contracts';
import { Authenticator, hashApiKey } from '../src/auth.js';
import { DomainError, invalidArgument } from '../src/errors.js';
import { bindService, startGrpcServer, type Handlers, type RunningServer } from '../src/grpc-server.js';
import { createLogger, type Logger } from '../src/logger.js';

const KEY = 'rpx_' + 'Z'.repeat(30);

describe('bindService and startGrpcServer', () => {
  let server: RunningServer;
  let client: InstanceType<typeof feedbackV1.FeedbackServiceClient>;
  const seenAccounts: string[] = [];
  const signals = new Map<string, AbortSignal>();

  before(async () => {
    const authenticator = new Authenticator({ accountClaim: 'sub', apiKeyCacheMs: 0 }, async (hash) =>
      hash === hashApiKey(KEY) ? { accountId: 'acct-a' } : null,
    );
    const implementation = bindService(
      feedbackV1.FeedbackServiceService,
      {
        async submitFeedback(req, ctx) {
          seenAccounts.push(ctx.principal.accountId);
          signals.set(req.requestId, ctx.signal);
          if (req.requestId === 'slow') {
            await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
          }
          if (req.requestId === 'bad') throw invalidArgument('request_id: must start with req_');
          if (req.requestId === 'boom') throw new Error('database password is hunter2');
          return { rating: { requestId: req.requestId, quality: 1, score: 5 }, replacedPrevious: false, model: 'm' };
        },
      },
      { authenticator, logger: createLogger({ name: 'test', level: 'silent' }) },
    );
    server = await startGrpcServer({
      host: '127.0.0.1',
      port: 0,
      services: [{ definition: feedbackV1.FeedbackServiceService, implementation }],
    });
    client = new feedbackV1.FeedbackServiceClient(`127.0.0.1:${server.port}`, credentials.createInsecure());
  });

  after(async () => {
    client.close();
    await server.close();
  });

  function call(requestId: string, key?: string) {
    const md = new Metadata();
    if (key) md.set('authorization', `Bearer ${key}`);
    return new Promise<feedbackV1.SubmitFeedbackResponse>((resolve, reject) =>
      client.submitFeedback({ requestId, score: 5 }, md, (err, res) => (err ? reject(err) : resolve(res))),
    );
  }

  async function failure(p: Promise<unknown>): Promise<ServiceError> {
    try {
      await p;
    } catch (err) {
      return err as ServiceError;
    }
    throw new Error('expected the call to fail');
  }

  it('passes the authenticated account to the handler', async () => {
    const res = await call('req_1', KEY);
    expect(res.rating?.requestId).to.equal('req_1');
    expect(seenAccounts.at(-1)).to.equal('acct-a');
  });

  it('answers UNAUTHENTICATED before the handler runs when the credential is missing or unknown', async () => {
    const before = seenAccounts.length;
    expect((await failure(call('req_1'))).code).to.equal(status.UNAUTHENTICATED);
    expect((await failure(call('req_1', 'rpx_' + 'Y'.repeat(30)))).code).to.equal(status.UNAUTHENTICATED);
    expect(seenAccounts.length).to.equal(before);
  });

  it('aborts the handler signal when the caller cancels a running call, and never after it answered', async () => {
    const md = new Metadata();
    md.set('authorization', `Bearer ${KEY}`);
    const running = client.submitFeedback({ requestId: 'slow', score: 5 }, md, () => undefined);
    while (!signals.has('slow')) await new Promise((resolve) => setTimeout(resolve, 5));
    running.cancel();
    while (!signals.get('slow')!.aborted) await new Promise((resolve) => setTimeout(resolve, 5));

    await call('req_done', KEY);
    await failure(call('bad', KEY));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(signals.get('req_done')!.aborted).to.equal(false);
    expect(signals.get('bad')!.aborted).to.equal(false);
  });

  it('turns a typed error into its status with its message', async () => {
    const err = await failure(call('bad', KEY));
    expect(err.code).to.equal(status.INVALID_ARGUMENT);
    expect(err.details).to.equal('request_id: must start with req_');
  });

  it('turns an unexpected error into INTERNAL without sending its message', async () => {
    const err = await failure(call('boom', KEY));
    expect(err.code).to.equal(status.INTERNAL);
    expect(err.details).to.equal('internal error');
  });
});

/** One service on its own server, every API key accepted as one account: for the blocks below. */
async function serveOne<S extends ServiceDefinition>(definition: S, handlers: Handlers<S>, logger: Logger) {
  const authenticator = new Authenticator({ accountClaim: 'sub', apiKeyCacheMs: 0 }, async () => ({
    accountId: 'acct-a',
  }));
  const implementation = bindService(definition, handlers, { authenticator, logger });
  return startGrpcServer({ host: '127.0.0.1', port: 0, services: [{ definition, implementation }] });
}

describe('bindService with a server stream', () => {
  it('ends a send that waits on a full buffer when the caller cancels, so the handler finishes', async () => {
    let finished = false;
    const chunk = routerV1.StreamChatCompletionResponse.fromPartial({
      id: 'chunk',
      choices: [{ index: 0, delta: { content: 'x'.repeat(64 * 1024) } }],
    });
    type Router = typeof routerV1.RouterServiceService;
    // Only the streaming method is served here; the others are never called.
    const handlers: Pick<Handlers<Router>, 'streamChatCompletion'> = {
      async streamChatCompletion(_req, ctx, send) {
        // Sends until cancelled; a reader that stopped reading fills the buffer within a few messages.
        while (!ctx.signal.aborted) await send(chunk);
        finished = true;
      },
    };
    const server = await serveOne(
      routerV1.RouterServiceService,
      handlers as Handlers<Router>,
      createLogger({ name: 'test', level: 'silent' }),
    );
    const client = new routerV1.RouterServiceClient(`127.0.0.1:${server.port}`, credentials.createInsecure());
    try {
      const md = new Metadata();
      md.set('authorization', `Bearer ${KEY}`);
      const stream = client.streamChatCompletion(routerV1.StreamChatCompletionRequest.fromPartial({ model: 'm' }), md);
      stream.on('error', () => undefined);
      await new Promise<void>((resolve) => stream.once('data', () => resolve()));
      stream.pause();
      // Give the server time to fill the transport's buffer and wait for 'drain'.
      await new Promise((resolve) => setTimeout(resolve, 300));
      stream.cancel();
      const deadline = Date.now() + 5000;
      while (!finished && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(finished).to.equal(true);
    } finally {
      client.close();
      await server.close();
    }
  });
});

describe('bindService on a failure of the server side', () => {
  it('sends the typed message only and logs the cause for the operator', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({
      name: 'test',
      level: 'info',
      destination: { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
    });
    const cause = new Error('connect ECONNREFUSED 10.0.0.5:5432');
    const server = await serveOne(
      feedbackV1.FeedbackServiceService,
      {
        async submitFeedback() {
          throw new DomainError('UNAVAILABLE', 'rating requests failed because the database is not reachable', {
            cause,
          });
        },
      },
      logger,
    );
    const client = new feedbackV1.FeedbackServiceClient(`127.0.0.1:${server.port}`, credentials.createInsecure());
    try {
      const md = new Metadata();
      md.set('authorization', `Bearer ${KEY}`);
      const err = await new Promise<ServiceError>((resolve) =>
        client.submitFeedback({ requestId: 'req_x', score: 5 }, md, (e) => resolve(e!)),
      );
      expect(err.code).to.equal(status.UNAVAILABLE);
      expect(err.details).to.equal('rating requests failed because the database is not reachable');
      const logged = lines.find((l) => l.msg === 'call failed on the server side');
      expect(logged).to.include({ level: 40, code: 'UNAVAILABLE' });
      expect(JSON.stringify(logged)).to.include('10.0.0.5:5432');
    } finally {
      client.close();
      await server.close();
    }
  });
});

// Real gRPC servers implementing the routeplex contracts, started by the tests as the gateway's
// collaborators. Their behaviour is steered through the request itself so that any client (curl-like
// fetch, the openai package) can trigger it:
// - `Authorization: Bearer fail-<CODE>` answers every rpc with that gRPC status (e.g. fail-UNAUTHENTICATED);
// - `Authorization: Bearer hang` (or chat model `hang`) never answers, and records when the call is cancelled;
// - `Authorization: Bearer slow` answers after 300 ms;
// - chat model `fail-mid-stream` streams one chunk, then fails with UNAVAILABLE;
// - chat model `flood` streams 64 KiB chunks, as fast as its client takes them, until it is cancelled.
import {
  Metadata,
  Server,
  ServerCredentials,
  status,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { feedbackV1, insightsV1, routerV1 } from '@routeplex/contracts';
import { SERVICE_STATUS_TRAILER } from '@routeplex/platform';

/** A status as a routeplex service's boundary sends it: with the trailer that marks its message as public. */
function serviceStatus(code: status, details: string) {
  const metadata = new Metadata();
  metadata.set(SERVICE_STATUS_TRAILER, 'service');
  return { code, details, metadata };
}

export interface RecordedCall {
  method: string;
  request: unknown;
  authorization: string | undefined;
  cancelled: boolean;
}

export interface ContractBackends {
  address: string;
  calls: RecordedCall[];
  /** Resolves when a call of `method` has been cancelled by its client. */
  waitForCancel(method: string, timeoutMs?: number): Promise<RecordedCall>;
  close(): Promise<void>;
}

type AnyCall = ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>;

const CREATED = '1700000000';

export async function startContractBackends(): Promise<ContractBackends> {
  const calls: RecordedCall[] = [];
  const cancelWaiters: { method: string; resolve: (c: RecordedCall) => void }[] = [];

  /** Records the call and applies the steering; returns the record, or undefined when it already answered. */
  const begin = (
    method: string,
    call: AnyCall,
    fail: (code: status, details: string) => void,
  ): RecordedCall | undefined => {
    const auth = call.metadata.get('authorization')[0];
    const record: RecordedCall = {
      method,
      request: call.request,
      authorization: auth === undefined ? undefined : String(auth),
      cancelled: false,
    };
    calls.push(record);
    call.on('cancelled', () => {
      record.cancelled = true;
      for (const w of cancelWaiters.filter((x) => x.method === method)) w.resolve(record);
    });
    const token = record.authorization?.replace(/^Bearer /, '') ?? '';
    const model = (call.request as { model?: string }).model;
    if (token === 'hang' || model === 'hang') return undefined;
    if (token.startsWith('fail-')) {
      const name = token.slice(5) as keyof typeof status;
      fail(status[name] ?? status.UNKNOWN, `simulated ${token.slice(5)} from ${method}`);
      return undefined;
    }
    return record;
  };
  const unary =
    <Req, Res>(method: string, answer: (req: Req, md: Metadata) => Res) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      if (!begin(method, call as AnyCall, (code, details) => callback(serviceStatus(code, details)))) return;
      const result = answer(call.request, call.metadata);
      if (call.metadata.get('authorization')[0] === 'Bearer slow') setTimeout(() => callback(null, result), 300);
      else callback(null, result);
    };

  const router: routerV1.RouterServiceServer = {
    createChatCompletion: unary('CreateChatCompletion', (req: routerV1.CreateChatCompletionRequest) => ({
      id: 'req_unary1',
      object: 'chat.completion',
      created: CREATED,
      model: req.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: `answer to ${req.messages.length} message(s)`, name: '' },
          finishReason: 'stop',
        },
      ],
      usage: { promptTokens: 7, completionTokens: 5, totalTokens: 12 },
      routing: routing(req.model),
    })),
    streamChatCompletion: (
      call: ServerWritableStream<routerV1.StreamChatCompletionRequest, routerV1.StreamChatCompletionResponse>,
    ) => {
      if (
        !begin('StreamChatCompletion', call as AnyCall, (code, details) =>
          call.emit('error', serviceStatus(code, details)),
        )
      )
        return;
      const base = { id: 'req_stream1', object: 'chat.completion.chunk', created: CREATED, model: call.request.model };
      call.write({
        ...base,
        choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' }, finishReason: '' }],
        routing: routing(call.request.model),
      });
      if (call.request.model === 'flood') {
        const more = () => {
          while (!call.cancelled) {
            const chunk = { ...base, choices: [{ index: 0, delta: { role: '', content: 'x'.repeat(65_536) } }] };
            if (!call.write(chunk)) return void call.once('drain', more);
          }
        };
        return more();
      }
      if (call.request.model === 'fail-mid-stream') {
        call.emit('error', serviceStatus(status.UNAVAILABLE, 'provider went away'));
        return;
      }
      call.write({ ...base, choices: [{ index: 0, delta: { role: '', content: 'lo' }, finishReason: '' }] });
      call.write({
        ...base,
        choices: [{ index: 0, delta: { role: '', content: '' }, finishReason: 'stop' }],
        usage: { promptTokens: 7, completionTokens: 2, totalTokens: 9 },
      });
      call.end();
    },
    selectModel: unary('SelectModel', (req: routerV1.SelectModelRequest) => ({
      id: 'req_select1',
      routing: routing(req.routing?.allowedModels[0] ?? 'sim-fast'),
    })),
    listModels: unary('ListModels', (_req: routerV1.ListModelsRequest, md: Metadata) => ({
      object: 'list',
      // `Bearer huge`: a listing over the 8 MiB message limit of the gateway's client.
      data:
        md.get('authorization')[0] === 'Bearer huge'
          ? hugeListing()
          : [
              {
                id: 'routeplex-ai',
                object: 'model',
                created: CREATED,
                ownedBy: 'routeplex',
                provider: 'routeplex',
                simulated: false,
                pricing: undefined,
                contextWindow: 0,
                capabilities: ['chat'],
              },
              {
                id: 'sim-fast',
                object: 'model',
                created: CREATED,
                ownedBy: 'simulator',
                provider: 'simulator',
                simulated: true,
                pricing: { inputPerMtok: 0.1, outputPerMtok: 0.4 },
                contextWindow: 8192,
                capabilities: ['chat', 'streaming'],
              },
            ],
    })),
    getModel: unary('GetModel', (req: routerV1.GetModelRequest) => ({
      model: {
        id: req.model,
        object: 'model',
        created: CREATED,
        ownedBy: 'together',
        provider: 'together',
        simulated: false,
        pricing: { inputPerMtok: 0.6, outputPerMtok: 0.6 },
        contextWindow: 32768,
        capabilities: ['chat'],
      },
    })),
  };
  const feedback: feedbackV1.FeedbackServiceServer = {
    submitFeedback: unary('SubmitFeedback', (req: feedbackV1.SubmitFeedbackRequest) => ({
      rating: {
        requestId: req.requestId,
        score: req.score,
        isHelpful: req.isHelpful,
        quality: 0.75,
        createTime: new Date('2026-01-02T03:04:05Z'),
        updateTime: new Date('2026-01-02T03:04:05Z'),
      },
      replacedPrevious: false,
      model: 'sim-fast',
    })),
  };
  const insights: insightsV1.InsightsServiceServer = {
    getLearningDashboard: unary('GetLearningDashboard', () => ({
      modelStats: [],
      enhancement: [],
      routingInfluence: { totalRequests: '3', classifiedFraction: 1, personalChangedFraction: 0, byStage: [] },
      recommendations: [],
      stages: [],
      computeTime: new Date('2026-01-02T03:04:05Z'),
    })),
    // Echoes the filters back so that tests can see what the query parameters set.
    listModelStats: unary('ListModelStats', (req: insightsV1.ListModelStatsRequest) => ({
      modelStats: [
        {
          queryType: req.queryType,
          model: 'sim-fast',
          provider: 'simulator',
          requestCount: req.timeWindow?.seconds ?? '0',
          ratingCount: '9007199254740993', // beyond 2^53: stays a string
          avgQuality: 0.5,
          qualityInterval: 0.1,
          latencyP50Ms: 10,
          latencyP95Ms: 20,
          avgCostUsd: 0,
          failureRate: 0,
        },
      ],
    })),
    listRecommendations: unary('ListRecommendations', () => ({ recommendations: [] })),
    listRequests: unary('ListRequests', (req: insightsV1.ListRequestsRequest) => ({
      requests: [],
      nextPageToken: `size=${req.pageSize};token=${req.pageToken}`,
    })),
    deleteLearningData: unary('DeleteLearningData', () => ({
      deletedEntries: '4',
      deletedRatings: '1',
      deletedCells: '2',
    })),
  };

  const server = new Server();
  server.addService(routerV1.RouterServiceService, router);
  server.addService(feedbackV1.FeedbackServiceService, feedback);
  server.addService(insightsV1.InsightsServiceService, insights);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    address: `127.0.0.1:${port}`,
    calls,
    waitForCancel(method, timeoutMs = 5000) {
      const done = calls.find((c) => c.method === method && c.cancelled);
      if (done) return Promise.resolve(done);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${method} was not cancelled within ${timeoutMs} ms`)),
          timeoutMs,
        );
        cancelWaiters.push({
          method,
          resolve: (c) => {
            clearTimeout(timer);
            resolve(c);
          },
        });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}

function routing(model: string): routerV1.Routing {
  return {
    queryType: 1,
    complexity: 2,
    model,
    provider: 'simulator',
    autoRouted: model === 'routeplex-ai',
    stage: 1,
    personalWeight: 0,
    changedByPersonal: false,
    preference: 2,
    promptEnhanced: false,
    candidates: [],
    attempts: [],
    simulated: true,
  };
}

function hugeListing(): routerV1.Model[] {
  return Array.from({ length: 120_000 }, (_, i) => ({
    id: `model-${i}-${'x'.repeat(60)}`,
    object: 'model',
    created: CREATED,
    ownedBy: 'simulator',
    provider: 'simulator',
    simulated: true,
    pricing: undefined,
    contextWindow: 8192,
    capabilities: [],
  }));
}

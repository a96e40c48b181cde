// A minimal real RouterService for benchmarks. Without an upstream it answers CreateChatCompletion at
// once with a fixed completion (isolating the gateway's own cost); with `upstream` (an OpenAI-compatible
// base URL such as the fake upstream of ../shared/bench) it forwards each request there over HTTP, as the
// router does, so that the whole REST -> gRPC -> upstream path can be measured beside other gateways.
import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { routerV1 } from '@routeplex/contracts';
import { Agent, request } from 'undici';

export interface BenchBackend {
  address: string;
  close(): void;
}

const FIXED: routerV1.CreateChatCompletionResponse = {
  id: 'req_bench',
  object: 'chat.completion',
  created: '1700000000',
  model: 'gpt-4o-mini',
  choices: [
    {
      index: 0,
      message: {
        role: 'assistant',
        content:
          'def reverse(head):\n    prev = None\n    while head:\n        head.next, prev, head = prev, head, head.next\n    return prev',
        name: '',
      },
      finishReason: 'stop',
    },
  ],
  usage: { promptTokens: 14, completionTokens: 33, totalTokens: 47 },
  routing: undefined,
};

export async function startBenchBackend(upstream?: string): Promise<BenchBackend> {
  const dispatcher = new Agent({ connections: 128, pipelining: 1 });
  const notUsed = (_call: unknown, callback: sendUnaryData<never>) =>
    callback({ code: status.UNIMPLEMENTED, details: 'not part of the benchmark' });
  const impl: routerV1.RouterServiceServer = {
    createChatCompletion: (
      call: ServerUnaryCall<routerV1.CreateChatCompletionRequest, routerV1.CreateChatCompletionResponse>,
      callback,
    ) => {
      if (!upstream) return callback(null, FIXED);
      const body = JSON.stringify({
        model: call.request.model,
        messages: call.request.messages.map((m) => ({ role: m.role, content: m.content })),
      });
      request(`${upstream}/chat/completions`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
        dispatcher,
      })
        .then(async (res) => {
          const json = (await res.body.json()) as {
            id: string;
            created: number;
            model: string;
            choices: { index: number; message: { role: string; content: string }; finish_reason: string }[];
            usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
          };
          callback(null, {
            id: json.id,
            object: 'chat.completion',
            created: String(json.created),
            model: json.model,
            choices: json.choices.map((c) => ({
              index: c.index,
              message: { role: c.message.role, content: c.message.content, name: '' },
              finishReason: c.finish_reason,
            })),
            usage: {
              promptTokens: json.usage.prompt_tokens,
              completionTokens: json.usage.completion_tokens,
              totalTokens: json.usage.total_tokens,
            },
            routing: undefined,
          });
        })
        .catch((err: Error) => callback({ code: status.UNAVAILABLE, details: `upstream failed: ${err.message}` }));
    },
    streamChatCompletion: (call) =>
      call.emit('error', { code: status.UNIMPLEMENTED, details: 'not part of the benchmark' }),
    selectModel: notUsed,
    listModels: notUsed,
    getModel: notUsed,
  };
  const server = new Server();
  server.addService(routerV1.RouterServiceService, impl);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    address: `127.0.0.1:${port}`,
    close: () => {
      server.forceShutdown();
      void dispatcher.close();
    },
  };
}

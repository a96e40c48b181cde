import type { EventSourceMessage } from 'eventsource-parser';
import {
  UpstreamClient,
  defaultProviderId,
  field,
  tokenCount,
  type HttpProviderOptions,
  type StreamDecoder,
} from './upstream.js';
import type { ChatCall, ChatChunk, ChatProvider, ChatResult, FinishReason, Usage } from './types.js';

export const ANTHROPIC_DEFAULT_BASE_URL = 'https://api.anthropic.com';

export interface AnthropicOptions extends HttpProviderOptions {
  /** `anthropic-version` header. Default `2023-06-01`. */
  version?: string;
  /** The Messages API requires max_tokens; this is sent when the call sets none. Default 4096. */
  defaultMaxTokens?: number;
}

/**
 * Anthropic Messages API. System messages are joined into the top-level `system` field; `tool` messages, which
 * carry no tool_use id here, are sent as user turns.
 */
export class AnthropicProvider implements ChatProvider {
  readonly id: string;
  private readonly client: UpstreamClient;
  private readonly defaultMaxTokens: number;

  constructor(options: AnthropicOptions = {}) {
    const baseUrl = options.baseUrl ?? ANTHROPIC_DEFAULT_BASE_URL;
    this.id = options.id ?? defaultProviderId('anthropic', baseUrl, ANTHROPIC_DEFAULT_BASE_URL);
    const headers: Record<string, string> = { 'anthropic-version': options.version ?? '2023-06-01' };
    if (options.apiKey) headers['x-api-key'] = options.apiKey;
    this.client = new UpstreamClient(this.id, baseUrl, headers, options, readAnthropicErrorType);
    this.defaultMaxTokens = options.defaultMaxTokens ?? 4096;
  }

  complete(call: ChatCall): Promise<ChatResult> {
    return this.client.postJson(call, '/v1/messages', this.requestBody(call, false), (json) =>
      this.parseMessage(json, call.model),
    );
  }

  stream(call: ChatCall): AsyncIterable<ChatChunk> {
    return this.client.postStream(call, '/v1/messages', this.requestBody(call, true), () =>
      this.streamDecoder(call.model),
    );
  }

  close(): Promise<void> {
    return this.client.close();
  }

  private requestBody(call: ChatCall, stream: boolean): string {
    let system: string | undefined;
    const messages: { role: 'user' | 'assistant'; content: string }[] = [];
    for (const message of call.messages) {
      if (message.role === 'system')
        system = system === undefined ? message.content : `${system}\n\n${message.content}`;
      else messages.push({ role: message.role === 'assistant' ? 'assistant' : 'user', content: message.content });
    }
    const body: Record<string, unknown> = {
      model: call.model,
      max_tokens: call.maxTokens ?? this.defaultMaxTokens,
      messages,
    };
    if (system !== undefined) body.system = system;
    // OpenAI's scale runs to 2, Anthropic's to 1 (it refuses more): the hottest setting maps to its hottest.
    if (call.temperature !== undefined) body.temperature = Math.min(call.temperature, 1);
    if (call.topP !== undefined) body.top_p = call.topP;
    if (call.stop !== undefined && call.stop.length > 0) body.stop_sequences = call.stop;
    if (stream) body.stream = true;
    return JSON.stringify(body);
  }

  private parseMessage(json: unknown, model: string): ChatResult {
    const content = field(json, 'content');
    if (!Array.isArray(content)) throw this.client.malformed(model, 'a message without a content array');
    let text = '';
    for (const block of content) {
      if (field(block, 'type') === 'text') {
        const blockText = field(block, 'text');
        if (typeof blockText !== 'string') throw this.client.malformed(model, 'a text block without text');
        text += blockText;
      }
    }
    const usage = field(json, 'usage');
    const reportedModel = field(json, 'model');
    return {
      text,
      finishReason: mapAnthropicStopReason(field(json, 'stop_reason')),
      usage: { promptTokens: promptTokens(usage), completionTokens: tokenCount(field(usage, 'output_tokens')) },
      providerModel: typeof reportedModel === 'string' ? reportedModel : model,
    };
  }

  private streamDecoder(model: string): StreamDecoder {
    const client = this.client;
    const usage: Usage = { promptTokens: 0, completionTokens: 0 };
    let finishReason: FinishReason | undefined;
    let providerModel: string | undefined;
    let done = false;
    return {
      get done() {
        return done;
      },
      onEvent(event: EventSourceMessage): ChatChunk | undefined {
        let json: unknown;
        try {
          json = JSON.parse(event.data);
        } catch {
          throw client.malformed(model, 'a stream event that is not JSON');
        }
        // The JSON `type` repeats the SSE event name; it is the one to trust when a proxy drops event lines.
        const type = field(json, 'type') ?? event.event;
        switch (type) {
          case 'message_start': {
            const message = field(json, 'message');
            const reported = field(message, 'model');
            if (typeof reported === 'string') providerModel = reported;
            const startUsage = field(message, 'usage');
            usage.promptTokens = promptTokens(startUsage);
            usage.completionTokens = tokenCount(field(startUsage, 'output_tokens'));
            return undefined;
          }
          case 'content_block_delta': {
            const delta = field(json, 'delta');
            const text = field(delta, 'type') === 'text_delta' ? field(delta, 'text') : undefined;
            return typeof text === 'string' && text.length > 0 ? { deltaText: text } : undefined;
          }
          case 'message_delta': {
            const reason = field(field(json, 'delta'), 'stop_reason');
            if (reason !== undefined && reason !== null) finishReason = mapAnthropicStopReason(reason);
            const deltaUsage = field(json, 'usage');
            // message_delta usage is cumulative for the output.
            const output = field(deltaUsage, 'output_tokens');
            if (typeof output === 'number') usage.completionTokens = tokenCount(output);
            const input = field(deltaUsage, 'input_tokens');
            if (typeof input === 'number' && input > 0) usage.promptTokens = promptTokens(deltaUsage);
            return undefined;
          }
          case 'message_stop':
            done = true;
            return undefined;
          case 'error':
            throw client.streamError(model, readAnthropicErrorType(json));
          default:
            // ping, content_block_start, content_block_stop and future event types carry no answer text.
            return undefined;
        }
      },
      finish(): ChatChunk {
        if (!done) throw client.streamError(model, 'stream_ended_early');
        return { finishReason: finishReason ?? 'other', usage, providerModel: providerModel ?? model };
      },
    };
  }
}

/** Input tokens, cached ones included (they are part of the prompt and billed). */
function promptTokens(usage: unknown): number {
  return (
    tokenCount(field(usage, 'input_tokens')) +
    tokenCount(field(usage, 'cache_creation_input_tokens')) +
    tokenCount(field(usage, 'cache_read_input_tokens'))
  );
}

export function mapAnthropicStopReason(reason: unknown): FinishReason {
  switch (reason) {
    case 'end_turn':
    case 'stop_sequence':
      return 'stop';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      return 'other';
  }
}

function readAnthropicErrorType(body: unknown): string | undefined {
  const type = field(field(body, 'error'), 'type');
  return typeof type === 'string' && type.length <= 64 ? type : undefined;
}

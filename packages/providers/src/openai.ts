import type { EventSourceMessage } from 'eventsource-parser';
import {
  UpstreamClient,
  defaultProviderId,
  field,
  tokenCount,
  type HttpProviderOptions,
  type StreamDecoder,
} from './upstream.js';
import type { ChatCall, ChatChunk, ChatProvider, ChatResult, FinishReason, ResponseFormat, Usage } from './types.js';

export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';

export interface OpenAICompatibleOptions extends HttpProviderOptions {
  /**
   * Name of the output-limit field. OpenAI's newer models want `max_completion_tokens`; most compatible servers
   * (vLLM, Ollama, Groq, Together, ...) read `max_tokens`. Default `max_tokens`.
   */
  maxTokensField?: 'max_tokens' | 'max_completion_tokens';
  /** Ask for usage in the last stream chunk (`stream_options.include_usage`). Default true. */
  streamUsage?: boolean;
}

/**
 * Any OpenAI-compatible chat completions endpoint: OpenAI, Groq, Together, Mistral, DeepSeek, OpenRouter, vLLM,
 * Ollama, LM Studio. `baseUrl` includes the version path (e.g. `https://api.groq.com/openai/v1`).
 */
export class OpenAICompatibleProvider implements ChatProvider {
  readonly id: string;
  private readonly client: UpstreamClient;
  private readonly maxTokensField: 'max_tokens' | 'max_completion_tokens';
  private readonly streamUsage: boolean;

  constructor(options: OpenAICompatibleOptions = {}) {
    const baseUrl = options.baseUrl ?? OPENAI_DEFAULT_BASE_URL;
    this.id = options.id ?? defaultProviderId('openai', baseUrl, OPENAI_DEFAULT_BASE_URL);
    const headers: Record<string, string> = {};
    if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
    this.client = new UpstreamClient(this.id, baseUrl, headers, options, readOpenAIErrorType);
    this.maxTokensField = options.maxTokensField ?? 'max_tokens';
    this.streamUsage = options.streamUsage ?? true;
  }

  complete(call: ChatCall): Promise<ChatResult> {
    return this.client.postJson(call, '/chat/completions', this.requestBody(call, false), (json) =>
      this.parseCompletion(json, call.model),
    );
  }

  stream(call: ChatCall): AsyncIterable<ChatChunk> {
    return this.client.postStream(call, '/chat/completions', this.requestBody(call, true), () =>
      this.streamDecoder(call.model),
    );
  }

  close(): Promise<void> {
    return this.client.close();
  }

  private requestBody(call: ChatCall, stream: boolean): string {
    const body: Record<string, unknown> = { model: call.model, messages: wireMessages(call.messages) };
    if (call.maxTokens !== undefined) body[this.maxTokensField] = call.maxTokens;
    if (call.temperature !== undefined) body.temperature = call.temperature;
    if (call.topP !== undefined) body.top_p = call.topP;
    if (call.stop !== undefined && call.stop.length > 0) body.stop = call.stop;
    if (call.seed !== undefined) body.seed = call.seed;
    if (call.presencePenalty !== undefined) body.presence_penalty = call.presencePenalty;
    if (call.frequencyPenalty !== undefined) body.frequency_penalty = call.frequencyPenalty;
    if (call.responseFormat !== undefined) body.response_format = openAiResponseFormat(call.responseFormat);
    if (stream) {
      body.stream = true;
      if (this.streamUsage) body.stream_options = { include_usage: true };
    }
    return JSON.stringify(body);
  }

  private parseCompletion(json: unknown, model: string): ChatResult {
    const choice = firstChoice(json);
    const message = field(choice, 'message');
    const content = field(message, 'content');
    if (choice === undefined || typeof message !== 'object' || message === null) {
      throw this.client.malformed(model, 'a chat completion without choices[0].message');
    }
    if (content !== null && content !== undefined && typeof content !== 'string') {
      throw this.client.malformed(model, 'a chat completion whose message content is not a string');
    }
    const reportedModel = field(json, 'model');
    return {
      text: content ?? '',
      finishReason: mapOpenAIFinishReason(field(choice, 'finish_reason')),
      usage: readUsage(field(json, 'usage')),
      providerModel: typeof reportedModel === 'string' ? reportedModel : model,
    };
  }

  private streamDecoder(model: string): StreamDecoder {
    const client = this.client;
    let finishReason: FinishReason | undefined;
    let usage: Usage | undefined;
    let providerModel: string | undefined;
    let done = false;
    return {
      get done() {
        return done;
      },
      onEvent(event: EventSourceMessage): ChatChunk | undefined {
        if (event.data === '[DONE]') {
          done = true;
          return undefined;
        }
        let json: unknown;
        try {
          json = JSON.parse(event.data);
        } catch {
          throw client.malformed(model, 'a stream event that is not JSON');
        }
        const error = field(json, 'error');
        if (error !== undefined && error !== null) throw client.streamError(model, readOpenAIErrorType(json));
        if (providerModel === undefined) {
          const reported = field(json, 'model');
          if (typeof reported === 'string') providerModel = reported;
        }
        const reportedUsage = field(json, 'usage');
        if (reportedUsage !== undefined && reportedUsage !== null) usage = readUsage(reportedUsage);
        const choice = firstChoice(json);
        if (choice === undefined) return undefined;
        const reason = field(choice, 'finish_reason');
        if (reason !== undefined && reason !== null) finishReason = mapOpenAIFinishReason(reason);
        const text = field(field(choice, 'delta'), 'content');
        return typeof text === 'string' && text.length > 0 ? { deltaText: text } : undefined;
      },
      finish(): ChatChunk {
        // Servers that omit [DONE] still close a complete answer with a finish reason.
        if (!done && finishReason === undefined) {
          throw client.streamError(model, 'stream_ended_early');
        }
        const last: ChatChunk = { finishReason: finishReason ?? 'other' };
        if (usage !== undefined) last.usage = usage;
        last.providerModel = providerModel ?? model;
        return last;
      },
    };
  }
}

/**
 * The messages as sent. OpenAI-style servers reject a `tool` message without the tool_call_id this interface does not
 * carry, so tool output is sent as a user turn (as the Anthropic and Gemini adapters do).
 */
function wireMessages(messages: ChatCall['messages']): ChatCall['messages'] {
  let hasTool = false;
  for (const message of messages) if (message.role === 'tool') hasTool = true;
  if (!hasTool) return messages;
  return messages.map((m) => (m.role === 'tool' ? { role: 'user', content: m.content } : m));
}

function firstChoice(json: unknown): unknown {
  const choices = field(json, 'choices');
  return Array.isArray(choices) ? choices[0] : undefined;
}

function readUsage(usage: unknown): Usage | undefined {
  // Some OpenAI-compatible servers send no usage: none is better than counts of zero (free and empty).
  if (usage === undefined || usage === null) return undefined;
  return {
    promptTokens: tokenCount(field(usage, 'prompt_tokens')),
    completionTokens: tokenCount(field(usage, 'completion_tokens')),
  };
}

export function mapOpenAIFinishReason(reason: unknown): FinishReason {
  switch (reason) {
    case 'stop':
    case 'eos':
      return 'stop';
    case 'length':
      return 'length';
    case 'content_filter':
      return 'content_filter';
    case 'tool_calls':
    case 'function_call':
      return 'tool_calls';
    default:
      return 'other';
  }
}

/** `error.code` or `error.type` of an OpenAI-style error body. */
function readOpenAIErrorType(body: unknown): string | undefined {
  const error = field(body, 'error');
  const code = field(error, 'code');
  if (typeof code === 'string' && code.length <= 64) return code;
  const type = field(error, 'type');
  return typeof type === 'string' && type.length <= 64 ? type : undefined;
}

function openAiResponseFormat(format: ResponseFormat): Record<string, unknown> {
  if (format.type === 'json_object') return { type: 'json_object' };
  const { name, description, schema, strict } = format;
  return {
    type: 'json_schema',
    json_schema: {
      name,
      ...(schema === undefined ? {} : { schema }),
      ...(description === undefined ? {} : { description }),
      ...(strict === undefined ? {} : { strict }),
    },
  };
}

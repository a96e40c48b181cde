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

export const GEMINI_DEFAULT_BASE_URL = 'https://generativelanguage.googleapis.com';

export interface GeminiOptions extends HttpProviderOptions {
  /** API version path segment. Default `v1beta`. */
  apiVersion?: string;
}

/**
 * Google Gemini `generateContent` and `streamGenerateContent?alt=sse`. System messages become
 * `systemInstruction`; assistant turns use the role `model`; `tool` messages are sent as user turns.
 */
export class GeminiProvider implements ChatProvider {
  readonly id: string;
  private readonly client: UpstreamClient;
  private readonly apiVersion: string;

  constructor(options: GeminiOptions = {}) {
    const baseUrl = options.baseUrl ?? GEMINI_DEFAULT_BASE_URL;
    this.id = options.id ?? defaultProviderId('gemini', baseUrl, GEMINI_DEFAULT_BASE_URL);
    const headers: Record<string, string> = {};
    if (options.apiKey) headers['x-goog-api-key'] = options.apiKey;
    this.client = new UpstreamClient(this.id, baseUrl, headers, options, readGeminiErrorType);
    this.apiVersion = options.apiVersion ?? 'v1beta';
  }

  complete(call: ChatCall): Promise<ChatResult> {
    const path = `/${this.apiVersion}/models/${encodeURIComponent(call.model)}:generateContent`;
    return this.client.postJson(call, path, requestBody(call), (json) => this.parseResponse(json, call.model));
  }

  stream(call: ChatCall): AsyncIterable<ChatChunk> {
    const path = `/${this.apiVersion}/models/${encodeURIComponent(call.model)}:streamGenerateContent?alt=sse`;
    return this.client.postStream(call, path, requestBody(call), () => this.streamDecoder(call.model));
  }

  close(): Promise<void> {
    return this.client.close();
  }

  private parseResponse(json: unknown, model: string): ChatResult {
    const candidates = field(json, 'candidates');
    const blocked = field(field(json, 'promptFeedback'), 'blockReason');
    if (!Array.isArray(candidates) || candidates.length === 0) {
      // A blocked prompt comes back with no candidate at all.
      if (typeof blocked === 'string') {
        return {
          text: '',
          finishReason: 'content_filter',
          usage: readUsage(field(json, 'usageMetadata')),
          providerModel: reportedModel(json, model),
        };
      }
      throw this.client.malformed(model, 'a response without candidates');
    }
    const candidate: unknown = candidates[0];
    const text = candidateText(candidate);
    if (text === undefined) throw this.client.malformed(model, 'a candidate whose parts are not text parts');
    return {
      text,
      finishReason: mapGeminiFinishReason(field(candidate, 'finishReason')),
      usage: readUsage(field(json, 'usageMetadata')),
      providerModel: reportedModel(json, model),
    };
  }

  private streamDecoder(model: string): StreamDecoder {
    const client = this.client;
    let finishReason: FinishReason | undefined;
    let usage: Usage | undefined;
    let providerModel: string | undefined;
    return {
      // Gemini's SSE stream has no end marker: the connection closes after the chunk with the finish reason.
      done: false,
      onEvent(event: EventSourceMessage): ChatChunk | undefined {
        let json: unknown;
        try {
          json = JSON.parse(event.data);
        } catch {
          throw client.malformed(model, 'a stream event that is not JSON');
        }
        const error = field(json, 'error');
        if (error !== undefined && error !== null) throw client.streamError(model, readGeminiErrorType(json));
        const metadata = field(json, 'usageMetadata');
        if (metadata !== undefined) usage = readUsage(metadata);
        providerModel ??= field(json, 'modelVersion') as string | undefined;
        const candidates = field(json, 'candidates');
        const candidate: unknown = Array.isArray(candidates) ? candidates[0] : undefined;
        if (candidate === undefined) {
          if (typeof field(field(json, 'promptFeedback'), 'blockReason') === 'string') finishReason = 'content_filter';
          return undefined;
        }
        const reason = field(candidate, 'finishReason');
        if (typeof reason === 'string' && reason !== '' && reason !== 'FINISH_REASON_UNSPECIFIED') {
          finishReason = mapGeminiFinishReason(reason);
        }
        const text = candidateText(candidate);
        if (text === undefined) throw client.malformed(model, 'a stream candidate whose parts are not text parts');
        return text.length > 0 ? { deltaText: text } : undefined;
      },
      finish(): ChatChunk {
        if (finishReason === undefined) throw client.streamError(model, 'stream_ended_early');
        const last: ChatChunk = { finishReason };
        if (usage !== undefined) last.usage = usage;
        last.providerModel = typeof providerModel === 'string' ? providerModel : model;
        return last;
      },
    };
  }
}

function requestBody(call: ChatCall): string {
  let system: string | undefined;
  const contents: { role: 'user' | 'model'; parts: { text: string }[] }[] = [];
  for (const message of call.messages) {
    if (message.role === 'system') system = system === undefined ? message.content : `${system}\n\n${message.content}`;
    else contents.push({ role: message.role === 'assistant' ? 'model' : 'user', parts: [{ text: message.content }] });
  }
  const body: Record<string, unknown> = { contents };
  if (system !== undefined) body.systemInstruction = { parts: [{ text: system }] };
  const config: Record<string, unknown> = {};
  if (call.maxTokens !== undefined) config.maxOutputTokens = call.maxTokens;
  if (call.temperature !== undefined) config.temperature = call.temperature;
  if (call.topP !== undefined) config.topP = call.topP;
  if (call.stop !== undefined && call.stop.length > 0) config.stopSequences = call.stop;
  if (call.responseFormat !== undefined) {
    config.responseMimeType = 'application/json';
    // Gemini takes a JSON Schema as it is in responseJsonSchema (responseSchema wants its own OpenAPI subset).
    if (call.responseFormat.type === 'json_schema' && call.responseFormat.schema !== undefined)
      config.responseJsonSchema = call.responseFormat.schema;
  }
  body.generationConfig = config;
  return JSON.stringify(body);
}

/** Concatenated text parts (thought parts skipped); undefined when the shape is wrong. */
function candidateText(candidate: unknown): string | undefined {
  const content = field(candidate, 'content');
  if (content === undefined) return ''; // e.g. a SAFETY stop carries no content
  const parts = field(content, 'parts');
  if (parts === undefined) return '';
  if (!Array.isArray(parts)) return undefined;
  let text = '';
  for (const part of parts) {
    const partText = field(part, 'text');
    if (partText === undefined) continue; // function calls, inline data: not text
    if (typeof partText !== 'string') return undefined;
    if (field(part, 'thought') === true) continue;
    text += partText;
  }
  return text;
}

function readUsage(metadata: unknown): Usage {
  return {
    promptTokens: tokenCount(field(metadata, 'promptTokenCount')),
    // Thinking tokens are billed as output.
    completionTokens:
      tokenCount(field(metadata, 'candidatesTokenCount')) + tokenCount(field(metadata, 'thoughtsTokenCount')),
  };
}

function reportedModel(json: unknown, model: string): string {
  const version = field(json, 'modelVersion');
  return typeof version === 'string' ? version : model;
}

export function mapGeminiFinishReason(reason: unknown): FinishReason {
  switch (reason) {
    case 'STOP':
      return 'stop';
    case 'MAX_TOKENS':
      return 'length';
    case 'SAFETY':
    case 'RECITATION':
    case 'BLOCKLIST':
    case 'PROHIBITED_CONTENT':
    case 'SPII':
    case 'IMAGE_SAFETY':
      return 'content_filter';
    case 'MALFORMED_FUNCTION_CALL':
    case 'UNEXPECTED_TOOL_CALL':
      return 'tool_calls';
    default:
      return 'other';
  }
}

/** `error.status` (e.g. RESOURCE_EXHAUSTED) of a Google API error body. */
function readGeminiErrorType(body: unknown): string | undefined {
  const status = field(field(body, 'error'), 'status');
  return typeof status === 'string' && status.length <= 64 ? status : undefined;
}

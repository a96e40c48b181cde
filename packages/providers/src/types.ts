/** The roles a chat message can carry across every adapter. */
export type ChatRole = 'system' | 'user' | 'assistant' | 'tool';

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/**
 * An answer in JSON: any object, or one that follows a JSON Schema. Only models whose catalog entry lists
 * the capability (JSON_CAPABILITY, JSON_SCHEMA_CAPABILITY) get such calls.
 */
export type ResponseFormat =
  | { type: 'json_object' }
  | {
      type: 'json_schema';
      name: string;
      description?: string;
      /** The JSON Schema; without one, any JSON object (as OpenAI takes it). */
      schema?: Record<string, unknown>;
      strict?: boolean;
    };

/** The catalog capability of a model that answers in JSON when asked (json_object). */
export const JSON_CAPABILITY = 'json';
/** The catalog capability of a model that follows a JSON Schema when asked (json_schema). */
export const JSON_SCHEMA_CAPABILITY = 'json_schema';

/** One call to one upstream model. `model` is the provider-side model name (the catalog's `providerModel`). */
export interface ChatCall {
  model: string;
  messages: ChatMessage[];
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  /** JSON output; plain text when absent. */
  responseFormat?: ResponseFormat;
  stop?: string[];
  /** OpenAI's sampling seed and penalties; sent by the OpenAI-compatible protocol only (others have none). */
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  /** Fires when the caller goes away: the upstream request is aborted and the call rejects with CANCELLED. */
  signal?: AbortSignal;
  /**
   * Whole-call deadline in milliseconds, retries and back-off included; a stream that is answering gets it
   * afresh with each chunk (a long answer that keeps coming is not cut). Overrides the provider's default.
   */
  timeoutMs?: number;
  /** Deadline for the response headers of each attempt. Overrides the provider's default. */
  firstByteTimeoutMs?: number;
}

export type FinishReason = 'stop' | 'length' | 'content_filter' | 'tool_calls' | 'other';

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

export interface ChatResult {
  text: string;
  finishReason: FinishReason;
  /** Token counts as the upstream reports them; absent when it reports none. */
  usage?: Usage | undefined;
  /** The model name the upstream reports having used (may carry a dated version suffix). */
  providerModel: string;
}

/**
 * One piece of a streamed answer. Text arrives in `deltaText`; the last chunk carries `finishReason`, and `usage`
 * when the upstream reports it.
 */
export interface ChatChunk {
  deltaText?: string;
  finishReason?: FinishReason;
  usage?: Usage;
  providerModel?: string;
}

export interface ChatProvider {
  /** Stable name of this upstream, e.g. `openai`, `anthropic`, `gemini`, `simulator`, `openai@api.groq.com`. */
  readonly id: string;
  complete(call: ChatCall): Promise<ChatResult>;
  stream(call: ChatCall): AsyncIterable<ChatChunk>;
  /** Releases pooled connections. Idempotent. */
  close(): Promise<void>;
}

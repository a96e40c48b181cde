import { invalidArgument } from '@routeplex/platform';
import { preferenceFromProto } from '@routeplex/learning';
import type { Preference } from '@routeplex/scoring';
import type { ResponseFormat } from '@routeplex/providers';
import type { routerV1 } from '@routeplex/contracts';

export const AUTO_MODEL = 'routeplex-ai';
const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool']);
const MAX_MESSAGES = 1000;
const MAX_TOKENS_LIMIT = 1_000_000;

export interface ValidMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
}

/** A chat request after validation: everything a handler needs, in the project's own types. */
export interface ChatInput {
  model: string;
  messages: ValidMessage[];
  maxTokens: number | undefined;
  temperature: number | undefined;
  topP: number | undefined;
  stop: string[] | undefined;
  /** Passed on to OpenAI-compatible upstreams; other protocols have no equivalent and leave them out. */
  seed: number | undefined;
  presencePenalty: number | undefined;
  frequencyPenalty: number | undefined;
  /** JSON output, for models with the capability; plain text when undefined. */
  responseFormat: ResponseFormat | undefined;
  preference: Preference;
  allowedModels: string[] | undefined;
  maxCostUsd: number | undefined;
  enhancePrompt: boolean | undefined;
}

type ChatRequestFields = Pick<
  routerV1.CreateChatCompletionRequest,
  | 'model'
  | 'messages'
  | 'maxTokens'
  | 'maxCompletionTokens'
  | 'temperature'
  | 'topP'
  | 'stop'
  | 'n'
  | 'routing'
  | 'seed'
  | 'presencePenalty'
  | 'frequencyPenalty'
  | 'responseFormat'
>;

/** Validates a chat request; every problem names the field and says what to send instead. */
export function validateChatRequest(req: ChatRequestFields): ChatInput {
  if (!req.model)
    throw invalidArgument(
      `model: required; use "${AUTO_MODEL}" to let routeplex choose, or a model id from GET /api/v1/models`,
    );
  const messages = validateMessages(req.messages);
  if (req.n !== undefined && req.n !== 1)
    throw invalidArgument('n: only 1 choice per request is supported; omit n or send 1');
  const routing = validateRouting(req.routing);
  return {
    model: req.model,
    messages,
    maxTokens: maxTokensOf(req),
    temperature: range('temperature', req.temperature, 0, 2),
    topP: range('top_p', req.topP, 0, 1),
    stop: validateStop(req.stop),
    seed: validateSeed(req.seed),
    presencePenalty: range('presence_penalty', req.presencePenalty, -2, 2),
    frequencyPenalty: range('frequency_penalty', req.frequencyPenalty, -2, 2),
    responseFormat: validateResponseFormat(req.responseFormat),
    ...routing,
  };
}

const SCHEMA_NAME = /^[A-Za-z0-9_-]{1,64}$/;

function validateResponseFormat(f: routerV1.ResponseFormat | undefined): ResponseFormat | undefined {
  if (f === undefined) return undefined;
  if (!f.type) throw invalidArgument('response_format.type: required; use text, json_object or json_schema');
  const type = f.type;
  if (type !== 'json_schema' && f.jsonSchema !== undefined)
    throw invalidArgument(`response_format.json_schema: only with type json_schema; got type ${type}`);
  if (type === 'text') return undefined;
  if (type === 'json_object') return { type };
  if (type !== 'json_schema')
    throw invalidArgument(`response_format.type: use text, json_object or json_schema; got "${type.slice(0, 32)}"`);
  const s = f.jsonSchema;
  if (s === undefined)
    throw invalidArgument(
      'response_format.json_schema: required with type json_schema, e.g. {"name": "answer", "schema": {...}}',
    );
  if (!SCHEMA_NAME.test(s.name))
    throw invalidArgument(
      `response_format.json_schema.name: 1-64 letters, digits, _ or -; got "${s.name.slice(0, 64)}"`,
    );
  return {
    type,
    name: s.name,
    ...(s.schema === undefined ? {} : { schema: s.schema }),
    ...(s.description ? { description: s.description } : {}),
    ...(s.strict === undefined ? {} : { strict: s.strict }),
  };
}

function validateSeed(seed: string | undefined): number | undefined {
  if (seed === undefined) return undefined;
  const n = Number(seed);
  if (!Number.isSafeInteger(n))
    throw invalidArgument(`seed: must be an integer between -(2^53 - 1) and 2^53 - 1; got ${seed}`);
  return n;
}

export function validateSelectRequest(req: routerV1.SelectModelRequest): ChatInput {
  return {
    model: AUTO_MODEL,
    messages: validateMessages(req.messages),
    maxTokens: validateMaxTokens(req.maxTokens),
    temperature: undefined,
    topP: undefined,
    stop: undefined,
    seed: undefined,
    presencePenalty: undefined,
    frequencyPenalty: undefined,
    responseFormat: undefined,
    ...validateRouting(req.routing),
  };
}

function validateMessages(messages: routerV1.ChatMessage[]): ValidMessage[] {
  if (messages.length === 0)
    throw invalidArgument('messages: must contain at least one message, e.g. [{"role": "user", "content": "..."}]');
  if (messages.length > MAX_MESSAGES) throw invalidArgument(`messages: at most ${MAX_MESSAGES} messages per request`);
  const out: ValidMessage[] = [];
  messages.forEach((m, i) => {
    if (!ROLES.has(m.role))
      throw invalidArgument(
        `messages[${i}].role: unknown role "${m.role.slice(0, 32)}"; use system, developer, user, assistant or tool`,
      );
    if (m.toolCalls !== undefined && m.toolCalls !== null && !(Array.isArray(m.toolCalls) && m.toolCalls.length === 0))
      throw invalidArgument(
        `messages[${i}].tool_calls: routeplex makes no tool calls, so a conversation cannot contain any; send null or leave it out`,
      );
    const content = contentText(m.content, `messages[${i}].content`);
    out.push({
      role: m.role === 'developer' ? 'system' : (m.role as ValidMessage['role']),
      content: content === '' && m.refusal ? m.refusal : content,
    });
  });
  if (!out.some((m) => m.role === 'user' && m.content.trim() !== ''))
    throw invalidArgument('messages: at least one user message with non-empty content is required');
  return out;
}

/**
 * OpenAI renamed max_tokens to max_completion_tokens and its newer clients send only the new name, older
 * ones only the old: both mean the same bound here.
 */
function maxTokensOf(req: Pick<ChatRequestFields, 'maxTokens' | 'maxCompletionTokens'>): number | undefined {
  const legacy = validateMaxTokens(req.maxTokens);
  const current = validateMaxTokens(req.maxCompletionTokens, 'max_completion_tokens');
  if (legacy !== undefined && current !== undefined && legacy !== current)
    throw invalidArgument(
      `max_tokens and max_completion_tokens: both set, to ${legacy} and ${current}; they mean the same, send one`,
    );
  return current ?? legacy;
}

function validateMaxTokens(v: number | undefined, field = 'max_tokens'): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < 1 || v > MAX_TOKENS_LIMIT)
    throw invalidArgument(`${field}: must be an integer from 1 to ${MAX_TOKENS_LIMIT}; got ${v}`);
  return v;
}

function range(field: string, v: number | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isFinite(v) || v < min || v > max)
    throw invalidArgument(`${field}: must be between ${min} and ${max}; got ${v}`);
  return v;
}

/**
 * A turn's text from what OpenAI accepts as `content` (the contract's Value, unwrapped by the generated
 * code): a string, or an array of `{"type": "text", "text": ...}` parts joined with a newline. Messages
 * name the field and the kind of value, never the text.
 */
function contentText(content: unknown, field: string): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  if (!Array.isArray(content))
    throw invalidArgument(`${field}: must be a string or an array of text parts; got ${kindOf(content)}`);
  const texts: string[] = [];
  content.forEach((part: unknown, j) => {
    const at = `${field}[${j}]`;
    if (part === null || typeof part !== 'object' || Array.isArray(part))
      throw invalidArgument(`${at}: must be a part such as {"type": "text", "text": "..."}; got ${kindOf(part)}`);
    const { type, text } = part as { type?: unknown; text?: unknown };
    if (type !== 'text')
      throw invalidArgument(
        typeof type === 'string'
          ? `${at}.type: "${type.slice(0, 32)}" parts are not supported; send the turn as text parts or a string`
          : `${at}.type: must be "text"; got ${kindOf(type)}`,
      );
    if (typeof text !== 'string') throw invalidArgument(`${at}.text: must be a string; got ${kindOf(text)}`);
    texts.push(text);
  });
  return texts.join('\n');
}

function validateStop(stop: unknown): string[] | undefined {
  if (stop === undefined || stop === null) return undefined;
  const list = typeof stop === 'string' ? [stop] : stop;
  if (!Array.isArray(list)) throw invalidArgument(`stop: must be a string or an array of strings; got ${kindOf(stop)}`);
  if (list.length === 0) return undefined;
  if (list.length > 4) throw invalidArgument('stop: at most 4 stop sequences');
  list.forEach((s: unknown, i) => {
    const field = typeof stop === 'string' ? 'stop' : `stop[${i}]`;
    if (typeof s !== 'string') throw invalidArgument(`${field}: must be a string; got ${kindOf(s)}`);
    // Upstreams refuse an empty stop sequence (Anthropic) or stop at once.
    if (s === '') throw invalidArgument(`${field}: must not be empty; leave stop out for no stop sequence`);
  });
  return list as string[];
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function validateRouting(r: routerV1.RoutingOptions | undefined) {
  const preference = preferenceFromProto(r?.preference);
  if (preference === null)
    throw invalidArgument(
      'routing.preference: use PREFERENCE_QUALITY, PREFERENCE_BALANCED, PREFERENCE_COST or PREFERENCE_SPEED',
    );
  const maxCostUsd = r?.maxCostUsd;
  if (maxCostUsd !== undefined && !(Number.isFinite(maxCostUsd) && maxCostUsd > 0))
    throw invalidArgument(`routing.max_cost_usd: must be a positive number of US dollars; got ${maxCostUsd}`);
  return {
    preference,
    allowedModels: r && r.allowedModels.length > 0 ? r.allowedModels : undefined,
    maxCostUsd,
    enhancePrompt: r?.enhancePrompt,
  };
}

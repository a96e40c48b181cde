import { ProviderError } from './errors.js';
import type { QueryType } from './query-types.js';
import { sleep } from './retry.js';
import type { ChatCall, ChatChunk, ChatMessage, ChatProvider, ChatResult, FinishReason } from './types.js';

/** How a synthetic model behaves. Everything is drawn deterministically from a hash of the request. */
export interface SimulatedProfile {
  /** True answer quality per query type in [0,1] (what the router should learn). */
  quality: Partial<Record<QueryType, number>>;
  /** Quality for query types missing from `quality`. Default 0.5. */
  defaultQuality?: number;
  /** Time to the first token, in ms, before `latencyScale`. */
  ttftMs: number;
  /** Output speed, before `latencyScale`. */
  outputTokensPerSecond: number;
  /** Multiplies answer length. Default 1. */
  verbosity?: number;
  /**
   * An answer is good with probability `quality`; otherwise it has one defect: a refusal (this share of defects,
   * default 0.3), a truncation with finish reason `length` (`truncationRate`, default 0.3), or else an answer far
   * too short and without the structure its type calls for.
   */
  refusalRate?: number;
  truncationRate?: number;
  /** Probability of failing the call with UNAVAILABLE, as an unhealthy upstream would. Default 0. */
  failureRate?: number;
}

export interface SimulatorOptions {
  /** Profiles by provider-side model name. */
  models: Record<string, SimulatedProfile>;
  /** Multiplies every simulated delay: 1 is the profile's latency, 0 answers at once (tests, benchmarks). */
  latencyScale?: number;
  /** Query type of the conversation; the router may pass its own classifier so that both agree. */
  classify?: (messages: readonly ChatMessage[]) => QueryType;
  id?: string;
}

/**
 * Length of an adequate answer in tokens per query type, [low, high]: good simulated answers land inside (longer
 * for better models), short defective ones far below.
 */
export const EXPECTED_TOKENS: Record<QueryType, readonly [number, number]> = {
  code_algorithm: [200, 900],
  code_debug: [150, 700],
  math: [120, 600],
  reasoning: [100, 600],
  analysis: [250, 900],
  creative: [250, 900],
  writing: [250, 900],
  factual: [70, 400],
  summarization: [50, 300],
  extraction: [20, 300],
  translation: [10, 300],
  conversation: [15, 250],
};

// The filler vocabulary averages about 7 characters a word with its space, i.e. about 0.57 words a token.
const WORDS_PER_TOKEN = 0.57;

const CODE_TYPES: ReadonlySet<QueryType> = new Set(['code_algorithm', 'code_debug']);
const STRUCTURED_TYPES: ReadonlySet<QueryType> = new Set([
  'analysis',
  'reasoning',
  'math',
  'summarization',
  'extraction',
]);

const WORDS = (
  'system value result model data answer method approach example case step process detail point idea ' +
  'structure pattern option number list change context reason input output function element order state ' +
  'first second next final simple clear careful general specific common important useful direct main ' +
  'check compare consider follow apply build keep return handle define reduce measure explain describe ' +
  'quickly often usually rarely always carefully clearly mostly roughly exactly therefore however also'
).split(' ');

const REFUSAL = "I'm sorry, but I can't help with that request.";

interface Simulation {
  text: string;
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
  ttftMs: number;
  totalMs: number;
  fails: boolean;
}

/**
 * Deterministic synthetic models: the same request to the same model always gets the same answer, latency and
 * usage. Better profiles give answers that a heuristic scorer rates higher (length within the type's range, code
 * fences for code, structure for analysis, fewer refusals and truncations). Every answer says it is simulated.
 */
export class SimulatorProvider implements ChatProvider {
  readonly id: string;
  private readonly models: Map<string, SimulatedProfile>;
  private readonly latencyScale: number;
  private readonly classify: (messages: readonly ChatMessage[]) => QueryType;

  constructor(options: SimulatorOptions) {
    this.id = options.id ?? 'simulator';
    this.models = new Map(Object.entries(options.models));
    this.latencyScale = options.latencyScale ?? 1;
    this.classify = options.classify ?? ((messages) => guessQueryType(lastUserText(messages)));
    if (!(this.latencyScale >= 0)) throw new RangeError('latencyScale must be zero or more');
  }

  async complete(call: ChatCall): Promise<ChatResult> {
    const simulation = this.simulate(call);
    await this.wait(simulation.totalMs, call);
    if (simulation.fails) throw this.failure(call.model);
    return {
      text: simulation.text,
      finishReason: simulation.finishReason,
      usage: { promptTokens: simulation.promptTokens, completionTokens: simulation.completionTokens },
      providerModel: call.model,
    };
  }

  async *stream(call: ChatCall): AsyncGenerator<ChatChunk, void, undefined> {
    const simulation = this.simulate(call);
    await this.wait(simulation.ttftMs, call);
    if (simulation.fails) throw this.failure(call.model);
    const pieces = simulation.text.match(/(?:\S+\s*){1,4}|\s+/g) ?? [];
    const perPieceMs = pieces.length === 0 ? 0 : (simulation.totalMs - simulation.ttftMs) / pieces.length;
    for (const piece of pieces) {
      yield { deltaText: piece };
      await this.wait(perPieceMs, call);
    }
    yield {
      finishReason: simulation.finishReason,
      usage: { promptTokens: simulation.promptTokens, completionTokens: simulation.completionTokens },
      providerModel: call.model,
    };
  }

  async close(): Promise<void> {}

  /** The query type this simulator assumes for a call (for tests and explanations). */
  queryTypeOf(call: ChatCall): QueryType {
    return this.classify(call.messages);
  }

  private simulate(call: ChatCall): Simulation {
    const profile = this.models.get(call.model);
    if (profile === undefined) {
      throw new ProviderError({
        code: 'NOT_FOUND',
        message: `simulator has no model "${call.model}"; use one of: ${[...this.models.keys()].join(', ')}`,
        retryable: false,
        providerId: this.id,
        model: call.model,
      });
    }
    if (call.messages.length === 0) {
      throw new ProviderError({
        code: 'INVALID_ARGUMENT',
        message: `simulator model "${call.model}" needs at least one message`,
        retryable: false,
        providerId: this.id,
        model: call.model,
      });
    }
    const random = mulberry32(hashCall(call));
    const type = this.queryTypeOf(call);
    const base = profile.quality[type] ?? profile.defaultQuality ?? 0.5;
    const quality = clamp01(base + (random() - 0.5) * 0.2);
    const fails = random() < (profile.failureRate ?? 0);
    const prefix = `[simulated ${call.model}] `;

    // With probability `quality` the answer is a good one; otherwise it has one defect a heuristic scorer notices.
    let body: string;
    let finishReason: FinishReason = 'stop';
    if (random() < quality) {
      body = composeAnswer(type, 'good', quality, profile.verbosity ?? 1, random);
    } else {
      const kind = random();
      const refusalShare = profile.refusalRate ?? 0.3;
      const truncationShare = profile.truncationRate ?? 0.3;
      if (kind < refusalShare) {
        body = REFUSAL;
      } else if (kind < refusalShare + truncationShare) {
        body = composeAnswer(type, 'good', quality, profile.verbosity ?? 1, random);
        body = body.slice(0, Math.floor(body.length * (0.3 + 0.3 * random())));
        finishReason = 'length';
      } else {
        body = composeAnswer(type, 'short', quality, profile.verbosity ?? 1, random);
      }
    }
    let text = prefix + body;
    // Asked for JSON, the simulated answer is the text inside an object (one that follows the schema when given).
    if (call.responseFormat?.type === 'json_object') text = JSON.stringify({ answer: text });
    else if (call.responseFormat?.type === 'json_schema')
      text = JSON.stringify(
        instanceOf(call.responseFormat.schema ?? { type: 'object', properties: { answer: {} } }, text),
      );
    if (call.stop !== undefined) {
      for (const stop of call.stop) {
        const at = stop === '' ? -1 : text.indexOf(stop);
        if (at >= 0) text = text.slice(0, at);
      }
    }
    if (call.maxTokens !== undefined && estimateTokens(text) > call.maxTokens) {
      text = text.slice(0, Math.max(0, call.maxTokens) * 4);
      finishReason = 'length';
    }
    const completionTokens = estimateTokens(text);
    let promptTokens = 0;
    for (const message of call.messages) promptTokens += 4 + estimateTokens(message.content);
    const jitter = 0.85 + 0.3 * random();
    const ttftMs = profile.ttftMs * jitter * this.latencyScale;
    const totalMs = ttftMs + ((completionTokens * 1000) / profile.outputTokensPerSecond) * jitter * this.latencyScale;
    return { text, finishReason, promptTokens, completionTokens, ttftMs, totalMs, fails };
  }

  private async wait(ms: number, call: ChatCall): Promise<void> {
    if (call.signal?.aborted) throw this.cancelled(call.model);
    if (ms <= 0) return;
    const timeoutMs = call.timeoutMs;
    const waitMs = timeoutMs !== undefined && timeoutMs < ms ? timeoutMs : ms;
    try {
      await sleep(waitMs, call.signal);
    } catch {
      throw this.cancelled(call.model);
    }
    if (waitMs < ms) {
      throw new ProviderError({
        code: 'DEADLINE_EXCEEDED',
        message: `simulator model "${call.model}" did not finish within ${timeoutMs} ms; raise the timeout or lower latencyScale`,
        retryable: false,
        providerId: this.id,
        model: call.model,
      });
    }
  }

  private cancelled(model: string): ProviderError {
    return new ProviderError({
      code: 'CANCELLED',
      message: `call to simulator model "${model}" was cancelled by the caller`,
      retryable: false,
      providerId: this.id,
      model,
    });
  }

  private failure(model: string): ProviderError {
    return new ProviderError({
      code: 'UNAVAILABLE',
      message: `simulator model "${model}" simulated an upstream outage (failureRate); route to another model`,
      retryable: true,
      providerId: this.id,
      model,
      httpStatus: 503,
    });
  }
}

/** A rough keyword classifier, enough for the simulator to shape its answers by the kind of question. */
export function guessQueryType(text: string): QueryType {
  const t = text.toLowerCase();
  if (/\btranslat|\bin (french|spanish|german|italian|japanese|chinese|portuguese|english)\b/.test(t))
    return 'translation';
  if (/\b(bug|error|exception|traceback|stack trace|fix (this|my)|doesn'?t work|segfault|undefined is not)\b/.test(t)) {
    return 'code_debug';
  }
  if (
    /```|\b(function|implement|algorithm|code|python|javascript|typescript|java|rust|sql|regex|class|api)\b/.test(t)
  ) {
    return 'code_algorithm';
  }
  if (
    /\b(solve|equation|integral|derivative|probability|calculate|compute|prove|theorem)\b|\d+\s*[-+*/^]\s*\d+/.test(t)
  ) {
    return 'math';
  }
  if (/\b(summari[sz]e|summary|tl;?dr|key points)\b/.test(t)) return 'summarization';
  if (/\b(extract|parse|list all|pull out|find all)\b/.test(t)) return 'extraction';
  if (/\b(poem|story|haiku|lyrics|fiction|limerick|fairy tale)\b/.test(t)) return 'creative';
  if (/\b(email|essay|cover letter|blog post|article|rewrite|proofread|draft)\b/.test(t)) return 'writing';
  if (/\b(analy[sz]e|compare|pros and cons|evaluate|trade-?offs?|assess)\b/.test(t)) return 'analysis';
  if (/\b(why|puzzle|riddle|logic|step by step|deduce|if .* then)\b/.test(t)) return 'reasoning';
  if (/\b(what is|what are|who|when|where|capital of|define|how many)\b/.test(t)) return 'factual';
  return 'conversation';
}

/** Approximate token count (4 characters a token), the estimate used where no tokenizer is at hand. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/**
 * A good answer is longer the better the model (more substance, more list items, still inside the expected range);
 * a short one is far below the range and lacks the structure its type calls for.
 */
function composeAnswer(
  type: QueryType,
  shape: 'good' | 'short',
  quality: number,
  verbosity: number,
  random: () => number,
): string {
  const [low, high] = EXPECTED_TOKENS[type];
  const tokens =
    shape === 'good'
      ? low + (high - low) * clamp01(0.1 + 0.7 * quality + 0.2 * (random() - 0.5))
      : low * (0.05 + 0.3 * random());
  const words = Math.max(3, Math.round(tokens * verbosity * WORDS_PER_TOKEN));
  const structured = shape === 'good';
  if (CODE_TYPES.has(type)) return codeAnswer(words, structured, random);
  if (STRUCTURED_TYPES.has(type)) return structuredAnswer(type, words, structured, random);
  if (type === 'creative' && structured) return verse(words, random);
  return prose(words, random, structured);
}

function codeAnswer(words: number, fenced: boolean, random: () => number): string {
  const lines = Math.max(3, Math.round(words / 12));
  const names: string[] = [];
  const code: string[] = [`function ${pick(WORDS, random)}${capitalize(pick(WORDS, random))}(input) {`];
  for (let i = 0; i < lines; i++) {
    const name = `${pick(WORDS, random)}${i}`;
    names.push(name);
    code.push(`  const ${name} = input.${pick(WORDS, random)} ?? ${Math.floor(random() * 100)};`);
  }
  code.push(`  return ${names.join(' + ')};`, '}');
  const explanation = prose(Math.max(8, Math.round(words / 3)), random, fenced);
  const block = fenced ? '```javascript\n' + code.join('\n') + '\n```' : code.join('\n');
  return `Here is an approach.\n\n${block}\n\n${explanation}`;
}

function structuredAnswer(type: QueryType, words: number, structured: boolean, random: () => number): string {
  if (!structured) return prose(words, random, false);
  const items = Math.max(3, Math.min(8, Math.round(words / 30)));
  const each = Math.max(4, Math.round(words / (items + 1)));
  const parts = [`## ${capitalize(type)}`, '', prose(each, random, false), ''];
  for (let i = 1; i <= items; i++) {
    if (type === 'math') {
      const a = Math.floor(random() * 90) + 10;
      const b = Math.floor(random() * 90) + 10;
      parts.push(`${i}. ${prose(Math.max(3, each - 6), random, false)} x = ${a} + ${b} = ${a + b}`);
    } else {
      parts.push(`${i}. ${prose(each, random, false)}`);
    }
  }
  if (type === 'math') parts.push('', `**Final answer:** x = ${Math.floor(random() * 1000)}`);
  return parts.join('\n');
}

function verse(words: number, random: () => number): string {
  const lines: string[] = [];
  let left = words;
  while (left > 0) {
    const length = Math.min(left, 5 + Math.floor(random() * 4));
    const line: string[] = [];
    for (let i = 0; i < length; i++) line.push(pick(WORDS, random));
    lines.push(capitalize(line.join(' ')));
    left -= length;
    if (lines.length % 5 === 4) lines.push('');
  }
  return lines.join('\n').trim();
}

/** Sentences of filler words; in paragraphs of four sentences when `paragraphs` is set. */
function prose(words: number, random: () => number, paragraphs = false): string {
  const sentences: string[] = [];
  let left = words;
  while (left > 0) {
    const length = Math.min(left, 6 + Math.floor(random() * 10));
    const sentence: string[] = [];
    for (let i = 0; i < length; i++) sentence.push(pick(WORDS, random));
    sentences.push(`${capitalize(sentence.join(' '))}.`);
    left -= length;
    if (paragraphs && sentences.length % 5 === 4 && left > 0) sentences.push('\n\n');
  }
  return sentences.join(' ').replace(/ \n\n /g, '\n\n');
}

function pick<T>(items: readonly T[], random: () => number): T {
  return items[Math.floor(random() * items.length)]!;
}

function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

function lastUserText(messages: readonly ChatMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i]!;
    if (message.role === 'user') return message.content;
  }
  return messages.at(-1)?.content ?? '';
}

/** FNV-1a over the model name, roles and contents: the seed of everything simulated for this request. */
function hashCall(call: ChatCall): number {
  let hash = 0x811c9dc5;
  const mix = (text: string): void => {
    for (let i = 0; i < text.length; i++) {
      hash ^= text.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
    hash ^= 0xff;
    hash = Math.imul(hash, 0x01000193);
  };
  mix(call.model);
  for (const message of call.messages) {
    mix(message.role);
    mix(message.content);
  }
  return hash >>> 0;
}

/** Small, fast seeded PRNG (public domain, Tommy Ettinger). */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A value that follows a JSON Schema's common keywords (type, properties, items, enum, const, minimum), with
 * `text` for every string; anything it does not know becomes `text`.
 */
function instanceOf(schema: unknown, text: string, depth = 0): unknown {
  if (depth > 16 || typeof schema !== 'object' || schema === null) return text;
  const s = schema as Record<string, unknown>;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  if ('const' in s) return s.const;
  switch (Array.isArray(s.type) ? s.type[0] : s.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const properties = typeof s.properties === 'object' && s.properties !== null ? s.properties : {};
      for (const [key, value] of Object.entries(properties)) out[key] = instanceOf(value, text, depth + 1);
      return out;
    }
    case 'array':
      return s.items === undefined ? [] : [instanceOf(s.items, text, depth + 1)];
    case 'integer':
    case 'number':
      return typeof s.minimum === 'number' ? s.minimum : 0;
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return text;
  }
}

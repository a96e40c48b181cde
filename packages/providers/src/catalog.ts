import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ANTHROPIC_DEFAULT_BASE_URL, AnthropicProvider } from './anthropic.js';
import { CatalogError, ProviderError, type CatalogProblem } from './errors.js';
import { GEMINI_DEFAULT_BASE_URL, GeminiProvider } from './gemini.js';
import { OPENAI_DEFAULT_BASE_URL, OpenAICompatibleProvider } from './openai.js';
import { QUERY_TYPES, type QueryType } from './query-types.js';
import { SimulatorProvider, type SimulatedProfile } from './simulator.js';
import type { ChatMessage, ChatProvider } from './types.js';
import type { HttpProviderOptions } from './upstream.js';

export const PROVIDER_KINDS = ['openai', 'anthropic', 'gemini', 'simulator'] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];

/** Where the shipped default catalog lives. */
export const DEFAULT_CATALOG_PATH = fileURLToPath(new URL('../catalog.default.json', import.meta.url));

const unit = z.number().min(0).max(1);
const qualityByType = z.partialRecord(z.enum(QUERY_TYPES), unit);

const simulatedSchema = z.strictObject({
  quality: qualityByType,
  defaultQuality: unit.optional(),
  ttftMs: z.number().min(0),
  outputTokensPerSecond: z.number().positive(),
  verbosity: z.number().positive().optional(),
  refusalRate: unit.optional(),
  truncationRate: unit.optional(),
  failureRate: unit.optional(),
});

const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name such as OPENAI_API_KEY');

/**
 * The store's rule for provider names (a cross-package test keeps the two equal): a name outside it could
 * never be recorded, so every answer of the model would fail after it was paid for.
 */
export const PROVIDER_NAME_SHAPE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const entrySchema = z.strictObject({
  id: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/,
      'must be 1-128 letters, digits or ._:/- starting with a letter or digit',
    ),
  provider: z.enum(PROVIDER_KINDS),
  /** Name recorded and used for circuit breakers, e.g. `groq`; defaults to the protocol or the base URL's host. */
  providerName: z
    .string()
    .regex(
      PROVIDER_NAME_SHAPE,
      'must be 1-64 letters, digits or ._- starting with a letter or digit (it is recorded with every request)',
    )
    .optional(),
  providerModel: z.string().min(1).optional(),
  baseUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** Environment variable that, when set, replaces baseUrl (e.g. a local proxy). */
  baseUrlEnv: envName.optional(),
  /** Environment variable holding the API key; the entry is enabled only when it is set. */
  apiKeyEnv: envName.optional(),
  enabled: z.boolean().optional(),
  description: z.string().optional(),
  pricing: z.strictObject({ inputPerMTok: z.number().min(0), outputPerMTok: z.number().min(0) }),
  contextWindow: z.number().int().positive(),
  maxOutputTokens: z.number().int().positive(),
  capabilities: z.array(z.string().min(1)),
  priorQuality: qualityByType,
  typicalLatencyMs: z.number().positive(),
  /**
   * OpenAI protocol only: the request field that carries max_tokens. OpenAI's reasoning models (o-series,
   * gpt-5) refuse `max_tokens` and take `max_completion_tokens`; other compatible servers may know only the former.
   */
  maxTokensField: z.enum(['max_tokens', 'max_completion_tokens']).optional(),
  simulated: simulatedSchema.optional(),
});

const catalogSchema = z.strictObject({
  $schema: z.string().optional(),
  description: z.string().optional(),
  models: z.array(z.unknown()).min(1, 'must list at least one model'),
});

type EntryInput = z.infer<typeof entrySchema>;

/** A catalog entry after validation and resolution against the environment. */
export interface ModelEntry {
  id: string;
  /** Name of the upstream, recorded with each request and keying circuit breakers (e.g. `openai`, `groq`). */
  provider: string;
  /** Wire protocol of the upstream. */
  protocol: ProviderKind;
  providerModel: string;
  baseUrl: string | undefined;
  /** Name of the environment variable holding the API key (never the key itself). */
  apiKeyEnv: string | undefined;
  pricing: { inputPerMTok: number; outputPerMTok: number };
  /** USD per 1M prompt tokens (same as pricing.inputPerMTok). */
  inputPerMTok: number;
  /** USD per 1M completion tokens (same as pricing.outputPerMTok). */
  outputPerMTok: number;
  contextWindow: number;
  maxOutputTokens: number;
  capabilities: readonly string[];
  priorQuality: Partial<Record<QueryType, number>>;
  typicalLatencyMs: number;
  /** True for simulator models, which answer with synthetic text. */
  simulated: boolean;
  /** The simulator profile, for simulator models. */
  simulation: SimulatedProfile | undefined;
  /** OpenAI protocol: the request field that carries max_tokens (default `max_tokens`). */
  maxTokensField: 'max_tokens' | 'max_completion_tokens' | undefined;
  description: string | undefined;
  enabled: boolean;
  /** Why a disabled entry is off and how to switch it on. */
  disabledReason: string | undefined;
}

export interface LoadCatalogOptions {
  /** Catalog file; the shipped default when neither path nor json is given. */
  path?: string;
  /** Catalog content, as parsed JSON or JSON text (takes precedence over path). */
  json?: unknown;
  /** Environment variables (API keys, base URL overrides); packages never read process.env themselves. */
  env: Record<string, string | undefined>;
  /** Simulator delay multiplier (0 in tests and benchmarks). Default 1. */
  latencyScale?: number;
  /** Classifier the simulator uses to decide what kind of question it answers (pass the router's own). */
  classify?: (messages: readonly ChatMessage[]) => QueryType;
  /** Timeouts, retry and pool settings applied to every HTTP provider. */
  http?: Omit<HttpProviderOptions, 'baseUrl' | 'apiKey' | 'id' | 'headers'>;
}

/** The validated model catalog with one shared provider instance per upstream. */
export class Catalog {
  private readonly entries: readonly ModelEntry[];
  private readonly enabledEntries: readonly ModelEntry[];
  private readonly byId: ReadonlyMap<string, ModelEntry>;
  private readonly providersById: ReadonlyMap<string, ChatProvider>;
  private readonly distinctProviders: readonly ChatProvider[];

  constructor(entries: ModelEntry[], providersByModelId: Map<string, ChatProvider>) {
    this.entries = entries;
    this.enabledEntries = entries.filter((e) => e.enabled);
    this.byId = new Map(entries.map((e) => [e.id, e]));
    this.providersById = providersByModelId;
    this.distinctProviders = [...new Set(providersByModelId.values())];
  }

  /** Enabled models, in catalog order. */
  models(): readonly ModelEntry[] {
    return this.enabledEntries;
  }

  /** Every entry, disabled ones included (with `disabledReason`). */
  all(): readonly ModelEntry[] {
    return this.entries;
  }

  /** An enabled model by id. */
  get(id: string): ModelEntry | undefined {
    const entry = this.byId.get(id);
    return entry?.enabled ? entry : undefined;
  }

  /** Any entry by id, disabled ones included. */
  lookup(id: string): ModelEntry | undefined {
    return this.byId.get(id);
  }

  /** The shared provider instance of an enabled model. */
  provider(id: string): ChatProvider {
    const provider = this.providersById.get(id);
    if (provider !== undefined) return provider;
    const entry = this.byId.get(id);
    throw new ProviderError({
      code: entry === undefined ? 'NOT_FOUND' : 'FAILED_PRECONDITION',
      message:
        entry === undefined
          ? `model "${id}" is not in the catalog; use one of: ${this.enabledEntries.map((e) => e.id).join(', ')}`
          : `model "${id}" is disabled: ${entry.disabledReason ?? 'enable it in the catalog'}`,
      retryable: false,
      model: id,
    });
  }

  /** Every distinct provider instance. */
  providers(): readonly ChatProvider[] {
    return this.distinctProviders;
  }

  /** Closes every provider's connection pool. */
  async close(): Promise<void> {
    await Promise.all(this.distinctProviders.map((p) => p.close()));
  }
}

/**
 * Reads, validates and resolves a catalog. Throws CatalogError listing every problem, each naming the entry (index
 * and id) and the field.
 */
export function loadCatalog(options: LoadCatalogOptions): Catalog {
  const { source, raw } = readCatalogSource(options);
  const entries = validateCatalog(raw, source);
  const resolved = entries.map((entry) => resolveEntry(entry, options.env));
  return new Catalog(resolved, buildProviders(resolved, options));
}

/** Validates catalog JSON and returns its entries, or throws CatalogError with every problem. */
export function validateCatalog(raw: unknown, source = '(inline)'): EntryInput[] {
  const top = catalogSchema.safeParse(raw, { reportInput: true });
  if (!top.success)
    throw new CatalogError(
      source,
      top.error.issues.flatMap((issue) => problemsOf(issue)),
    );
  const problems: CatalogProblem[] = [];
  const entries: EntryInput[] = [];
  const seenIds = new Map<string, number>();
  const simulatorModels = new Map<string, number>();
  top.data.models.forEach((rawEntry, index) => {
    const id = readableId(rawEntry);
    const place = id === undefined ? { index } : { index, id };
    const add = (field: string, message: string): void => {
      problems.push({ ...place, field, message });
    };
    const parsed = entrySchema.safeParse(rawEntry, { reportInput: true });
    if (parsed.success) entries.push(parsed.data);
    else
      for (const issue of parsed.error.issues)
        for (const problem of problemsOf(issue)) problems.push({ ...place, ...problem });
    // Checks across fields and entries run on the raw entry too, so that one pass lists every problem.
    const raw = (typeof rawEntry === 'object' && rawEntry !== null ? rawEntry : {}) as Record<string, unknown>;
    let duplicate = false;
    if (id !== undefined) {
      const previous = seenIds.get(id);
      if (previous !== undefined) {
        duplicate = true;
        add('id', `duplicates the id of entry ${previous}; ids must be unique`);
      } else seenIds.set(id, index);
    }
    if (
      typeof raw.maxOutputTokens === 'number' &&
      typeof raw.contextWindow === 'number' &&
      raw.maxOutputTokens > raw.contextWindow
    ) {
      add('maxOutputTokens', `${raw.maxOutputTokens} exceeds contextWindow ${raw.contextWindow}; lower it`);
    }
    if (raw.provider === 'simulator') {
      if (raw.simulated === undefined) add('simulated', 'is required for provider "simulator"; give a profile');
      const model = typeof raw.providerModel === 'string' ? raw.providerModel : id;
      const owner = model === undefined ? undefined : simulatorModels.get(model);
      if (owner !== undefined && !duplicate) {
        add('providerModel', `"${model}" is already simulated by entry ${owner}; use another name`);
      } else if (model !== undefined && owner === undefined) simulatorModels.set(model, index);
      if (raw.apiKeyEnv !== undefined) add('apiKeyEnv', 'simulator models need no key; remove it');
    } else if (typeof raw.provider === 'string' && raw.simulated !== undefined) {
      add('simulated', `is only for provider "simulator", not "${raw.provider}"; remove it`);
    }
    if (raw.maxTokensField !== undefined && typeof raw.provider === 'string' && raw.provider !== 'openai')
      add('maxTokensField', `is only for provider "openai", not "${raw.provider}"; remove it`);
  });
  if (problems.length > 0) throw new CatalogError(source, problems);
  return entries;
}

function readCatalogSource(options: LoadCatalogOptions): { source: string; raw: unknown } {
  if (options.json !== undefined) {
    if (typeof options.json !== 'string') return { source: '(inline)', raw: options.json };
    return { source: '(inline)', raw: parseJsonText(options.json, '(inline)') };
  }
  const path = options.path ?? DEFAULT_CATALOG_PATH;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'unknown error';
    throw new CatalogError(path, [{ field: '', message: `cannot be read (${code}); check the catalog path` }]);
  }
  return { source: path, raw: parseJsonText(text, path) };
}

function parseJsonText(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CatalogError(source, [{ field: '', message: `is not valid JSON (${(error as Error).message})` }]);
  }
}

function readableId(rawEntry: unknown): string | undefined {
  const id = typeof rawEntry === 'object' && rawEntry !== null ? (rawEntry as { id?: unknown }).id : undefined;
  return typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : undefined;
}

/** Turns a zod issue into problems with the field path relative to the entry (or catalog) it was checked on. */
function problemsOf(issue: z.core.$ZodIssue): Omit<CatalogProblem, 'index' | 'id'>[] {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const isQuality = /(^|\.)(priorQuality|quality)$/.test(path);
    return issue.keys.map((key) => ({
      field: path === '' ? key : `${path}.${key}`,
      message: isQuality
        ? `is not a known query type; use one of: ${QUERY_TYPES.join(', ')}`
        : 'is not a known field; check its spelling',
    }));
  }
  return [{ field: path, message: describeIssue(issue) }];
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && issue.input === undefined) return `is required (expected ${issue.expected})`;
  if (issue.code === 'too_small' && issue.origin === 'number') {
    return `must be ${issue.inclusive ? '>=' : '>'} ${String(issue.minimum)} (got ${JSON.stringify(issue.input)})`;
  }
  if (issue.code === 'too_big' && issue.origin === 'number') {
    return `must be ${issue.inclusive ? '<=' : '<'} ${String(issue.maximum)} (got ${JSON.stringify(issue.input)})`;
  }
  if (issue.code === 'invalid_value') return `must be one of: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  return issue.message.replace(/^Invalid input: /, '');
}

function resolveEntry(entry: EntryInput, env: Record<string, string | undefined>): ModelEntry {
  const baseUrlOverride = entry.baseUrlEnv === undefined ? undefined : nonEmpty(env[entry.baseUrlEnv]);
  const baseUrl = baseUrlOverride ?? entry.baseUrl;
  let enabled = entry.enabled !== false;
  let disabledReason: string | undefined = enabled ? undefined : 'disabled in the catalog ("enabled": false)';
  if (enabled && entry.apiKeyEnv !== undefined && nonEmpty(env[entry.apiKeyEnv]) === undefined) {
    enabled = false;
    disabledReason = `set ${entry.apiKeyEnv} to enable it`;
  }
  return {
    id: entry.id,
    provider: entry.providerName ?? defaultProviderName(entry.provider, baseUrl),
    protocol: entry.provider,
    providerModel: entry.providerModel ?? entry.id,
    baseUrl,
    apiKeyEnv: entry.apiKeyEnv,
    pricing: { ...entry.pricing },
    inputPerMTok: entry.pricing.inputPerMTok,
    outputPerMTok: entry.pricing.outputPerMTok,
    contextWindow: entry.contextWindow,
    maxOutputTokens: entry.maxOutputTokens,
    capabilities: [...entry.capabilities],
    priorQuality: { ...entry.priorQuality },
    typicalLatencyMs: entry.typicalLatencyMs,
    simulated: entry.provider === 'simulator',
    simulation: entry.simulated,
    maxTokensField: entry.maxTokensField,
    description: entry.description,
    enabled,
    disabledReason,
  };
}

const DEFAULT_BASE_URLS: Record<ProviderKind, string> = {
  openai: OPENAI_DEFAULT_BASE_URL,
  anthropic: ANTHROPIC_DEFAULT_BASE_URL,
  gemini: GEMINI_DEFAULT_BASE_URL,
  simulator: '',
};

function defaultProviderName(kind: ProviderKind, baseUrl: string | undefined): string {
  if (baseUrl === undefined || kind === 'simulator') return kind;
  if (baseUrl.replace(/\/+$/, '') === DEFAULT_BASE_URLS[kind]) return kind;
  try {
    // The host with its port (two local servers stay two upstreams), in the characters a name may hold:
    // "127.0.0.1:11434" becomes "127.0.0.1-11434".
    const name = new URL(baseUrl).host
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '')
      .slice(0, 64);
    return PROVIDER_NAME_SHAPE.test(name) ? name : kind;
  } catch {
    return kind;
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** One provider per distinct upstream (protocol, name, base URL, key, max-tokens field), shared by the entries that use it. */
function buildProviders(entries: ModelEntry[], options: LoadCatalogOptions): Map<string, ChatProvider> {
  const byModel = new Map<string, ChatProvider>();
  const shared = new Map<string, ChatProvider>();
  const simulated = entries.filter((e) => e.enabled && e.simulation !== undefined);
  if (simulated.length > 0) {
    const simulator = new SimulatorProvider({
      models: Object.fromEntries(simulated.map((e) => [e.providerModel, e.simulation!])),
      latencyScale: options.latencyScale ?? 1,
      ...(options.classify === undefined ? {} : { classify: options.classify }),
    });
    for (const entry of simulated) byModel.set(entry.id, simulator);
  }
  for (const entry of entries) {
    if (!entry.enabled || entry.simulated) continue;
    const apiKey = apiKeyOf(entry, options.env);
    const key = [entry.protocol, entry.provider, entry.baseUrl ?? '', apiKey ?? '', entry.maxTokensField ?? ''].join(
      '\u0000',
    );
    let provider = shared.get(key);
    if (provider === undefined) {
      const common: HttpProviderOptions = { ...options.http, id: entry.provider };
      if (entry.baseUrl !== undefined) common.baseUrl = entry.baseUrl;
      if (apiKey !== undefined) common.apiKey = apiKey;
      provider =
        entry.protocol === 'anthropic'
          ? new AnthropicProvider(common)
          : entry.protocol === 'gemini'
            ? new GeminiProvider(common)
            : new OpenAICompatibleProvider(
                entry.maxTokensField === undefined ? common : { ...common, maxTokensField: entry.maxTokensField },
              );
      shared.set(key, provider);
    }
    byModel.set(entry.id, provider);
  }
  return byModel;
}

function apiKeyOf(entry: ModelEntry, env: Record<string, string | undefined>): string | undefined {
  return entry.apiKeyEnv === undefined ? undefined : nonEmpty(env[entry.apiKeyEnv]);
}

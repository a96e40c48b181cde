export type {
  ChatCall,
  ChatChunk,
  ChatMessage,
  ChatProvider,
  ChatResult,
  ChatRole,
  FinishReason,
  ResponseFormat,
  Usage,
} from './types.js';
export { JSON_CAPABILITY, JSON_SCHEMA_CAPABILITY } from './types.js';
export {
  CatalogError,
  ProviderError,
  codeForHttpStatus,
  countsAgainstHealth,
  isRetryableHttpStatus,
  type CatalogProblem,
  type ProviderErrorOptions,
  type StatusCodeName,
} from './errors.js';
export {
  DEFAULT_BACKOFF,
  backoffDelay,
  nextRetryWait,
  parseRetryAfter,
  retry,
  sleep,
  type BackoffOptions,
  type RetryDecision,
  type RetryOptions,
} from './retry.js';
export {
  CircuitBreaker,
  CircuitBreakerRegistry,
  type CircuitBreakerOptions,
  type CircuitSnapshot,
  type CircuitState,
} from './circuit-breaker.js';
export type { HttpProviderOptions } from './upstream.js';
export { OPENAI_DEFAULT_BASE_URL, OpenAICompatibleProvider, type OpenAICompatibleOptions } from './openai.js';
export { ANTHROPIC_DEFAULT_BASE_URL, AnthropicProvider, type AnthropicOptions } from './anthropic.js';
export { GEMINI_DEFAULT_BASE_URL, GeminiProvider, type GeminiOptions } from './gemini.js';
export {
  EXPECTED_TOKENS,
  SimulatorProvider,
  estimateTokens,
  guessQueryType,
  type SimulatedProfile,
  type SimulatorOptions,
} from './simulator.js';
export { QUERY_TYPES, isQueryType, type QueryType } from './query-types.js';
export {
  Catalog,
  DEFAULT_CATALOG_PATH,
  PROVIDER_KINDS,
  PROVIDER_NAME_SHAPE,
  loadCatalog,
  validateCatalog,
  type LoadCatalogOptions,
  type ModelEntry,
  type ProviderKind,
} from './catalog.js';

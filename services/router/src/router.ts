import { randomId, messageHmac, DomainError, invalidArgument, failedPrecondition } from '@routeplex/platform';
import {
  classify,
  decide,
  qualitySignals,
  requestCell,
  contributionCell,
  estimateTokens,
  catalogCostUsd,
  EXPECTED_COMPLETION_TOKENS,
  NoEligibleModelError,
  type CandidateModel,
  type Decision,
  type QueryType,
  type Rng,
  type ScoringConfig,
  type Stage,
  type Complexity,
} from '@routeplex/scoring';
import type { LearningCache, CellDeltaInput } from '@routeplex/learning';
import {
  countsAgainstHealth,
  JSON_CAPABILITY,
  JSON_SCHEMA_CAPABILITY,
  type ChatChunk,
  type ChatProvider,
  type ChatResult,
  type CircuitBreaker,
  type CircuitBreakerRegistry,
  type FinishReason,
  type Usage,
} from '@routeplex/providers';
import { StoreError, type EntryWrite, type RequestEntry } from '@routeplex/store';
import { ENHANCEMENT_INSTRUCTIONS, enhancementByHoldout } from './enhancement.js';
import { AUTO_MODEL, type ChatInput, type ValidMessage } from './validation.js';

/** What the router needs of a catalog entry. */
export interface RoutableModel extends CandidateModel {
  providerModel: string;
  maxOutputTokens: number;
  simulated: boolean;
}

export interface RouterCatalog {
  models(): readonly RoutableModel[];
  get(id: string): RoutableModel | undefined;
  provider(id: string): ChatProvider;
}

export interface RouterOptions {
  catalog: RouterCatalog;
  cache: LearningCache;
  /**
   * Queues a content-free record; resolves when committed (the hot path does not wait for it). Throws at once
   * when the record cannot be queued (queue full, store closed): the request then fails.
   */
  record: (write: EntryWrite) => Promise<void>;
  breakers: CircuitBreakerRegistry;
  scoring: ScoringConfig;
  hmacSecret: string;
  enhancementHoldout: number;
  maxAttempts: number;
  callTimeoutMs: number;
  now: () => number;
  rng: Rng;
  onRecordError: (err: unknown) => void;
}

export interface AttemptInfo {
  model: string;
  provider: string;
  errorCode: string;
  latencyMs: number;
}

export interface RoutingInfo {
  queryType: QueryType;
  complexity: Complexity;
  model: string;
  provider: string;
  autoRouted: boolean;
  stage: Stage | undefined;
  personalWeight: number;
  changedByPersonal: boolean;
  preference: ChatInput['preference'];
  promptEnhanced: boolean;
  decision: Decision | undefined;
  attempts: AttemptInfo[];
  simulated: boolean;
}

/** An answer with its token counts: the upstream's, or estimated when it reported none. */
export type CountedResult = ChatResult & { usage: Usage };

export interface Completion {
  requestId: string;
  createdMs: number;
  result: CountedResult;
  routing: RoutingInfo;
}

interface Plan {
  requestId: string;
  createdMs: number;
  queryType: QueryType;
  complexity: Complexity;
  promptTokens: number;
  ranked: RoutableModel[];
  decision: Decision | undefined;
  autoRouted: boolean;
  enhanced: boolean;
  messages: ValidMessage[];
}

/**
 * The routing core shared by the unary, streaming and selection rpcs: classify, decide from cached cells,
 * call with fallback, score the answer and queue a content-free record.
 */
export class Router {
  constructor(private readonly o: RouterOptions) {}

  async complete(accountId: string, input: ChatInput, signal: AbortSignal): Promise<Completion> {
    const plan = await this.plan(accountId, input);
    const attempts: AttemptInfo[] = [];
    const failures: CellDeltaInput[] = [];
    const disabled: string[] = [];
    for (const model of this.attemptOrder(plan)) {
      const started = this.o.now();
      const breaker = this.o.breakers.get(model.provider, model.id);
      const admission = admitted(breaker, model, disabled);
      if (admission === undefined) continue;
      // Only the half-open probe is handed back: a call let through while closed holds no reservation.
      const probe = admission === 'probe';
      let result: CountedResult;
      try {
        const answer = await this.o.catalog.provider(model.id).complete({
          ...this.call(model, input, plan.messages),
          signal,
        });
        result = { ...answer, usage: answer.usage ?? estimatedUsage(plan, answer.text) };
      } catch (err) {
        if (signal.aborted) {
          if (probe) breaker.release();
          throw err;
        }
        this.noteFailure(err, model, breaker, probe, plan, started, attempts, failures);
        continue;
      }
      breaker.onSuccess();
      // The answer came back after the caller went away: a cancelled request records nothing.
      if (signal.aborted) throw cancelled();
      const latencyMs = this.o.now() - started;
      attempts.push({ model: model.id, provider: model.provider, errorCode: '', latencyMs });
      const routing = this.routingInfo(plan, input, model, attempts);
      // Outside the try: the model answered, so a refused record must neither count against it nor call another.
      this.recordCompletion(accountId, plan, input, model, result, latencyMs, failures);
      return { requestId: plan.requestId, createdMs: plan.createdMs, result, routing };
    }
    throw allFailed(attempts, disabled);
  }

  /**
   * Streams an answer: falls back only until the first chunk arrives. `emit` receives the routing info
   * once, then the chunks; the record is queued after the last chunk, before the closing chunk (finish
   * reason, usage) is emitted, so that an answer whose record was refused never looks complete.
   */
  async stream(
    accountId: string,
    input: ChatInput,
    signal: AbortSignal,
    emit: (event: { routing?: RoutingInfo; chunk?: ChatChunk; requestId: string; createdMs: number }) => Promise<void>,
  ): Promise<void> {
    const plan = await this.plan(accountId, input);
    const attempts: AttemptInfo[] = [];
    const failures: CellDeltaInput[] = [];
    const disabled: string[] = [];
    for (const model of this.attemptOrder(plan)) {
      const started = this.o.now();
      const breaker = this.o.breakers.get(model.provider, model.id);
      const admission = admitted(breaker, model, disabled);
      if (admission === undefined) continue;
      // Only the half-open probe is handed back: a call let through while closed holds no reservation.
      const probe = admission === 'probe';
      const chunks = this.o.catalog.provider(model.id).stream({ ...this.call(model, input, plan.messages), signal });
      const iterator = chunks[Symbol.asyncIterator]();
      let first: IteratorResult<ChatChunk>;
      try {
        first = await iterator.next();
      } catch (err) {
        if (signal.aborted) {
          if (probe) breaker.release();
          throw err;
        }
        this.noteFailure(err, model, breaker, probe, plan, started, attempts, failures);
        continue;
      }
      // The routing block goes out with the first chunk: the attempt's latency is its time to that chunk.
      attempts.push({ model: model.id, provider: model.provider, errorCode: '', latencyMs: this.o.now() - started });
      const routing = this.routingInfo(plan, input, model, attempts);
      const base = { requestId: plan.requestId, createdMs: plan.createdMs };
      let text = '';
      let finishReason: FinishReason = 'stop';
      let usage: ChatResult['usage'] | undefined;
      let providerModel = model.providerModel;
      let closing: ChatChunk | undefined;
      // Whether the provider's stream has ended (done or thrown); until then it holds an upstream request open.
      let ended = false;
      // Whether the breaker has heard of a failure of this call.
      let reported = false;
      try {
        await emit({ ...base, routing });
        let step = first;
        while (!step.done) {
          const chunk = step.value;
          if (chunk.deltaText) text += chunk.deltaText;
          if (chunk.finishReason) finishReason = chunk.finishReason;
          if (chunk.usage) usage = chunk.usage;
          if (chunk.providerModel) providerModel = chunk.providerModel;
          if (closing) await emit({ ...base, chunk: closing });
          closing = undefined;
          if (chunk.finishReason || chunk.usage) closing = chunk;
          else await emit({ ...base, chunk });
          try {
            step = await iterator.next();
          } catch (err) {
            ended = true;
            // A failure of the consumer (emit) is not the provider's: only the provider's own errors count.
            if (!signal.aborted && countsAgainstHealth(err)) {
              breaker.onFailure();
              reported = true;
            }
            throw err;
          }
        }
        ended = true;
      } catch (err) {
        // Cancelled, refused mid-stream or stopped by the consumer: nothing was learnt of the upstream's health.
        if (!reported && probe) breaker.release();
        throw err;
      } finally {
        // The consumer stopped first: closing the iterator runs the provider's cleanup (aborts the upstream
        // request, clears its timer). As in for-of, the consumer's error wins over one from the cleanup.
        if (!ended) await iterator.return?.().catch(() => undefined);
      }
      breaker.onSuccess();
      // The provider may end a stream the caller has cancelled from what it had already read (the last
      // bytes held the end): the answer was never delivered, and a cancelled request records nothing.
      if (signal.aborted) throw cancelled();
      const latencyMs = this.o.now() - started;
      const result: CountedResult = {
        text,
        finishReason,
        providerModel,
        usage: usage ?? estimatedUsage(plan, text),
      };
      this.recordCompletion(accountId, plan, input, model, result, latencyMs, failures);
      // The closing chunk carries the usage, estimated when the upstream reported none (the contract's promise).
      if (closing) await emit({ ...base, chunk: closing.usage ? closing : { ...closing, usage: result.usage } });
      return;
    }
    throw allFailed(attempts, disabled);
  }

  /** A routing decision without a model call, recorded as a selection. */
  async select(accountId: string, input: ChatInput): Promise<{ requestId: string; routing: RoutingInfo }> {
    const plan = await this.plan(accountId, input);
    const chosen = plan.ranked[0]!;
    const routing = this.routingInfo(plan, input, chosen, []);
    this.record({
      entry: this.entry(accountId, plan, input, chosen, 'selection', null, {}, 0, 0, 0, 0),
      cellDeltas: [],
      counterDelta: this.counterDelta(accountId, plan, undefined),
    });
    return { requestId: plan.requestId, routing };
  }

  private async plan(accountId: string, input: ChatInput): Promise<Plan> {
    const createdMs = this.o.now();
    const requestId = randomId('req_');
    const { queryType, complexity } = classify(input.messages);
    const promptTokens = input.messages.reduce((n, m) => n + estimateTokens(m.content) + 4, 0);
    let ranked: RoutableModel[];
    let decision: Decision | undefined;
    const autoRouted = input.model === AUTO_MODEL;
    if (autoRouted) {
      if (input.allowedModels && !input.allowedModels.some((id) => this.o.catalog.get(id)))
        throw invalidArgument(
          `routing.allowed_models: none of ${input.allowedModels.slice(0, 20).join(', ')} is a model of this deployment; ` +
            `use ids such as ${this.o.catalog
              .models()
              .slice(0, 10)
              .map((m) => m.id)
              .join(', ')}`,
        );
      const personal = await this.o.cache.personal(accountId, queryType);
      const global = this.o.cache.globalCells(queryType);
      const candidates = this.o.catalog.models();
      try {
        decision = decide({
          candidates,
          queryType,
          promptTokens,
          // max_tokens bounds the answer; a typical answer of the type is what it will cost.
          expectedCompletionTokens:
            input.maxTokens === undefined
              ? undefined
              : Math.min(input.maxTokens, EXPECTED_COMPLETION_TOKENS[queryType]),
          // ... and the window must hold all of it, as the call reserves it.
          maxCompletionTokens: input.maxTokens,
          preference: input.preference,
          constraints: {
            allowedModels: input.allowedModels,
            maxCostUsd: input.maxCostUsd,
            requiredCapabilities: requiredCapabilities(input),
            unhealthy: candidates.filter((c) => !this.o.breakers.get(c.provider, c.id).isAvailable()).map((c) => c.id),
          },
          personal: personal.cells,
          global: global.cells,
          pooled: { personal: personal.pooled, global: global.pooled },
          config: this.o.scoring,
          nowMs: createdMs,
          rng: this.o.rng,
        });
      } catch (err) {
        if (err instanceof NoEligibleModelError) throw noEligibleModel(err, input);
        throw err;
      }
      ranked = decision.ranked.map((id) => this.o.catalog.get(id)!);
    } else {
      const model = this.o.catalog.get(input.model);
      if (!model) {
        const known = this.o.catalog
          .models()
          .map((m) => m.id)
          .slice(0, 20);
        throw invalidArgument(
          `model: unknown model "${input.model.slice(0, 64)}"; use "${AUTO_MODEL}" or one of: ${known.join(', ')}`,
        );
      }
      const missing = requiredCapabilities(input).filter((c) => !model.capabilities?.includes(c));
      if (missing.length > 0)
        throw invalidArgument(
          `response_format: ${model.id} does not answer in ${input.responseFormat!.type} (no "${missing.join('", "')}" capability in the catalog); ` +
            `use ${AUTO_MODEL} or a model that lists it in GET /api/v1/models`,
        );
      // What the call reserves: max_tokens as sent, capped by the model's output limit.
      if (promptTokens + Math.min(input.maxTokens ?? 0, model.maxOutputTokens) > model.contextWindow)
        throw invalidArgument(
          `messages: about ${promptTokens} prompt tokens plus max_tokens (or max_completion_tokens) exceed the ${model.contextWindow}-token context window of ${model.id}; shorten the conversation or choose a larger model`,
        );
      ranked = [model];
    }
    // The instructions ask for markdown (fences, headings), which a JSON answer cannot follow: a request for
    // JSON is enhanced only when it asks to be.
    const enhanced =
      input.enhancePrompt ??
      (autoRouted && input.responseFormat === undefined
        ? enhancementByHoldout(requestId, this.o.enhancementHoldout)
        : false);
    const messages = enhanced
      ? [{ role: 'system' as const, content: ENHANCEMENT_INSTRUCTIONS[queryType] }, ...input.messages]
      : input.messages;
    return {
      requestId,
      createdMs,
      queryType,
      complexity,
      promptTokens,
      ranked,
      decision,
      autoRouted,
      enhanced,
      messages,
    };
  }

  private attemptOrder(plan: Plan): RoutableModel[] {
    return plan.ranked.slice(0, this.o.maxAttempts);
  }

  private call(model: RoutableModel, input: ChatInput, messages: ValidMessage[]) {
    return {
      model: model.providerModel,
      messages,
      maxTokens: input.maxTokens === undefined ? undefined : Math.min(input.maxTokens, model.maxOutputTokens),
      temperature: input.temperature,
      topP: input.topP,
      stop: input.stop,
      seed: input.seed,
      presencePenalty: input.presencePenalty,
      frequencyPenalty: input.frequencyPenalty,
      responseFormat: input.responseFormat,
      timeoutMs: this.o.callTimeoutMs,
    };
  }

  private routingInfo(plan: Plan, input: ChatInput, model: RoutableModel, attempts: AttemptInfo[]): RoutingInfo {
    return {
      queryType: plan.queryType,
      complexity: plan.complexity,
      model: model.id,
      provider: model.provider,
      autoRouted: plan.autoRouted,
      stage: plan.decision?.stage,
      personalWeight: plan.decision?.personalWeight ?? 0,
      changedByPersonal: plan.decision?.changedByPersonal ?? false,
      preference: input.preference,
      promptEnhanced: plan.enhanced,
      decision: plan.decision,
      attempts,
      simulated: model.simulated,
    };
  }

  /**
   * A failed attempt: reported, and counted against the provider's breaker and the model's reliability unless
   * the request itself was at fault (a breaker is shared by every account: one client's bad request must not
   * disable a model for all).
   */
  private noteFailure(
    err: unknown,
    model: RoutableModel,
    breaker: CircuitBreaker,
    probe: boolean,
    plan: Plan,
    started: number,
    attempts: AttemptInfo[],
    failures: CellDeltaInput[],
  ): void {
    attempts.push({
      model: model.id,
      provider: model.provider,
      errorCode: codeOf(err),
      latencyMs: this.o.now() - started,
    });
    if (!countsAgainstHealth(err)) {
      if (probe) breaker.release();
      return;
    }
    breaker.onFailure();
    failures.push(this.failureDelta(plan.queryType, model.id));
  }

  private failureDelta(queryType: QueryType, model: string): CellDeltaInput {
    return { queryType, model, delta: contributionCell({ failed: true, atMs: this.o.now() }, this.o.scoring) };
  }

  private recordCompletion(
    accountId: string,
    plan: Plan,
    input: ChatInput,
    model: RoutableModel,
    result: CountedResult,
    latencyMs: number,
    failures: CellDeltaInput[],
  ): void {
    const { promptTokens, completionTokens } = result.usage;
    const signals = qualitySignals({
      queryType: plan.queryType,
      responseText: result.text,
      finishReason: result.finishReason,
      promptTokens,
      completionTokens,
      json: input.responseFormat !== undefined,
    });
    const costUsd = catalogCostUsd(model, promptTokens, completionTokens);
    const success: CellDeltaInput = {
      queryType: plan.queryType,
      model: model.id,
      delta: requestCell({ heuristicQuality: signals.score, latencyMs, costUsd, atMs: plan.createdMs }, this.o.scoring),
    };
    const cellDeltas = [...failures, success];
    this.record({
      entry: this.entry(
        accountId,
        plan,
        input,
        model,
        'completion',
        signals.score,
        signals.features,
        latencyMs,
        promptTokens,
        completionTokens,
        costUsd,
      ),
      cellDeltas: cellDeltas.map((d) => ({ accountId, ...d })),
      counterDelta: this.counterDelta(accountId, plan, signals.score),
    });
    // Only once queued: the next decision must not learn from a record the store refused.
    this.o.cache.applyLocal(accountId, cellDeltas);
  }

  private entry(
    accountId: string,
    plan: Plan,
    input: ChatInput,
    model: RoutableModel,
    kind: RequestEntry['kind'],
    heuristicQuality: number | null,
    signals: Record<string, number>,
    latencyMs: number,
    promptTokens: number,
    completionTokens: number,
    costUsd: number,
  ): RequestEntry {
    return {
      id: plan.requestId,
      accountId,
      createdAt: new Date(plan.createdMs),
      kind,
      queryType: plan.queryType,
      complexity: plan.complexity,
      model: model.id,
      provider: model.provider,
      stage: plan.decision?.stage ?? 'cold_start',
      personalWeight: plan.decision?.personalWeight ?? 0,
      changedByPersonal: plan.decision?.changedByPersonal ?? false,
      autoRouted: plan.autoRouted,
      enhanced: plan.enhanced,
      preference: input.preference,
      status: 'ok',
      heuristicQuality,
      signals,
      latencyMs,
      promptTokens,
      completionTokens,
      costUsd,
      messageHmac: messageHmac(this.o.hmacSecret, input.messages),
    };
  }

  private counterDelta(accountId: string, plan: Plan, quality: number | undefined) {
    const stage = plan.decision?.stage;
    const q = quality ?? 0;
    const measured = quality !== undefined && plan.autoRouted;
    return {
      accountId,
      queryType: plan.queryType,
      requests: 1,
      autoRouted: plan.autoRouted ? 1 : 0,
      changedByPersonal: plan.decision?.changedByPersonal ? 1 : 0,
      coldStart: stage === 'cold_start' ? 1 : 0,
      warmUp: stage === 'warm_up' ? 1 : 0,
      established: stage === 'established' ? 1 : 0,
      ...(measured && plan.enhanced ? { enhancedN: 1, enhancedQ: q, enhancedQ2: q * q } : {}),
      ...(measured && !plan.enhanced ? { plainN: 1, plainQ: q, plainQ2: q * q } : {}),
    };
  }

  /** Queues the record; a refusal is logged and fails the request, since an answer's id must be in the store. */
  private record(write: EntryWrite): void {
    let committed: Promise<void>;
    try {
      committed = this.o.record(write);
    } catch (err) {
      this.o.onRecordError(err);
      throw recordRefused(err);
    }
    committed.catch(this.o.onRecordError);
  }
}

/** What a request needs of a model beyond chat: JSON output when it asks for it. */
function requiredCapabilities(input: ChatInput): string[] {
  const format = input.responseFormat;
  if (format === undefined) return [];
  return format.type === 'json_schema' ? [JSON_CAPABILITY, JSON_SCHEMA_CAPABILITY] : [JSON_CAPABILITY];
}

/** Token counts of an answer whose upstream reported none, estimated as for the decision. */
function estimatedUsage(plan: Plan, text: string): Usage {
  return { promptTokens: plan.promptTokens, completionTokens: estimateTokens(text) };
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' ? code : 'INTERNAL';
}

/**
 * Whether to call the model now. A named model skips the decision, and the decision's view of the breakers
 * may be stale by the time a fallback is tried: the breaker itself lets a call through when closed, and only
 * one probe at a time once its cool-down has passed.
 */
function admitted(breaker: CircuitBreaker, model: RoutableModel, disabled: string[]): 'call' | 'probe' | undefined {
  const admission = breaker.acquire();
  if (admission === undefined) disabled.push(model.id);
  return admission;
}

function allFailed(attempts: AttemptInfo[], disabled: readonly string[]): DomainError {
  if (attempts.length === 0)
    return new DomainError(
      'UNAVAILABLE',
      disabled.length > 0
        ? `no model could be tried: ${disabled.join(', ')} ${disabled.length === 1 ? 'is' : 'are'} temporarily disabled after failures; retry shortly or choose another model`
        : 'no model could be tried: every eligible provider is temporarily disabled after failures; retry shortly',
    );
  // The upstream's own message is not passed on: it can echo the prompt, and it names provider internals.
  if (attempts.every((a) => a.errorCode === 'INVALID_ARGUMENT'))
    return invalidArgument(
      `every model tried refused the request as invalid: ${attempts.map((a) => a.model).join(', ')}; ` +
        'check max_tokens, temperature, top_p, stop, response_format and the messages (roles, length) against what the model accepts, or choose another model',
    );
  const list = attempts.map((a) => `${a.model} (${a.errorCode})`).join(', ');
  const allRateLimited = attempts.every((a) => a.errorCode === 'RESOURCE_EXHAUSTED');
  return new DomainError(
    allRateLimited ? 'RESOURCE_EXHAUSTED' : 'UNAVAILABLE',
    `every candidate failed after ${attempts.length} attempt(s): ${list}; retry later or allow other models`,
  );
}

/** The error a client gets when the model answered but its record could not be queued. */
function recordRefused(err: unknown): DomainError {
  const reason = err instanceof StoreError ? err.reason : undefined;
  if (reason === 'QUEUE_FULL')
    return new DomainError(
      'RESOURCE_EXHAUSTED',
      'the request could not be recorded: the database is not keeping up with the load; retry later',
      { cause: err },
    );
  if (reason === 'STORE_CLOSED')
    return new DomainError('UNAVAILABLE', 'this router is shutting down and records no more requests; retry', {
      cause: err,
    });
  // Any other refusal (an invalid or duplicate write) is a fault of the router, not of the request.
  return new DomainError('INTERNAL', 'the request could not be recorded because of an internal error; retry', {
    cause: err,
  });
}

function cancelled(): DomainError {
  return new DomainError('CANCELLED', 'the call was cancelled by the client');
}

function noEligibleModel(err: NoEligibleModelError, input: ChatInput): DomainError {
  // Models left out only because their upstream is failing: the request is fine, the outage is not (retry).
  const unhealthy = err.rejections.filter((r) => r.reason === 'unhealthy').map((r) => r.model);
  if (unhealthy.length > 0)
    return new DomainError(
      'UNAVAILABLE',
      `no model can be tried now: ${unhealthy.join(', ')} ${unhealthy.length === 1 ? 'is' : 'are'} temporarily disabled after failures; retry shortly`,
      { cause: err },
    );
  const contextOnly = err.rejections.length > 0 && err.rejections.every((r) => r.reason === 'context_window');
  if (contextOnly)
    return invalidArgument(
      `messages: the prompt exceeds the context window of every candidate model; shorten the conversation`,
    );
  const hint =
    input.maxCostUsd !== undefined
      ? ' (raise routing.max_cost_usd?)'
      : input.allowedModels
        ? ' (widen routing.allowed_models?)'
        : input.responseFormat
          ? ` (response_format ${input.responseFormat.type} needs a model with the "${requiredCapabilities(input).join('" and "')}" capabilities)`
          : '';
  return failedPrecondition(`no model satisfies the constraints${hint}: ${err.message}`);
}

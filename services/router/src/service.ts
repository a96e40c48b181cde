import { routerV1 } from '@routeplex/contracts';
import { bindService, type BindOptions } from '@routeplex/platform';
import { complexityToProto, preferenceToProto, queryTypeToProto, stageToProto } from '@routeplex/learning';
import type { RoutableModel, Router, RouterCatalog, RoutingInfo } from './router.js';
import { AUTO_MODEL, validateChatRequest, validateSelectRequest } from './validation.js';
import { invalidArgument, notFound } from '@routeplex/platform';
import { JSON_CAPABILITY, JSON_SCHEMA_CAPABILITY, type FinishReason } from '@routeplex/providers';

const seconds = (ms: number) => String(Math.floor(ms / 1000));

/**
 * The finish reasons OpenAI's clients know (strictly typed ones refuse others): an upstream's other reasons
 * (Anthropic's pause_turn, Gemini's OTHER, a stream that ended without one) read as a stop. The recorded
 * entry keeps `other`.
 */
function openAiFinishReason(reason: FinishReason): string {
  return reason === 'other' ? 'stop' : reason;
}

export function routingToProto(r: RoutingInfo): routerV1.Routing {
  const excluded = r.decision?.rejected ?? [];
  return {
    queryType: queryTypeToProto(r.queryType),
    complexity: complexityToProto(r.complexity),
    model: r.model,
    provider: r.provider,
    autoRouted: r.autoRouted,
    stage: r.stage ? stageToProto(r.stage) : 0,
    personalWeight: r.personalWeight,
    changedByPersonal: r.changedByPersonal,
    preference: preferenceToProto(r.preference),
    promptEnhanced: r.promptEnhanced,
    candidates: [
      ...(r.decision?.candidates ?? []).map((c) => ({
        model: c.model,
        provider: c.provider,
        estimatedQuality: c.estimatedQuality,
        estimatedCostUsd: c.estimatedCostUsd,
        estimatedLatencyMs: c.estimatedLatencyMs,
        utility: c.utility,
        sampledUtility: c.sampledUtility,
        excludedReason: '',
      })),
      ...excluded.map((x) => ({
        model: x.model,
        provider: '',
        estimatedQuality: 0,
        estimatedCostUsd: 0,
        estimatedLatencyMs: 0,
        utility: 0,
        sampledUtility: 0,
        excludedReason: `${x.reason}: ${x.detail}`,
      })),
    ],
    attempts: r.attempts.map((a) => ({ ...a })),
    simulated: r.simulated,
  };
}

/** Binds the RouterService rpcs to the routing core. */
export function routerServiceImplementation(
  router: Router,
  catalog: RouterCatalog,
  options: BindOptions & { startedMs: number },
) {
  const created = seconds(options.startedMs);
  /** routeplex-ai as ListModels and GetModel describe it: what routing over the enabled models can serve. */
  const autoModel = (): routerV1.Model => ({
    id: AUTO_MODEL,
    object: 'model',
    created,
    ownedBy: 'routeplex',
    provider: 'routeplex',
    simulated: false,
    pricing: undefined,
    contextWindow: Math.max(0, ...catalog.models().map((m) => m.contextWindow)),
    // JSON output when some model can give it.
    capabilities: [
      'chat',
      'streaming',
      'auto_routing',
      ...[JSON_CAPABILITY, JSON_SCHEMA_CAPABILITY].filter((c) =>
        catalog.models().some((m) => m.capabilities?.includes(c)),
      ),
    ],
  });
  /** An enabled catalog model as ListModels and GetModel describe it. */
  const modelOf = (m: RoutableModel): routerV1.Model => ({
    id: m.id,
    object: 'model',
    created,
    ownedBy: m.provider,
    provider: m.provider,
    simulated: m.simulated,
    pricing: { inputPerMtok: m.inputPerMTok, outputPerMtok: m.outputPerMTok },
    contextWindow: m.contextWindow,
    capabilities: [...(m.capabilities ?? [])],
  });
  return bindService(
    routerV1.RouterServiceService,
    {
      async createChatCompletion(req, ctx) {
        if (req.stream)
          throw invalidArgument(
            'stream: CreateChatCompletion answers in one message; call StreamChatCompletion for a streamed answer',
          );
        const input = validateChatRequest(req);
        const c = await router.complete(ctx.principal.accountId, input, ctx.signal);
        const usage = c.result.usage;
        return {
          id: c.requestId,
          object: 'chat.completion',
          created: seconds(c.createdMs),
          model: c.routing.model,
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: c.result.text, name: '' },
              finishReason: openAiFinishReason(c.result.finishReason),
            },
          ],
          usage: {
            promptTokens: usage.promptTokens,
            completionTokens: usage.completionTokens,
            totalTokens: usage.promptTokens + usage.completionTokens,
          },
          routing: routingToProto(c.routing),
        };
      },

      async streamChatCompletion(req, ctx, send) {
        const input = validateChatRequest(req);
        let model = '';
        await router.stream(ctx.principal.accountId, input, ctx.signal, async (event) => {
          const base = { id: event.requestId, object: 'chat.completion.chunk', created: seconds(event.createdMs) };
          if (event.routing) {
            model = event.routing.model;
            await send({
              ...base,
              model,
              choices: [{ index: 0, delta: { role: 'assistant', content: '' } }],
              routing: routingToProto(event.routing),
            });
            return;
          }
          const chunk = event.chunk!;
          if (!chunk.deltaText && !chunk.finishReason) return;
          await send({
            ...base,
            model,
            choices: [
              {
                index: 0,
                delta: { content: chunk.deltaText ?? '' },
                finishReason: chunk.finishReason ? openAiFinishReason(chunk.finishReason) : undefined,
              },
            ],
            usage: chunk.usage
              ? {
                  promptTokens: chunk.usage.promptTokens,
                  completionTokens: chunk.usage.completionTokens,
                  totalTokens: chunk.usage.promptTokens + chunk.usage.completionTokens,
                }
              : undefined,
          });
        });
      },

      async selectModel(req, ctx) {
        const { requestId, routing } = await router.select(ctx.principal.accountId, validateSelectRequest(req));
        return { id: requestId, routing: routingToProto(routing) };
      },

      async listModels() {
        return { object: 'list', data: [autoModel(), ...catalog.models().map(modelOf)] };
      },

      async getModel(req) {
        if (!req.model) throw invalidArgument('model: required; send a model id from GET /api/v1/models');
        if (req.model === AUTO_MODEL) return { model: autoModel() };
        const model = catalog.get(req.model);
        if (!model)
          throw notFound(
            `model: no enabled model "${req.model.slice(0, 128)}"; GET /api/v1/models lists the ids to use`,
          );
        return { model: modelOf(model) };
      },
    },
    options,
  );
}

import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnthropicProvider } from '../src/anthropic.js';
import type { Catalog } from '../src/catalog.js';
import { PROVIDER_NAME_SHAPE, loadCatalog } from '../src/catalog.js';
import { CatalogError, ProviderError } from '../src/errors.js';
import { GeminiProvider } from '../src/gemini.js';
import { OpenAICompatibleProvider } from '../src/openai.js';
import { QUERY_TYPES } from '../src/query-types.js';
import { SimulatorProvider } from '../src/simulator.js';
import { sendJson, startServer } from './support/http-server.js';

function entry(overrides: Record<string, unknown> = {}) {
  return {
    id: 'sim-a',
    provider: 'simulator',
    pricing: { inputPerMTok: 1, outputPerMTok: 2 },
    contextWindow: 8192,
    maxOutputTokens: 1024,
    capabilities: ['chat'],
    priorQuality: { conversation: 0.5 },
    typicalLatencyMs: 500,
    simulated: { quality: { conversation: 0.7 }, ttftMs: 100, outputTokensPerSecond: 50 },
    ...overrides,
  };
}

function catalogErrorOf(fn: () => unknown): CatalogError {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(CatalogError);
    return error as CatalogError;
  }
  throw new Error('expected a CatalogError');
}

describe('loadCatalog', () => {
  const catalogs: Catalog[] = [];
  afterEach(async () => {
    await Promise.all(catalogs.splice(0).map((c) => c.close()));
  });
  const load = (options: Parameters<typeof loadCatalog>[0]) => {
    const catalog = loadCatalog(options);
    catalogs.push(catalog);
    return catalog;
  };

  describe('the shipped default', () => {
    it('enables only the simulator models when no API key is set', () => {
      const catalog = load({ env: {} });
      const enabled = catalog.models();
      expect(enabled.length).to.be.at.least(5);
      expect(enabled.every((m) => m.simulated && m.protocol === 'simulator' && m.provider === 'simulator')).to.equal(
        true,
      );
      expect(enabled.map((m) => m.id)).to.include.members([
        'sim-swift',
        'sim-coder',
        'sim-scholar',
        'sim-muse',
        'sim-atlas',
      ]);
      const gpt = catalog.lookup('gpt-4o-mini');
      expect(gpt).to.include({ enabled: false, disabledReason: 'set OPENAI_API_KEY to enable it' });
      expect(catalog.get('gpt-4o-mini')).to.equal(undefined);
    });

    it('gives every simulator model a prior and a simulated quality for every query type', () => {
      for (const model of load({ env: {} }).models()) {
        expect(Object.keys(model.priorQuality).sort(), model.id).to.deep.equal([...QUERY_TYPES].sort());
        expect(Object.keys(model.simulation?.quality ?? {}).sort(), model.id).to.deep.equal([...QUERY_TYPES].sort());
      }
    });

    it('switches on real models whose key variable is set, sharing one provider per upstream', () => {
      const catalog = load({
        env: { OPENAI_API_KEY: 'sk-x', ANTHROPIC_API_KEY: 'ak-x', GEMINI_API_KEY: 'g-x', GROQ_API_KEY: ' ' },
      });
      expect(catalog.provider('gpt-4o-mini')).to.be.instanceOf(OpenAICompatibleProvider);
      expect(catalog.provider('gpt-4o-mini')).to.equal(catalog.provider('gpt-4o'));
      expect(catalog.provider('claude-sonnet-4')).to.be.instanceOf(AnthropicProvider);
      expect(catalog.provider('gemini-2.0-flash')).to.be.instanceOf(GeminiProvider);
      expect(catalog.provider('sim-swift')).to.be.instanceOf(SimulatorProvider);
      expect(catalog.provider('sim-swift')).to.equal(catalog.provider('sim-atlas'));
      expect(catalog.get('claude-sonnet-4')).to.include({
        providerModel: 'claude-sonnet-4-20250514',
        provider: 'anthropic',
      });
      expect(catalog.get('llama-3.3-70b-groq'), 'a blank key does not count').to.equal(undefined);
    });

    it('exposes flat prices for cost estimates', () => {
      const model = load({ env: {} }).get('sim-atlas')!;
      expect(model.inputPerMTok).to.equal(model.pricing.inputPerMTok);
      expect(model.outputPerMTok).to.equal(model.pricing.outputPerMTok);
    });
  });

  it('answers through the shared simulator provider with the simulated latency scaled away', async () => {
    const catalog = load({ env: {}, latencyScale: 0 });
    const model = catalog.get('sim-coder')!;
    const result = await catalog.provider(model.id).complete({
      model: model.providerModel,
      messages: [{ role: 'user', content: 'Implement quicksort in javascript' }],
    });
    expect(result.text).to.match(/^\[simulated sim-coder\]/);
  });

  it('routes a real entry to its base URL with the key from the env map (base URL from baseUrlEnv)', async () => {
    const server = await startServer((_req, res) =>
      sendJson(res, 200, {
        model: 'gpt-4o-mini',
        choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'hi' } }],
        usage: { prompt_tokens: 1, completion_tokens: 1 },
      }),
    );
    try {
      const catalog = load({ env: { OPENAI_API_KEY: 'sk-from-env', OPENAI_BASE_URL: `${server.url}/v1` } });
      const model = catalog.get('gpt-4o-mini')!;
      expect(model.provider).to.equal('openai');
      const result = await catalog
        .provider(model.id)
        .complete({ model: model.providerModel, messages: [{ role: 'user', content: 'x' }] });
      expect(result.text).to.equal('hi');
      expect(server.requests[0]?.headers.authorization).to.equal('Bearer sk-from-env');
    } finally {
      await server.close();
    }
  });

  it("sends the output limit in each OpenAI entry's maxTokensField, and refuses the field for other protocols", async () => {
    const server = await startServer((_req, res) =>
      sendJson(res, 200, {
        model: 'm',
        choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'hi' } }],
        usage: { prompt_tokens: 1, completion_tokens: 1 },
      }),
    );
    try {
      const openai = (id: string, field?: string) =>
        entry({ id, provider: 'openai', baseUrl: `${server.url}/v1`, simulated: undefined, maxTokensField: field });
      const catalog = load({
        env: {},
        json: {
          models: [openai('reasoner', 'max_completion_tokens'), openai('classic'), openai('legacy', 'max_tokens')],
        },
      });
      for (const id of ['reasoner', 'classic', 'legacy'])
        await catalog.provider(id).complete({ model: id, maxTokens: 77, messages: [{ role: 'user', content: 'x' }] });
      const limits = server.requests.map((r) => {
        const body = r.body as Record<string, unknown>;
        return [body.model, body.max_completion_tokens, body.max_tokens];
      });
      expect(limits).to.deep.equal([
        ['reasoner', 77, undefined],
        ['classic', undefined, 77],
        ['legacy', undefined, 77],
      ]);
    } finally {
      await server.close();
    }
    const error = catalogErrorOf(() =>
      loadCatalog({
        env: {},
        json: { models: [entry({ provider: 'anthropic', simulated: undefined, maxTokensField: 'max_tokens' })] },
      }),
    );
    expect(error.message).to.include('field "maxTokensField": is only for provider "openai", not "anthropic"');
  });

  it('names the upstream of a base URL with a port in characters the store records', () => {
    const local = (id: string, baseUrl: string) =>
      entry({ id, provider: 'openai', baseUrl, apiKeyEnv: 'LOCAL_KEY', simulated: undefined });
    const catalog = load({
      env: { LOCAL_KEY: 'x' },
      json: {
        models: [
          local('ollama-a', 'http://127.0.0.1:11434/v1'),
          local('vllm-b', 'http://127.0.0.1:8000/v1'),
          local('ipv6-c', 'http://[::1]:8080/v1'),
        ],
      },
    });
    const names = ['ollama-a', 'vllm-b', 'ipv6-c'].map((id) => catalog.get(id)!.provider);
    expect(names).to.deep.equal(['127.0.0.1-11434', '127.0.0.1-8000', '1-8080']);
    for (const name of names) expect(name).to.match(PROVIDER_NAME_SHAPE);

    const error = catalogErrorOf(() =>
      loadCatalog({ env: {}, json: { models: [entry({ providerName: 'my groq' })] } }),
    );
    expect(error.message).to.include('field "providerName": must be 1-64 letters, digits or ._-');
  });

  it('reads a catalog file from a path, and JSON text', () => {
    const dir = mkdtempSync(join(tmpdir(), 'catalog-'));
    const path = join(dir, 'catalog.json');
    writeFileSync(path, JSON.stringify({ models: [entry()] }));
    expect(
      load({ path, env: {} })
        .models()
        .map((m) => m.id),
    ).to.deep.equal(['sim-a']);
    expect(load({ json: JSON.stringify({ models: [entry({ id: 'sim-b' })] }), env: {} }).get('sim-b')?.id).to.equal(
      'sim-b',
    );
  });

  it('reports NOT_FOUND for an unknown model and FAILED_PRECONDITION for a disabled one', () => {
    const catalog = load({
      json: { models: [entry(), entry({ id: 'off', enabled: false, simulated: undefined, provider: 'openai' })] },
      env: {},
    });
    const unknown = (() => {
      try {
        catalog.provider('nope');
      } catch (error) {
        return error as ProviderError;
      }
    })();
    expect(unknown).to.include({ code: 'NOT_FOUND' });
    expect(unknown?.message).to.include('sim-a');
    expect(() => catalog.provider('off')).to.throw(ProviderError, /disabled/);
  });

  describe('a bad catalog', () => {
    it('names the entry by index and id and the field, listing every problem', () => {
      const error = catalogErrorOf(() =>
        loadCatalog({
          env: {},
          json: {
            models: [
              entry(),
              entry({ id: 'bad-one', pricing: { inputPerMTok: -1, outputPerMTok: 2 }, provider: 'opneai' }),
              entry({ id: 'bad-two', priorQuality: { conversation: 1.5, poetry: 0.3 }, contextWindow: 100 }),
              entry({ id: 'sim-a' }),
              { provider: 'simulator' },
            ],
          },
        }),
      );
      const problems = error.problems.map((p) => `${p.index}/${p.id ?? ''}/${p.field}`);
      expect(problems).to.include.members([
        '1/bad-one/pricing.inputPerMTok',
        '1/bad-one/provider',
        '2/bad-two/priorQuality.conversation',
        '2/bad-two/priorQuality.poetry',
        '2/bad-two/maxOutputTokens',
        '3/sim-a/id',
        '4//id',
        '4//pricing',
      ]);
      expect(error.code).to.equal('FAILED_PRECONDITION');
      expect(error.message).to.include('entry 1 (id "bad-one"), field "pricing.inputPerMTok"');
      expect(error.message).to.include(
        'entry 1 (id "bad-one"), field "provider": must be one of: "openai", "anthropic"',
      );
      expect(error.message).to.include('field "priorQuality.poetry": is not a known query type');
      expect(error.message).to.include('entry 3 (id "sim-a"), field "id": duplicates the id of entry 0');
      expect(error.message).to.include('entry 4, field "id": is required');
    });

    it('rejects misspelt fields, a simulator without profile and a profile on a real provider', () => {
      const error = catalogErrorOf(() =>
        loadCatalog({
          env: {},
          json: {
            models: [
              entry({ pricng: 1 }),
              entry({ id: 'no-profile', simulated: undefined }),
              entry({ id: 'real', provider: 'anthropic', apiKeyEnv: 'lower-case-bad' }),
            ],
          },
        }),
      );
      const problems = error.problems.map((p) => `${p.index}/${p.field}`);
      expect(problems).to.have.members(['0/pricng', '1/simulated', '2/simulated', '2/apiKeyEnv']);
    });

    it('reports a file that is missing or not JSON, and a catalog without models', () => {
      expect(catalogErrorOf(() => loadCatalog({ path: '/nonexistent/catalog.json', env: {} })).message).to.include(
        'cannot be read (ENOENT)',
      );
      expect(catalogErrorOf(() => loadCatalog({ json: '{ not json', env: {} })).message).to.include(
        'is not valid JSON',
      );
      expect(catalogErrorOf(() => loadCatalog({ json: { models: [] }, env: {} })).message).to.include(
        'catalog field "models": must list at least one model',
      );
    });
  });
});

import { expect } from 'chai';
import { contractsImageUrl } from '@routeplex/contracts';
import { loadContracts } from '../src/descriptors.js';
import { buildOpenApi } from '../src/openapi.js';
import { RouteTable } from '../src/route-table.js';

type Doc = any;

describe('OpenAPI document from the contracts', () => {
  let doc: Doc;
  let contracts: Awaited<ReturnType<typeof loadContracts>>;

  before(async () => {
    contracts = await loadContracts(contractsImageUrl);
    doc = JSON.parse(JSON.stringify(buildOpenApi(contracts, new RouteTable(contracts))));
  });

  it('has one operation for every annotated rpc (the streaming twin shares its unary binding)', () => {
    const annotated = contracts.methods.filter((m) => m.rule).map((m) => `${m.method.parent.name}_${m.method.name}`);
    expect(annotated).to.have.length(11);
    const operations = Object.values(doc.paths).flatMap((p) =>
      Object.values(p as Record<string, { operationId: string }>),
    );
    const ids = operations.map((o) => o.operationId);
    expect(ids).to.have.members(annotated.filter((id) => id !== 'RouterService_StreamChatCompletion'));
    const chat = doc.paths['/api/v1/chat/completions'].post;
    expect(chat.responses['200'].content).to.have.keys('application/json', 'text/event-stream');
    expect(chat.responses['200'].content['text/event-stream']['x-event-schema']).to.deep.equal({
      $ref: '#/components/schemas/routeplex.router.v1.StreamChatCompletionResponse',
    });
    expect(chat.description).to.contain('StreamChatCompletion');
  });

  it('uses the http methods of the annotations', () => {
    const methods = Object.fromEntries(Object.entries(doc.paths).map(([p, ops]) => [p, Object.keys(ops as object)]));
    expect(methods).to.deep.equal({
      '/api/v1/chat/completions': ['post'],
      '/api/v1/route': ['post'],
      '/api/v1/models': ['get'],
      '/api/v1/models/{model}': ['get'],
      '/api/v1/insights/feedback': ['post'],
      '/api/v1/insights/learning': ['get'],
      '/api/v1/insights/models': ['get'],
      '/api/v1/insights/recommendations': ['get'],
      '/api/v1/insights/requests': ['get'],
      '/api/v1/insights/data': ['delete'],
    });
  });

  it('takes descriptions from the proto comments', () => {
    expect(doc.paths['/api/v1/insights/feedback'].post.summary).to.equal(
      'Rates one request of the calling account. The rating is committed before the call returns.',
    );
    const feedback = doc.components.schemas['routeplex.feedback.v1.SubmitFeedbackRequest'];
    expect(feedback.description).to.equal('SubmitFeedbackRequest rates one answer.');
    expect(feedback.properties.score.description).to.contain('Rating from 1 (bad) to 5 (excellent)');
  });

  it('describes request bodies and responses with proto field names and marks REQUIRED fields', () => {
    const chat = doc.paths['/api/v1/chat/completions'].post;
    expect(chat.requestBody.content['application/json'].schema).to.deep.equal({
      $ref: '#/components/schemas/routeplex.router.v1.CreateChatCompletionRequest',
    });
    const request = doc.components.schemas['routeplex.router.v1.CreateChatCompletionRequest'];
    expect(request.required).to.deep.equal(['model', 'messages']);
    expect(request.properties.max_tokens).to.include({ type: 'integer', format: 'int32' });
    expect(request.properties.messages).to.deep.include({
      type: 'array',
      items: { $ref: '#/components/schemas/routeplex.router.v1.ChatMessage' },
    });
    expect(
      doc.components.schemas['routeplex.router.v1.CreateChatCompletionResponse'].properties.created.type,
    ).to.deep.equal(['integer', 'string']);
    expect(doc.components.schemas['routeplex.type.v1.QueryType'].enum).to.include('QUERY_TYPE_MATH');
    expect(chat.responses.default.content['application/json'].schema).to.deep.equal({
      $ref: '#/components/schemas/google.rpc.Status',
    });
  });

  it('lists query parameters for fields bound by neither path nor body', () => {
    const stats = doc.paths['/api/v1/insights/models'].get.parameters;
    expect(stats.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).to.deep.equal([
      'query:query_type',
      'query:time_window',
    ]);
    expect(stats[1].schema).to.include({ type: 'string' });
    const requests = doc.paths['/api/v1/insights/requests'].get.parameters;
    expect(requests.map((p: { name: string }) => p.name)).to.deep.equal(['page_size', 'page_token']);
    expect(doc.paths['/api/v1/chat/completions'].post.parameters).to.deep.equal([]);
  });

  it('resolves every $ref to a component schema', () => {
    const refs = JSON.stringify(doc).match(/#\/components\/schemas\/[A-Za-z0-9._]+/g) ?? [];
    expect(refs.length).to.be.greaterThan(20);
    for (const ref of new Set(refs))
      expect(doc.components.schemas, ref).to.have.property(ref.slice('#/components/schemas/'.length));
  });
});

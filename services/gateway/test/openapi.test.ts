import { expect } from 'chai';
import type { DescMessage, JsonObject } from '@bufbuild/protobuf';
import { contractsImageUrl } from '@routeplex/contracts';
import { loadContracts } from '../src/descriptors.js';
import { buildOpenApi } from '../src/openapi.js';
import { RouteTable } from '../src/route-table.js';
import { encodeRequest } from '../src/transcode.js';

type Doc = any;

describe('OpenAPI document from the contracts', () => {
  let doc: Doc;
  let contracts: Awaited<ReturnType<typeof loadContracts>>;
  let table: RouteTable;

  before(async () => {
    contracts = await loadContracts(contractsImageUrl);
    table = new RouteTable(contracts);
    doc = JSON.parse(JSON.stringify(buildOpenApi(contracts, table)));
  });

  /** Whether a value of `schema` may be JSON null, following $ref and anyOf. */
  const admitsNull = (schema: Doc): boolean => {
    if (schema.$ref) return admitsNull(doc.components.schemas[schema.$ref.slice('#/components/schemas/'.length)]);
    if (schema.anyOf) return schema.anyOf.some(admitsNull);
    if (schema.type === undefined) return schema.enum === undefined;
    return [schema.type].flat().includes('null');
  };

  it('has one operation for every annotated rpc (the streaming twin shares its unary binding)', () => {
    const annotated = contracts.methods.filter((m) => m.rule).map((m) => `${m.method.parent.name}_${m.method.name}`);
    expect(annotated).to.have.length(11);
    const operations = Object.values(doc.paths).flatMap((p) =>
      Object.entries(p as Record<string, { operationId: string }>)
        .filter(([method]) => method !== 'head')
        .map(([, operation]) => operation),
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
      '/api/v1/models': ['get', 'head'],
      '/api/v1/models/{model}': ['get', 'head'],
      '/api/v1/insights/feedback': ['post'],
      '/api/v1/insights/learning': ['get', 'head'],
      '/api/v1/insights/models': ['get', 'head'],
      '/api/v1/insights/recommendations': ['get', 'head'],
      '/api/v1/insights/requests': ['get', 'head'],
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
    expect(request.properties.max_tokens).to.deep.include({ type: ['integer', 'null'], format: 'int32' });
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

  it('requires a request body wherever an empty one leaves a REQUIRED field unset', () => {
    for (const [path, rpc] of [
      ['/api/v1/insights/feedback', 'SubmitFeedback'],
      ['/api/v1/chat/completions', 'CreateChatCompletion'],
      ['/api/v1/route', 'SelectModel'],
    ] as const) {
      const binding = table.bindings.find((b) => b.method.name === rpc)!;
      expect(binding.body, rpc).to.equal('*');
      expect(
        binding.input.fields.some((f) => contracts.isRequired(f)),
        rpc,
      ).to.equal(true);
      expect(doc.paths[path].post.requestBody.required, path).to.equal(true);
    }
    const withBody = table.bindings.filter((b) => b.body !== '');
    expect(withBody).to.have.length.greaterThan(0);
    for (const b of withBody) {
      const expected = b.bodyField
        ? contracts.isRequired(b.bodyField)
        : b.input.fields.some(
            (f) => contracts.isRequired(f) && !b.pathFields.some((c) => c.length === 1 && c[0] === f),
          );
      const operation = doc.paths[b.template.openApiPath][b.httpMethod.toLowerCase()];
      expect(operation.requestBody.required, b.template.source).to.equal(expected);
    }
  });

  it('allows null exactly for the request fields the facade reads null as absent for: those not REQUIRED', () => {
    const request = doc.components.schemas['routeplex.router.v1.CreateChatCompletionRequest'];
    expect(doc.components.schemas['routeplex.router.v1.ChatMessage'].properties.refusal.type).to.deep.equal([
      'string',
      'null',
    ]);
    expect(request.properties.max_tokens.type).to.deep.equal(['integer', 'null']);
    expect(request.properties.seed.type).to.deep.equal(['integer', 'string', 'null']);
    expect(request.properties.routing.anyOf).to.deep.equal([
      { $ref: '#/components/schemas/routeplex.router.v1.RoutingOptions' },
      { type: 'null' },
    ]);
    expect(admitsNull(request.properties.model)).to.equal(false);
    expect(admitsNull(request.properties.messages)).to.equal(false);
    expect(admitsNull(request.properties.messages.items), 'a null list item is refused').to.equal(false);
    expect(admitsNull(request.properties.stop), 'google.protobuf.Value holds null itself').to.equal(true);
    expect(
      doc.components.schemas['routeplex.router.v1.JsonSchemaFormat'].properties.schema.type,
      'google.protobuf.Struct',
    ).to.deep.equal(['object', 'null']);

    // Every field of every message a body carries, checked against the transcoder itself.
    let checked = 0;
    for (const binding of table.bindings.filter((b) => b.body === '*' && !b.serverStreaming)) {
      const encode = (body: JsonObject) => Buffer.from(encodeRequest(binding, [], '', body)).toString('hex');
      const seen = new Set<DescMessage>();
      const walk = (message: DescMessage, wrap: (inner: JsonObject) => JsonObject) => {
        if (seen.has(message)) return;
        seen.add(message);
        const schema = doc.components.schemas[message.typeName];
        for (const field of message.fields) {
          const where = `${message.typeName}.${field.name}`;
          const withNull = encode(wrap({ [field.name]: null }));
          if (field.message?.typeName !== 'google.protobuf.Value')
            expect(withNull, `${where}: null is read as absent`).to.equal(encode(wrap({})));
          expect(admitsNull(schema.properties[field.name]), where).to.equal(!contracts.isRequired(field));
          checked++;
          const child = field.message;
          if (!child || child.typeName.startsWith('google.protobuf.')) continue;
          walk(child, (inner) => wrap({ [field.name]: field.fieldKind === 'list' ? [inner] : inner }));
        }
      };
      walk(binding.input, (inner) => inner);
    }
    expect(checked).to.be.greaterThan(30);
  });

  it('keeps null out of the messages only answers carry, where the gateway omits unset fields instead', () => {
    const response = doc.components.schemas['routeplex.router.v1.CreateChatCompletionResponse'];
    expect(response.properties.created.type).to.deep.equal(['integer', 'string']);
    expect(admitsNull(response.properties.usage)).to.equal(false);
    expect(admitsNull(doc.components.schemas['routeplex.router.v1.ChunkDelta'].properties.role)).to.equal(false);
  });

  it('offers HEAD on every GET path with the parameters and answers of GET, without bodies, and no OPTIONS', () => {
    let heads = 0;
    for (const [path, operations] of Object.entries(doc.paths as Record<string, Record<string, Doc>>)) {
      expect(operations, path).to.not.have.property('options');
      const { get, head } = operations;
      if (!get) {
        expect(operations, path).to.not.have.property('head');
        continue;
      }
      heads++;
      expect(head, path).to.be.an('object');
      expect(head.parameters, path).to.deep.equal(get.parameters);
      expect(head.tags).to.deep.equal(get.tags);
      expect(head).to.not.have.property('requestBody');
      expect(Object.keys(head.responses)).to.deep.equal(Object.keys(get.responses));
      for (const [status, response] of Object.entries(head.responses as Record<string, Doc>)) {
        expect(response, `${path} ${status}`).to.not.have.property('content');
        expect(response.description).to.equal(get.responses[status].description);
      }
    }
    expect(heads).to.equal(
      new Set(table.bindings.filter((b) => b.httpMethod === 'GET').map((b) => b.template.source)).size,
    );
    expect(doc.paths['/api/v1/models/{model}'].head.parameters.map((p: { name: string }) => p.name)).to.deep.equal([
      'model',
    ]);
    const ids = Object.values(doc.paths as Record<string, Record<string, Doc>>).flatMap((ops) =>
      Object.values(ops).map((o) => o.operationId),
    );
    expect(new Set(ids).size).to.equal(ids.length);
  });

  it('resolves every $ref to a component schema', () => {
    const refs = JSON.stringify(doc).match(/#\/components\/schemas\/[A-Za-z0-9._]+/g) ?? [];
    expect(refs.length).to.be.greaterThan(20);
    for (const ref of new Set(refs))
      expect(doc.components.schemas, ref).to.have.property(ref.slice('#/components/schemas/'.length));
  });
});

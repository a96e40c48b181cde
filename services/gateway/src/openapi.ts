import { ScalarType, type DescEnum, type DescField, type DescMessage } from '@bufbuild/protobuf';
import type { Contracts } from './descriptors.js';
import type { Binding, RouteTable } from './route-table.js';

type Schema = Record<string, unknown>;

const STATUS_SCHEMA = 'google.rpc.Status';

/**
 * The OpenAPI 3.1 document of the REST surface, generated from the same image and route table the
 * gateway serves: one operation per HTTP method and path, parameters from path variables and query
 * fields, schemas from message descriptors (proto field names, as the gateway emits), descriptions from
 * the proto comments.
 *
 * What the document promises is what the facade accepts:
 * - a request body is required when an empty one would leave a REQUIRED field unset (the services refuse
 *   that with 400): for `body: "*"`, when the message has a REQUIRED field the path does not bind; for a
 *   body bound to one field, when that field is REQUIRED;
 * - JSON null is allowed for every field that is not REQUIRED of the messages a request body carries:
 *   proto3 JSON reads null as "absent" for every field kind (not for list items or map values), and null
 *   for a REQUIRED field reads as absent and is refused. Messages that only answers carry keep their types:
 *   the gateway omits unset fields there instead of sending null;
 * - every GET route also answers HEAD (the headers of GET, no body). CORS preflights (OPTIONS) are left
 *   out: browsers send them, not API clients.
 */
export function buildOpenApi(contracts: Contracts, table: RouteTable): Record<string, unknown> {
  const schemas: Record<string, Schema> = {};
  const inputTypes = requestBodyMessages(table);
  const refOf = (desc: DescMessage | DescEnum): Schema => {
    if (!(desc.typeName in schemas)) {
      schemas[desc.typeName] = {}; // placeholder first: message types may be recursive
      schemas[desc.typeName] =
        desc.kind === 'enum'
          ? enumSchema(contracts, desc)
          : messageSchema(contracts, desc, refOf, inputTypes.has(desc));
    }
    return { $ref: `#/components/schemas/${desc.typeName}` };
  };

  const paths: Record<string, Record<string, unknown>> = {};
  const groups = new Map<string, { unary?: Binding; streaming?: Binding }>();
  for (const b of table.bindings) {
    const key = `${b.template.openApiPath} ${b.httpMethod}`;
    const group = groups.get(key) ?? {};
    if (b.serverStreaming) group.streaming = b;
    else group.unary = b;
    groups.set(key, group);
  }
  const operationIds = new Set<string>();
  for (const { unary, streaming } of groups.values()) {
    const main = (unary ?? streaming)!;
    const path = main.template.openApiPath;
    const methodKey = main.httpMethod.toLowerCase();
    let operationId = `${main.method.parent.name}_${main.method.name}`;
    for (let n = 2; operationIds.has(operationId); n++)
      operationId = `${main.method.parent.name}_${main.method.name}${n}`;
    operationIds.add(operationId);
    const comment = contracts.comment(main.method) ?? '';
    const content: Record<string, unknown> = {};
    if (unary) content['application/json'] = { schema: responseSchema(unary, refOf) };
    if (streaming) {
      content['text/event-stream'] = {
        schema: {
          type: 'string',
          description: `Server-Sent Events: one \`data: <${streaming.output.typeName} as JSON>\` event per message, then \`data: [DONE]\`; an error after the first event arrives as a final \`data: {"error": {...}}\` event.`,
        },
        'x-event-schema': responseSchema(streaming, refOf),
      };
    }
    const description =
      unary && streaming
        ? `${comment}\n\nWith \`"stream": true\` in the body the answer is served by ${streaming.method.name}: ${contracts.comment(streaming.method) ?? ''}`
        : comment;
    const operation: Record<string, unknown> = {
      operationId,
      tags: [main.method.parent.name],
      summary: comment.split('\n')[0],
      description,
      parameters: [...pathParameters(contracts, main, refOf), ...queryParameters(contracts, main, refOf)],
      responses: {
        '200': { description: 'OK', content },
        default: {
          description: 'An error: a google.rpc.Status with an OpenAI-style `error` member.',
          content: { 'application/json': { schema: { $ref: `#/components/schemas/${STATUS_SCHEMA}` } } },
        },
      },
    };
    if (main.body !== '') {
      const bodySchema = main.bodyField
        ? fieldSchema(contracts, main.bodyField, refOf, !contracts.isRequired(main.bodyField))
        : refOf(main.input);
      operation.requestBody = {
        required: bodyRequired(contracts, main),
        content: { 'application/json': { schema: bodySchema } },
      };
    }
    (paths[path] ??= {})[methodKey] = operation;
    if (methodKey === 'get') paths[path]!.head = headOperation(operation, operationIds);
  }
  schemas[STATUS_SCHEMA] = {
    type: 'object',
    description: 'The error body: google.rpc.Status, plus `error` in the shape OpenAI clients read.',
    properties: {
      code: { type: 'integer', format: 'int32', description: 'The gRPC status code number (google.rpc.Code).' },
      message: { type: 'string', description: 'What went wrong and how to fix it.' },
      details: { type: 'array', items: { type: 'object' } },
      error: {
        type: 'object',
        properties: {
          message: { type: 'string' },
          type: {
            type: 'string',
            description: 'OpenAI error type, e.g. invalid_request_error, authentication_error, rate_limit_error.',
          },
          code: { type: 'string', description: 'The gRPC status code name, e.g. INVALID_ARGUMENT.' },
        },
      },
    },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'routeplex API',
      version: 'v1',
      description:
        'Generated from the google.api.http annotations of the routeplex contracts. JSON uses the proto field names; lowerCamel names are accepted on input.',
    },
    servers: [{ url: '/' }],
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      schemas,
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'A JWT or an rpx_ API key.' } },
    },
  };
}

/** The facade serves HEAD wherever it serves GET, taking the same parameters. */
function headOperation(get: Record<string, unknown>, operationIds: Set<string>): Record<string, unknown> {
  let operationId = `${get.operationId as string}_Head`;
  for (let n = 2; operationIds.has(operationId); n++) operationId = `${get.operationId as string}_Head${n}`;
  operationIds.add(operationId);
  const responses = Object.fromEntries(
    Object.entries(get.responses as Record<string, Schema>).map(([status, { content: _content, ...rest }]) => [
      status,
      rest,
    ]),
  );
  return {
    ...get,
    operationId,
    description: `The status and headers of GET, without its body.\n\n${get.description as string}`,
    responses,
  };
}

/** An empty body is an empty message, which the services refuse when it leaves a REQUIRED field unset. */
function bodyRequired(contracts: Contracts, b: Binding): boolean {
  if (b.bodyField) return contracts.isRequired(b.bodyField);
  const fromPath = new Set(b.pathFields.filter((chain) => chain.length === 1).map((chain) => chain[0]));
  return b.input.fields.some((f) => contracts.isRequired(f) && !fromPath.has(f));
}

/** The message types a request body can carry, at any depth (well-known types have schemas of their own). */
function requestBodyMessages(table: RouteTable): Set<DescMessage> {
  const out = new Set<DescMessage>();
  const walk = (m: DescMessage) => {
    if (out.has(m) || m.typeName.startsWith('google.protobuf.')) return;
    out.add(m);
    for (const f of m.fields) if (f.message) walk(f.message);
  };
  for (const b of table.bindings) {
    if (b.body === '*') walk(b.input);
    else if (b.bodyField?.message) walk(b.bodyField.message);
  }
  return out;
}

function responseSchema(b: Binding, refOf: (d: DescMessage | DescEnum) => Schema): Schema {
  if (b.responseBody === '') return refOf(b.output);
  const field = b.output.fields.find((f) => f.name === b.responseBody)!;
  return fieldSchemaNoDoc(field, refOf);
}

function pathParameters(contracts: Contracts, b: Binding, refOf: (d: DescMessage | DescEnum) => Schema): Schema[] {
  return b.pathFields.map((chain, i) => {
    const field = chain[chain.length - 1]!;
    return {
      name: b.template.variables[i]!.fieldPath.join('.'),
      in: 'path',
      required: true,
      description: contracts.comment(field),
      schema: fieldSchemaNoDoc(field, refOf),
    };
  });
}

/** Every leaf field bound by neither the path nor the body, with nested messages flattened as `a.b`. */
function queryParameters(contracts: Contracts, b: Binding, refOf: (d: DescMessage | DescEnum) => Schema): Schema[] {
  if (b.body === '*') return [];
  const bound = new Set(b.pathFields.map((chain) => chain.map((f) => f.name).join('.')));
  if (b.bodyField) bound.add(b.bodyField.name);
  const out: Schema[] = [];
  const walk = (message: DescMessage, prefix: string, seen: Set<DescMessage>) => {
    for (const field of message.fields) {
      const name = prefix + field.name;
      if (bound.has(name)) continue;
      if (field.fieldKind === 'map' || (field.fieldKind === 'list' && field.listKind === 'message')) continue;
      if (field.fieldKind === 'message' && !isStringWkt(field.message)) {
        if (!seen.has(field.message)) walk(field.message, `${name}.`, new Set([...seen, field.message]));
        continue;
      }
      const schema = fieldSchemaNoDoc(field, refOf);
      out.push({
        name,
        in: 'query',
        required: false,
        description: contracts.comment(field),
        schema,
        ...(field.fieldKind === 'list' ? { style: 'form', explode: true } : {}),
      });
    }
  };
  walk(b.input, '', new Set([b.input]));
  return out;
}

function enumSchema(contracts: Contracts, e: DescEnum): Schema {
  const lines = e.values.map((v) => `- ${v.name}: ${contracts.comment(v) ?? ''}`.trimEnd());
  return {
    type: 'string',
    enum: e.values.map((v) => v.name),
    description: [contracts.comment(e) ?? '', ...lines].join('\n').trim(),
  };
}

function messageSchema(
  contracts: Contracts,
  m: DescMessage,
  refOf: (d: DescMessage | DescEnum) => Schema,
  input: boolean,
): Schema {
  const properties: Record<string, Schema> = {};
  const required: string[] = [];
  for (const field of m.fields) {
    const isRequired = contracts.isRequired(field);
    properties[field.name] = fieldSchema(contracts, field, refOf, input && !isRequired);
    if (isRequired) required.push(field.name);
  }
  return {
    type: 'object',
    description: contracts.comment(m),
    properties,
    ...(required.length ? { required } : {}),
    additionalProperties: false,
  };
}

function fieldSchema(
  contracts: Contracts,
  field: DescField,
  refOf: (d: DescMessage | DescEnum) => Schema,
  nullable = false,
): Schema {
  const schema = nullable ? orNull(fieldSchemaNoDoc(field, refOf)) : fieldSchemaNoDoc(field, refOf);
  const description = contracts.comment(field);
  return description ? { ...schema, description } : schema;
}

/** The schema, or JSON null, as OpenAPI 3.1 (JSON Schema 2020-12) says it: `nullable` is 3.0 only. */
function orNull(schema: Schema): Schema {
  // An enum's values are listed in its component, so null cannot be added to the type alone.
  if ('$ref' in schema) return { anyOf: [schema, { type: 'null' }] };
  if (schema.type === undefined) return schema; // google.protobuf.Value: any JSON, null included
  return { ...schema, type: [schema.type, 'null'].flat() };
}

function fieldSchemaNoDoc(field: DescField, refOf: (d: DescMessage | DescEnum) => Schema): Schema {
  switch (field.fieldKind) {
    case 'scalar':
      return scalarSchema(field.scalar);
    case 'enum':
      return refOf(field.enum);
    case 'message':
      return messageRef(field.message, refOf);
    case 'list':
      return {
        type: 'array',
        items:
          field.listKind === 'scalar'
            ? scalarSchema(field.scalar)
            : field.listKind === 'enum'
              ? refOf(field.enum)
              : messageRef(field.message, refOf),
      };
    case 'map':
      return {
        type: 'object',
        additionalProperties:
          field.mapKind === 'scalar'
            ? scalarSchema(field.scalar)
            : field.mapKind === 'enum'
              ? refOf(field.enum)
              : messageRef(field.message, refOf),
      };
  }
}

const WKT_SCHEMAS: Readonly<Record<string, Schema>> = {
  'google.protobuf.Timestamp': { type: 'string', format: 'date-time' },
  'google.protobuf.Duration': {
    type: 'string',
    pattern: '^-?[0-9]+(\\.[0-9]{1,9})?s$',
    description: 'A duration in seconds with an "s" suffix, e.g. "3600s".',
  },
  'google.protobuf.FieldMask': { type: 'string' },
  'google.protobuf.Struct': { type: 'object' },
  'google.protobuf.Value': {},
  'google.protobuf.ListValue': { type: 'array' },
  'google.protobuf.Empty': { type: 'object' },
  'google.protobuf.Any': { type: 'object', properties: { '@type': { type: 'string' } } },
  'google.protobuf.StringValue': { type: 'string' },
  'google.protobuf.BytesValue': { type: 'string', format: 'byte' },
  'google.protobuf.BoolValue': { type: 'boolean' },
  'google.protobuf.DoubleValue': { type: 'number', format: 'double' },
  'google.protobuf.FloatValue': { type: 'number', format: 'float' },
  'google.protobuf.Int32Value': { type: 'integer', format: 'int32' },
  'google.protobuf.UInt32Value': { type: 'integer', format: 'int64', minimum: 0 },
  'google.protobuf.Int64Value': { type: 'string', format: 'int64' },
  'google.protobuf.UInt64Value': { type: 'string', format: 'uint64' },
};

function isStringWkt(m: DescMessage): boolean {
  const s = WKT_SCHEMAS[m.typeName];
  return s !== undefined && s.type === 'string';
}

function messageRef(m: DescMessage, refOf: (d: DescMessage | DescEnum) => Schema): Schema {
  return WKT_SCHEMAS[m.typeName] ?? refOf(m);
}

function scalarSchema(t: ScalarType): Schema {
  switch (t) {
    case ScalarType.STRING:
      return { type: 'string' };
    case ScalarType.BYTES:
      return { type: 'string', format: 'byte' };
    case ScalarType.BOOL:
      return { type: 'boolean' };
    case ScalarType.DOUBLE:
      return { type: 'number', format: 'double' };
    case ScalarType.FLOAT:
      return { type: 'number', format: 'float' };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: 'integer', format: 'int32' };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: 'integer', format: 'int64', minimum: 0 };
    default:
      // 64-bit: a number when it is a safe integer, a decimal string beyond 2^53 - 1 (input takes both).
      return { type: ['integer', 'string'], format: 'int64' };
  }
}

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
 */
export function buildOpenApi(contracts: Contracts, table: RouteTable): Record<string, unknown> {
  const schemas: Record<string, Schema> = {};
  const refOf = (desc: DescMessage | DescEnum): Schema => {
    if (!(desc.typeName in schemas)) {
      schemas[desc.typeName] = {}; // placeholder first: message types may be recursive
      schemas[desc.typeName] =
        desc.kind === 'enum' ? enumSchema(contracts, desc) : messageSchema(contracts, desc, refOf);
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
      const bodySchema = main.bodyField ? fieldSchema(contracts, main.bodyField, refOf) : refOf(main.input);
      operation.requestBody = {
        required: main.body === '*' ? false : true,
        content: { 'application/json': { schema: bodySchema } },
      };
    }
    (paths[path] ??= {})[methodKey] = operation;
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

function messageSchema(contracts: Contracts, m: DescMessage, refOf: (d: DescMessage | DescEnum) => Schema): Schema {
  const properties: Record<string, Schema> = {};
  const required: string[] = [];
  for (const field of m.fields) {
    properties[field.name] = fieldSchema(contracts, field, refOf);
    if (contracts.isRequired(field)) required.push(field.name);
  }
  return {
    type: 'object',
    description: contracts.comment(m),
    properties,
    ...(required.length ? { required } : {}),
    additionalProperties: false,
  };
}

function fieldSchema(contracts: Contracts, field: DescField, refOf: (d: DescMessage | DescEnum) => Schema): Schema {
  const description = contracts.comment(field);
  return description ? { ...fieldSchemaNoDoc(field, refOf), description } : fieldSchemaNoDoc(field, refOf);
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

import type { DescField, DescMessage, DescMethod } from '@bufbuild/protobuf';
import { findField, type Contracts, type HttpRuleValue } from './descriptors.js';
import { isLiteralTemplate, matchPathTemplate, parsePathTemplate, type PathTemplate } from './path-template.js';
import { GatewayError } from './errors.js';

/** One HTTP binding of an rpc (its main rule or one of its additional_bindings). */
export interface Binding {
  httpMethod: string;
  template: PathTemplate;
  /** '' (no body), '*' (the whole request) or the proto name of the one field the body holds. */
  body: string;
  /** '' (the whole response) or the proto name of the response field sent as the body. */
  responseBody: string;
  method: DescMethod;
  /** Fully qualified service name, e.g. `routeplex.router.v1.RouterService`. */
  serviceName: string;
  /** The gRPC path, e.g. `/routeplex.router.v1.RouterService/CreateChatCompletion`. */
  grpcPath: string;
  serverStreaming: boolean;
  input: DescMessage;
  output: DescMessage;
  /** For each template variable, the chain of fields it sets. */
  pathFields: DescField[][];
  /** The body field when `body` names one. */
  bodyField: DescField | undefined;
}

/**
 * The bindings that share one HTTP method and path. Normally one; a unary rpc and a server-streaming rpc
 * may share a binding, and the request body's `"stream": true` then selects the streaming one.
 */
export interface MethodBindings {
  unary: Binding | undefined;
  streaming: Binding | undefined;
}

interface PathEntry {
  template: PathTemplate;
  byMethod: Map<string, MethodBindings>;
}

export interface RouteMatch {
  bindings: MethodBindings;
  /** Raw (percent-encoded) text captured by each template variable. */
  captured: string[];
}

export class RouteTableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RouteTableError';
  }
}

/**
 * The route table, built once from every annotated rpc of the contracts. Paths without variables are
 * found with one Map lookup; templated paths are tried in declaration order.
 */
export class RouteTable {
  readonly bindings: Binding[] = [];
  private readonly literal = new Map<string, PathEntry>();
  private readonly templated: PathEntry[] = [];

  constructor(contracts: Contracts) {
    const entries = new Map<string, PathEntry>();
    for (const { method, rule } of contracts.methods) {
      if (!rule) continue;
      for (const r of [rule, ...rule.additionalBindings]) {
        const binding = compileBinding(method, r);
        this.bindings.push(binding);
        let entry = entries.get(binding.template.source);
        if (!entry) {
          entry = { template: binding.template, byMethod: new Map() };
          entries.set(binding.template.source, entry);
          if (isLiteralTemplate(binding.template)) this.literal.set(binding.template.source, entry);
          else this.templated.push(entry);
        }
        let pair = entry.byMethod.get(binding.httpMethod);
        if (!pair) {
          pair = { unary: undefined, streaming: undefined };
          entry.byMethod.set(binding.httpMethod, pair);
        }
        const slot = binding.serverStreaming ? 'streaming' : 'unary';
        if (pair[slot]) {
          throw new RouteTableError(
            `${binding.httpMethod} ${binding.template.source} is bound to both ${pair[slot].method.parent.typeName}.${pair[slot].method.name} and ${binding.serviceName}.${method.name}: give one of them another path`,
          );
        }
        if (method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming') {
          throw new RouteTableError(
            `${binding.serviceName}.${method.name} is ${method.methodKind}: REST bindings support unary and server-streaming rpcs only`,
          );
        }
        pair[slot] = binding;
      }
    }
  }

  /**
   * Finds the bindings for a request. Throws NOT_FOUND for an unknown path and a 405 (with `Allow`) for
   * a known path with another method.
   */
  match(httpMethod: string, path: string): RouteMatch {
    const literal = this.literal.get(path);
    const fast = literal?.byMethod.get(httpMethod);
    if (fast) return { bindings: fast, captured: [] };
    // Several templates may match one path (e.g. GET /v1/{name=books/*} and PATCH /v1/{book.name=books/*});
    // the first whose method matches wins, and a template with a matching custom verb beats one without.
    const matched = this.entriesFor(path, literal);
    for (const { entry, captured } of matched) {
      const bindings = entry.byMethod.get(httpMethod);
      if (bindings) return { bindings, captured };
    }
    if (matched.length === 0) {
      throw new GatewayError(
        'NOT_FOUND',
        `no route for path ${truncate(path)}: see GET /api/v1/openapi.json for the paths this API serves`,
      );
    }
    const allow = this.methodsFor(path).join(', ');
    throw new GatewayError(
      'UNIMPLEMENTED',
      `method ${truncate(httpMethod)} is not allowed on ${truncate(path)}: use ${allow}`,
      {
        httpStatus: 405,
        headers: { allow },
      },
    );
  }

  /** The HTTP methods bound to a path, sorted (for `Allow` and CORS preflight answers); empty for an unknown path. */
  methodsFor(path: string): string[] {
    const matched = this.entriesFor(path, this.literal.get(path));
    return [...new Set(matched.flatMap((m) => [...m.entry.byMethod.keys()]))].sort();
  }

  private entriesFor(path: string, literal: PathEntry | undefined): { entry: PathEntry; captured: string[] }[] {
    const matched: { entry: PathEntry; captured: string[] }[] = literal ? [{ entry: literal, captured: [] }] : [];
    const segments = path.slice(1).split('/');
    let withVerb = false;
    for (const entry of this.templated) {
      const captured = matchPathTemplate(entry.template, segments);
      if (!captured) continue;
      if (entry.template.verb !== undefined && !withVerb) {
        withVerb = true;
        matched.length = 0;
      }
      if (withVerb && entry.template.verb === undefined) continue;
      matched.push({ entry, captured });
    }
    return matched;
  }
}

function truncate(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

function compileBinding(method: DescMethod, rule: HttpRuleValue): Binding {
  const where = `${method.parent.typeName}.${method.name}`;
  let httpMethod: string;
  let pathText: string;
  switch (rule.pattern.case) {
    case 'get':
    case 'put':
    case 'post':
    case 'delete':
    case 'patch':
      httpMethod = rule.pattern.case.toUpperCase();
      pathText = rule.pattern.value;
      break;
    case 'custom':
      httpMethod = rule.pattern.value.kind.toUpperCase();
      pathText = rule.pattern.value.path;
      break;
    default:
      throw new RouteTableError(
        `the google.api.http rule of ${where} has no pattern: set get, post, put, patch, delete or custom`,
      );
  }
  let template: PathTemplate;
  try {
    template = parsePathTemplate(pathText);
  } catch (e) {
    throw new RouteTableError(`${where}: ${(e as Error).message}`);
  }
  const input = method.input;
  const pathFields = template.variables.map((v) => resolveFieldPath(input, v.fieldPath, where));
  for (const chain of pathFields) {
    const last = chain[chain.length - 1]!;
    if (last.fieldKind !== 'scalar' && last.fieldKind !== 'enum') {
      throw new RouteTableError(`${where}: path variable ${last.name} must be a singular scalar or enum field`);
    }
  }
  let bodyField: DescField | undefined;
  if (rule.body !== '' && rule.body !== '*') {
    bodyField = input.fields.find((f) => f.name === rule.body);
    if (!bodyField) throw new RouteTableError(`${where}: body "${rule.body}" is not a field of ${input.typeName}`);
  }
  if (rule.responseBody !== '' && !method.output.fields.some((f) => f.name === rule.responseBody)) {
    throw new RouteTableError(
      `${where}: response_body "${rule.responseBody}" is not a field of ${method.output.typeName}`,
    );
  }
  return {
    httpMethod,
    template,
    body: rule.body,
    responseBody: rule.responseBody,
    method,
    serviceName: method.parent.typeName,
    grpcPath: `/${method.parent.typeName}/${method.name}`,
    serverStreaming: method.methodKind === 'server_streaming',
    input,
    output: method.output,
    pathFields,
    bodyField,
  };
}

function resolveFieldPath(message: DescMessage, path: string[], where: string): DescField[] {
  const chain: DescField[] = [];
  let current: DescMessage | undefined = message;
  for (const name of path) {
    const field: DescField | undefined = current ? findField(current, name) : undefined;
    if (!field || field.fieldKind === 'list' || field.fieldKind === 'map') {
      throw new RouteTableError(
        `${where}: path variable ${path.join('.')} does not name a singular field of ${message.typeName}`,
      );
    }
    chain.push(field);
    current = field.fieldKind === 'message' ? field.message : undefined;
  }
  return chain;
}

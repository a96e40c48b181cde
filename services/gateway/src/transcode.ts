import {
  fromBinary,
  fromJson,
  ScalarType,
  toBinary,
  toJson,
  type DescField,
  type DescMessage,
  type JsonObject,
  type JsonValue,
} from '@bufbuild/protobuf';
import { findField } from './descriptors.js';
import { GatewayError } from './errors.js';
import type { Binding } from './route-table.js';

/**
 * JSON <-> protobuf transcoding for one binding, following google/api/http.proto: path variables, then
 * the body (`*` or one field), then query parameters for every field bound by neither.
 *
 * Output choices (documented in the README of the gateway):
 * - field names are the proto names (snake_case), as grpc-gateway's UseProtoNames;
 * - fields with implicit presence are always emitted (`index: 0`, `content: ""`, `[]`), so that OpenAI
 *   clients find every member they expect; unset `optional` and message fields are omitted;
 * - enums are emitted by name;
 * - 64-bit integers are emitted as JSON numbers when they are safe integers (|n| <= 2^53 - 1, e.g.
 *   OpenAI's `created`), and as decimal strings beyond, as proto3 JSON does for every int64.
 * Input is proto3 JSON: proto names and lowerCamel names both accepted, unknown fields rejected.
 */

const JSON_WRITE_OPTIONS = { useProtoFieldName: true, alwaysEmitImplicit: true } as const;
// Nesting past this depth is refused with 400: the services' generated decoders count up to three levels for
// each level of JSON in a google.protobuf.Value and stop at 100, so a request the facade accepted with
// protobuf-es's default of 100 could fail in the service as an internal error. 36 lets through JSON 32 levels
// deep, which both sides decode.
const RECURSION_LIMIT = 36;
const JSON_READ_OPTIONS = { ignoreUnknownFields: false, recursionLimit: RECURSION_LIMIT } as const;

export function invalidArgument(message: string): GatewayError {
  return new GatewayError('INVALID_ARGUMENT', message);
}

/** Builds and serialises the request message of `binding` from the captured path, the query and the body. */
export function encodeRequest(
  binding: Binding,
  captured: readonly string[],
  rawQuery: string,
  body: JsonValue | undefined,
): Uint8Array {
  let root: JsonObject;
  if (binding.body === '*') {
    if (body === undefined) root = {};
    else if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw invalidArgument(
        `the request body must be a JSON object with the fields of ${binding.input.typeName}, not ${describeJson(body)}`,
      );
    } else root = body;
  } else {
    root = {};
    if (binding.bodyField && body !== undefined) root[binding.bodyField.name] = body;
  }
  for (let i = 0; i < binding.pathFields.length; i++) {
    const chain = binding.pathFields[i]!;
    const variable = binding.template.variables[i]!;
    const text = decodePathValue(captured[i]!, variable.multiSegment, chain);
    setByChain(root, chain, textToJson(chain, text, `path variable ${variable.fieldPath.join('.')}`));
  }
  if (rawQuery !== '') applyQuery(binding, root, rawQuery);
  let message;
  try {
    message = fromJson(binding.input, root, JSON_READ_OPTIONS);
  } catch (e) {
    // Name the field when protobuf-es's message does not.
    const message = (e as Error).message;
    const bad = message.includes(' field ') ? undefined : findBadField(binding.input, root, '');
    const where = bad === undefined ? '' : `field ${bad}: `;
    if (message.includes('maximum recursion depth'))
      throw invalidArgument(
        `invalid request: ${where}nested deeper than a request may be (about ${RECURSION_LIMIT - 4} levels of JSON); flatten it`,
      );
    throw invalidArgument(
      `invalid request: ${where}${message}; fix or remove that field (the schema is in GET /api/v1/openapi.json)`,
    );
  }
  return toBinary(binding.input, message);
}

/** Decodes one response message and renders it as the JSON text sent to the client. */
export function decodeResponse(binding: Binding, bytes: Uint8Array): string {
  const output = binding.output;
  const json = toJson(output, fromBinary(output, bytes), JSON_WRITE_OPTIONS) as JsonObject;
  int64Fixer(output)?.(json);
  return JSON.stringify(binding.responseBody === '' ? json : (json[binding.responseBody] ?? null));
}

/**
 * The dotted path of the first field whose JSON value does not decode, found by decoding one field at a
 * time (only on the error path). protobuf-es names most fields itself but not, for example, an unknown enum
 * value or a malformed Duration.
 */
function findBadField(message: DescMessage, json: JsonValue, prefix: string): string | undefined {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return undefined;
  for (const key of Object.keys(json)) if (!findField(message, key)) return prefix + key;
  for (const f of message.fields) {
    const key = f.name in json ? f.name : f.jsonName in json ? f.jsonName : undefined;
    if (key === undefined) continue;
    const value = json[key]!;
    try {
      fromJson(message, { [key]: value }, JSON_READ_OPTIONS);
      continue;
    } catch {
      // this field is the culprit; narrow down inside messages
    }
    const path = prefix + f.name;
    if (f.fieldKind === 'message' && isPlainMessage(f.message))
      return findBadField(f.message, value, `${path}.`) ?? path;
    if (f.fieldKind === 'list' && f.listKind === 'message' && Array.isArray(value) && isPlainMessage(f.message)) {
      for (let i = 0; i < value.length; i++) {
        const inner = findBadField(f.message, value[i]!, `${path}[${i}].`);
        if (inner) return inner;
      }
    }
    return path;
  }
  return undefined;
}

function describeJson(v: JsonValue): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}

function decodePathValue(raw: string, multiSegment: boolean, chain: DescField[]): string {
  try {
    if (!multiSegment) return decodeURIComponent(raw);
    // Multi-segment variables keep an encoded "/" inside a segment encoded (reserved expansion).
    return raw
      .split('/')
      .map((s) => decodeURIComponent(s.replace(/%2F/gi, '%252F')))
      .join('/');
  } catch {
    throw invalidArgument(
      `path variable ${chain.map((f) => f.name).join('.')} has a malformed percent-encoding: encode "%" as %25`,
    );
  }
}

/** Sets a value by a chain of fields, under the proto names, replacing a lowerCamel twin if present. */
function setByChain(root: JsonObject, chain: DescField[], value: JsonValue): void {
  let obj = root;
  for (let i = 0; i < chain.length - 1; i++) {
    const f = chain[i]!;
    let next = obj[f.name] ?? obj[f.jsonName];
    if (f.jsonName !== f.name) delete obj[f.jsonName];
    if (next === undefined || next === null || typeof next !== 'object' || Array.isArray(next)) next = {};
    obj[f.name] = next;
    obj = next;
  }
  const last = chain[chain.length - 1]!;
  if (last.jsonName !== last.name) delete obj[last.jsonName];
  obj[last.name] = value;
}

/** Converts the text of a path variable or query parameter to the JSON proto3 expects for the field. */
function textToJson(chain: DescField[], text: string, what: string): JsonValue {
  const field = chain[chain.length - 1]!;
  const kind = field.fieldKind === 'list' ? field.listKind : field.fieldKind;
  if (kind === 'enum') return /^-?\d+$/.test(text) ? Number(text) : text;
  if (kind === 'scalar') {
    const scalar = field.fieldKind === 'list' ? field.scalar : (field as { scalar: ScalarType }).scalar;
    if (scalar === ScalarType.BOOL) {
      if (text === 'true') return true;
      if (text === 'false') return false;
      throw invalidArgument(`${what} must be true or false, not "${clip(text)}"`);
    }
    // Numbers stay strings: proto3 JSON accepts them and the parser checks range and syntax.
    return text;
  }
  // Well-known types with a string JSON form (Duration "3600s", Timestamp, FieldMask, wrappers).
  return text;
}

function clip(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}...` : text;
}

/** Message types whose JSON form is a string, so that they can be set from a query parameter. */
const STRING_JSON_MESSAGES = new Set([
  'google.protobuf.Duration',
  'google.protobuf.Timestamp',
  'google.protobuf.FieldMask',
  'google.protobuf.StringValue',
  'google.protobuf.BytesValue',
  'google.protobuf.Int64Value',
  'google.protobuf.UInt64Value',
  'google.protobuf.Int32Value',
  'google.protobuf.UInt32Value',
  'google.protobuf.DoubleValue',
  'google.protobuf.FloatValue',
  'google.protobuf.BoolValue',
]);

function applyQuery(binding: Binding, root: JsonObject, rawQuery: string): void {
  const params = new URLSearchParams(rawQuery);
  const grouped = new Map<string, string[]>();
  for (const [key, value] of params) {
    const list = grouped.get(key);
    if (list) list.push(value);
    else grouped.set(key, [value]);
  }
  const seen = new Map<string, string>();
  for (const [key, values] of grouped) {
    const what = `query parameter "${clip(key)}"`;
    if (binding.body === '*') {
      throw invalidArgument(
        `${what} is not accepted: ${binding.httpMethod} ${binding.template.source} takes every field from the JSON body`,
      );
    }
    const chain: DescField[] = [];
    let message: DescMessage | undefined = binding.input;
    for (const part of key.split('.')) {
      const field: DescField | undefined = message ? findField(message, part) : undefined;
      if (!field)
        throw invalidArgument(`${what} is not a field of ${binding.input.typeName}: remove it or fix its name`);
      chain.push(field);
      message =
        field.fieldKind === 'message' && !STRING_JSON_MESSAGES.has(field.message.typeName) ? field.message : undefined;
    }
    // page_size and pageSize are one field: given under both names, neither may silently win.
    const target = chain.map((f) => f.number).join('.');
    const earlier = seen.get(target);
    if (earlier !== undefined)
      throw invalidArgument(
        `query parameters "${clip(earlier)}" and "${clip(key)}" set the same field: give it under one name`,
      );
    seen.set(target, key);
    const last = chain[chain.length - 1]!;
    if (binding.bodyField && chain[0] === binding.bodyField) {
      throw invalidArgument(`${what} sets ${binding.bodyField.name}, which this method reads from the body`);
    }
    if (binding.pathFields.some((p) => p.length <= chain.length && p.every((f, i) => chain[i] === f))) {
      throw invalidArgument(`${what} sets a field that the path already binds`);
    }
    if (last.fieldKind === 'map' || (last.fieldKind === 'list' && last.listKind === 'message')) {
      throw invalidArgument(
        `${what} names a ${last.fieldKind === 'map' ? 'map' : 'list of messages'}, which query parameters cannot set: send it in a body`,
      );
    }
    if (last.fieldKind === 'message' && !STRING_JSON_MESSAGES.has(last.message.typeName)) {
      throw invalidArgument(`${what} names a message: set its fields instead, as ${clip(key)}.<field>`);
    }
    if (last.fieldKind === 'list') {
      setByChain(
        root,
        chain,
        values.map((v) => textToJson(chain, v, what)),
      );
    } else {
      if (values.length > 1)
        throw invalidArgument(`${what} is given ${values.length} times but is not repeated: give it once`);
      setByChain(root, chain, textToJson(chain, values[0]!, what));
    }
  }
}

// --- 64-bit integers as JSON numbers -----------------------------------------------------------------

type Fixer = (json: JsonObject) => void;

const INT64_SCALARS = new Set<ScalarType>([
  ScalarType.INT64,
  ScalarType.UINT64,
  ScalarType.SINT64,
  ScalarType.FIXED64,
  ScalarType.SFIXED64,
]);
const fixers = new Map<DescMessage, Fixer | undefined>();
const int64Reach = new Map<DescMessage, boolean>();

function toSafeNumber(v: JsonValue | undefined): JsonValue | undefined {
  if (typeof v !== 'string') return v;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
}

function isPlainMessage(m: DescMessage): boolean {
  // Well-known types have their own JSON forms; leave them as proto3 JSON writes them.
  return !m.typeName.startsWith('google.protobuf.');
}

/** Whether a message type contains (transitively) a 64-bit integer field. Computed once per type. */
function reachesInt64(m: DescMessage): boolean {
  let known = int64Reach.get(m);
  if (known === undefined) {
    known = searchInt64(m, new Set());
    int64Reach.set(m, known);
  }
  return known;
}

function searchInt64(m: DescMessage, visiting: Set<DescMessage>): boolean {
  if (visiting.has(m) || !isPlainMessage(m)) return false;
  visiting.add(m);
  for (const f of m.fields) {
    if (
      f.fieldKind === 'scalar' ||
      (f.fieldKind === 'list' && f.listKind === 'scalar') ||
      (f.fieldKind === 'map' && f.mapKind === 'scalar')
    ) {
      if (INT64_SCALARS.has(f.scalar as ScalarType)) return true;
    }
    const child = f.message;
    if (child && searchInt64(child, visiting)) return true;
  }
  return false;
}

/** A precompiled function that rewrites the safe 64-bit integers of a message's JSON in place. */
function int64Fixer(m: DescMessage): Fixer | undefined {
  if (fixers.has(m)) return fixers.get(m);
  if (!reachesInt64(m)) {
    fixers.set(m, undefined);
    return undefined;
  }
  const steps: Fixer[] = [];
  const fixer: Fixer = (json) => {
    for (const step of steps) step(json);
  };
  fixers.set(m, fixer);
  for (const f of m.fields) {
    const key = f.name;
    if (f.fieldKind === 'scalar' && INT64_SCALARS.has(f.scalar)) {
      steps.push((json) => {
        const v = json[key];
        if (v !== undefined) json[key] = toSafeNumber(v)!;
      });
    } else if (f.fieldKind === 'list' && f.listKind === 'scalar' && INT64_SCALARS.has(f.scalar)) {
      steps.push((json) => {
        const v = json[key];
        if (Array.isArray(v)) json[key] = v.map((x) => toSafeNumber(x)!);
      });
    } else if (f.fieldKind === 'map' && f.mapKind === 'scalar' && INT64_SCALARS.has(f.scalar)) {
      steps.push((json) => {
        const v = json[key];
        if (v && typeof v === 'object' && !Array.isArray(v)) for (const k of Object.keys(v)) v[k] = toSafeNumber(v[k])!;
      });
    } else if (f.message && reachesInt64(f.message)) {
      const child = f.message;
      steps.push((json) => {
        const childFixer = fixers.get(child) ?? int64Fixer(child);
        if (!childFixer) return;
        const v = json[key];
        if (!v || typeof v !== 'object') return;
        if (f.fieldKind === 'list') {
          for (const item of v as JsonValue[])
            if (item && typeof item === 'object' && !Array.isArray(item)) childFixer(item);
        } else if (f.fieldKind === 'map') {
          for (const item of Object.values(v))
            if (item && typeof item === 'object' && !Array.isArray(item)) childFixer(item);
        } else if (!Array.isArray(v)) {
          childFixer(v);
        }
      });
    }
  }
  return fixer;
}

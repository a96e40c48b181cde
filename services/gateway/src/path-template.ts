/**
 * Path templates of google/api/http.proto:
 *
 *     Template = "/" Segments [ Verb ] ;
 *     Segments = Segment { "/" Segment } ;
 *     Segment  = "*" | "**" | LITERAL | Variable ;
 *     Variable = "{" FieldPath [ "=" Segments ] "}" ;
 *     FieldPath = IDENT { "." IDENT } ;
 *     Verb     = ":" LITERAL ;
 *
 * A template compiles to a flat list of segments plus the variables that capture ranges of them, so
 * that matching a request path is one pass over its segments with no regular expression.
 */

export type Segment = { kind: 'literal'; value: string } | { kind: 'wildcard' } | { kind: 'deep' };

export interface TemplateVariable {
  /** Field path, e.g. `name` or `book.name`. */
  fieldPath: string[];
  /** First segment index captured (inclusive). */
  start: number;
  /** One past the last segment captured; for a `**` variable, counted from the end of the path. */
  end: number;
  /** Whether the variable captures several segments (contains `**` or more than one segment). */
  multiSegment: boolean;
}

export interface PathTemplate {
  /** The template as written in the proto. */
  source: string;
  segments: Segment[];
  variables: TemplateVariable[];
  verb: string | undefined;
  /** Index of the `**` segment, or -1. */
  deepIndex: number;
  /** The OpenAPI form: `/v1/{name}`. */
  openApiPath: string;
}

export class PathTemplateError extends Error {
  constructor(template: string, reason: string) {
    super(`invalid path template "${template}": ${reason}`);
    this.name = 'PathTemplateError';
  }
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Unreserved and sub-delims of RFC 3986, plus ':' and '@' (pchar), without '/', '{', '}', '*'.
const LITERAL = /^[A-Za-z0-9\-._~!$&'()+,;=:@%]+$/;

export function parsePathTemplate(source: string): PathTemplate {
  if (!source.startsWith('/')) throw new PathTemplateError(source, 'it must start with "/"');
  let body = source.slice(1);
  let verb: string | undefined;
  // The verb is a ':' after the last '/' that is not inside a variable.
  const lastSlash = body.lastIndexOf('/');
  const lastClose = body.lastIndexOf('}');
  const colon = body.lastIndexOf(':');
  if (colon > lastSlash && colon > lastClose) {
    verb = body.slice(colon + 1);
    if (!LITERAL.test(verb)) throw new PathTemplateError(source, `verb "${verb}" is not a literal`);
    body = body.slice(0, colon);
  }
  const segments: Segment[] = [];
  const variables: TemplateVariable[] = [];
  const openApiParts: string[] = [];
  let i = 0;
  while (i <= body.length) {
    if (body[i] === '{') {
      const close = body.indexOf('}', i);
      if (close < 0) throw new PathTemplateError(source, 'a "{" has no matching "}"');
      const inner = body.slice(i + 1, close);
      const eq = inner.indexOf('=');
      const fieldPathText = eq < 0 ? inner : inner.slice(0, eq);
      const fieldPath = fieldPathText.split('.');
      if (!fieldPath.every((p) => IDENT.test(p))) {
        throw new PathTemplateError(source, `"${fieldPathText}" is not a field path`);
      }
      if (variables.some((v) => v.fieldPath.join('.') === fieldPathText)) {
        throw new PathTemplateError(source, `variable "${fieldPathText}" appears twice`);
      }
      const sub = eq < 0 ? '*' : inner.slice(eq + 1);
      const start = segments.length;
      for (const part of sub.split('/')) {
        if (part.includes('{')) throw new PathTemplateError(source, 'variables cannot nest');
        segments.push(parseSegment(source, part));
      }
      variables.push({
        fieldPath,
        start,
        end: segments.length,
        multiSegment: segments.length - start > 1 || segments.at(-1)?.kind === 'deep',
      });
      openApiParts.push(`{${fieldPathText}}`);
      i = close + 1;
      if (i < body.length && body[i] !== '/') throw new PathTemplateError(source, 'a variable must end a segment');
      i++;
    } else {
      let next = body.indexOf('/', i);
      if (next < 0) next = body.length;
      const part = body.slice(i, next);
      segments.push(parseSegment(source, part));
      openApiParts.push(part);
      i = next + 1;
    }
  }
  const deepIndexes = segments.flatMap((s, index) => (s.kind === 'deep' ? [index] : []));
  if (deepIndexes.length > 1) throw new PathTemplateError(source, '"**" may appear only once');
  const deepIndex = deepIndexes[0] ?? -1;
  if (deepIndex >= 0 && deepIndex !== segments.length - 1) {
    throw new PathTemplateError(source, '"**" must be the last segment');
  }
  return {
    source,
    segments,
    variables,
    verb,
    deepIndex,
    openApiPath: '/' + openApiParts.join('/') + (verb === undefined ? '' : `:${verb}`),
  };
}

function parseSegment(source: string, part: string): Segment {
  if (part === '*') return { kind: 'wildcard' };
  if (part === '**') return { kind: 'deep' };
  if (!LITERAL.test(part)) throw new PathTemplateError(source, `segment "${part}" is not a literal, "*" or "**"`);
  return { kind: 'literal', value: part };
}

/** Whether the template has no variable and no wildcard: such routes are found with one Map lookup. */
export function isLiteralTemplate(t: PathTemplate): boolean {
  return t.segments.every((s) => s.kind === 'literal');
}

/**
 * Matches raw (still percent-encoded) request path segments against a template. Returns the raw text
 * captured by each variable, in the order of `t.variables`, or undefined when the path does not match.
 */
export function matchPathTemplate(t: PathTemplate, rawSegments: readonly string[]): string[] | undefined {
  let segments = rawSegments;
  const n = segments.length;
  if (t.verb !== undefined) {
    const last = segments[n - 1];
    const suffix = ':' + t.verb;
    if (last === undefined || !last.endsWith(suffix)) return undefined;
    segments = [...segments.slice(0, n - 1), last.slice(0, last.length - suffix.length)];
  }
  // `**` matches zero or more segments.
  if (t.deepIndex < 0 ? n !== t.segments.length : n < t.segments.length - 1) return undefined;
  for (let i = 0; i < t.segments.length; i++) {
    const seg = t.segments[i]!;
    if (seg.kind === 'deep') break;
    const raw = segments[i];
    if (raw === undefined) return undefined;
    if (seg.kind === 'literal') {
      if (raw !== seg.value) return undefined;
    } else if (raw === '') {
      return undefined;
    }
  }
  const captured: string[] = [];
  for (const v of t.variables) {
    const end = t.deepIndex >= 0 && v.end === t.segments.length ? n : v.end;
    captured.push(segments.slice(v.start, end).join('/'));
  }
  return captured;
}

import { expect } from 'chai';
import { matchPathTemplate, parsePathTemplate, PathTemplateError } from '../src/path-template.js';

const match = (template: string, path: string) =>
  matchPathTemplate(parsePathTemplate(template), path.slice(1).split('/'));

describe('path templates (google/api/http.proto grammar)', () => {
  it('parses literals, variables, sub-templates, "**" and a verb', () => {
    const t = parsePathTemplate('/v1/{name=shelves/*/books/**}:read');
    expect(t.verb).to.equal('read');
    expect(t.segments.map((s) => (s.kind === 'literal' ? s.value : s.kind))).to.deep.equal([
      'v1',
      'shelves',
      'wildcard',
      'books',
      'deep',
    ]);
    expect(t.variables).to.deep.equal([{ fieldPath: ['name'], start: 1, end: 5, multiSegment: true }]);
    expect(t.openApiPath).to.equal('/v1/{name}:read');
  });

  it('treats {field} as {field=*}', () => {
    const t = parsePathTemplate('/v1/shelves/{shelf}/books/{book.id}');
    expect(t.variables.map((v) => [v.fieldPath, v.multiSegment])).to.deep.equal([
      [['shelf'], false],
      [['book', 'id'], false],
    ]);
    expect(match('/v1/shelves/{shelf}/books/{book.id}', '/v1/shelves/s1/books/b2')).to.deep.equal(['s1', 'b2']);
  });

  it('matches literal segments exactly and a wildcard only to a non-empty segment', () => {
    expect(match('/v1/models', '/v1/models')).to.deep.equal([]);
    expect(match('/v1/models', '/v1/models/')).to.equal(undefined);
    expect(match('/v1/{name}', '/v1/')).to.equal(undefined);
    expect(match('/v1/{name}', '/v1/a/b')).to.equal(undefined);
  });

  it('lets "**" capture zero or more trailing segments', () => {
    expect(match('/v1/{path=files/**}', '/v1/files/a/b/c')).to.deep.equal(['files/a/b/c']);
    expect(match('/v1/{path=files/**}', '/v1/files')).to.deep.equal(['files']);
    expect(match('/v1/{path=files/**}', '/v1/other/a')).to.equal(undefined);
  });

  it('requires the verb when the template has one, and strips it from the capture', () => {
    expect(match('/v1/{name=books/*}:archive', '/v1/books/b1:archive')).to.deep.equal(['books/b1']);
    expect(match('/v1/{name=books/*}:archive', '/v1/books/b1')).to.equal(undefined);
    expect(match('/v1/{name=books/*}:archive', '/v1/books/b1:delete')).to.equal(undefined);
  });

  it('rejects malformed templates with a message naming the problem', () => {
    const bad: [string, string][] = [
      ['v1/models', 'start with "/"'],
      ['/v1/{name', 'no matching "}"'],
      ['/v1/{9x}', 'not a field path'],
      ['/v1/{a}/{a}', 'appears twice'],
      ['/v1/**/x', '"**" must be the last segment'],
      ['/v1/a b', 'is not a literal'],
      ['/v1/{a=x/{b}}', 'cannot nest'],
    ];
    for (const [template, reason] of bad) {
      expect(() => parsePathTemplate(template), template).to.throw(PathTemplateError, reason);
    }
  });
});

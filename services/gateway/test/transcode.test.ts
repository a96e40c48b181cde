import { expect } from 'chai';
import { createGateway, type Gateway } from '../src/index.js';
import { startFixtureBackend, type FixtureBackend } from './support/fixture-backend.js';

// Path variables, single-field bodies, response_body, custom verbs and methods, additional_bindings and
// query parameters of every kind, on a fixture contract served by a real gRPC backend.
describe('transcode (google.api.http rules on a fixture contract)', () => {
  let backend: FixtureBackend;
  let gateway: Gateway;

  before(async () => {
    backend = await startFixtureBackend();
    gateway = await createGateway({
      host: '127.0.0.1',
      port: 0,
      backends: { default: backend.address },
      imageUrl: backend.imageUrl,
      bodyLimitBytes: 4096,
    });
  });
  after(async () => {
    await gateway?.close();
    await backend?.close();
  });
  beforeEach(() => {
    backend.calls.length = 0;
  });

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(gateway.url + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & unknown[] };
  };

  it('binds a multi-segment variable, keeping an encoded "/" inside a segment encoded', async () => {
    const res = await call('GET', '/v1/shelves/s1/books/b%2F1');
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal({ name: 'shelves/s1/books/b%2F1', title: 'A Title', pages: 123, archived: false });
  });

  it('serves additional_bindings, with "**" capturing the rest of the path', async () => {
    const res = await call('GET', '/v1/by-path/a/b%20c/d');
    expect(res.status).to.equal(200);
    expect(backend.calls[0]!.request.name).to.equal('a/b c/d');
  });

  it('does not match a sub-template with the wrong shape', async () => {
    expect((await call('GET', '/v1/shelves/s1/novels/b1')).status).to.equal(404);
    expect((await call('GET', '/v1/shelves/s1/books/b1/extra')).status).to.equal(404);
    expect((await call('GET', '/v1/shelves//books/b1')).status).to.equal(404);
  });

  it('reads a single-field body into that field and sets a nested field from the path', async () => {
    const res = await call('PATCH', '/v1/shelves/s/books/b?validate_only=true', { title: 'New', pages: '77' });
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal({ name: 'shelves/s/books/b', title: 'New', pages: 77, archived: false });
    expect(backend.calls[0]!.request.validateOnly).to.equal(true);
  });

  it('lets the path win over the same field in the body', async () => {
    await call('PATCH', '/v1/shelves/s/books/b', { name: 'shelves/x/books/y', title: 'T' });
    expect((backend.calls[0]!.request.book as { name: string }).name).to.equal('shelves/s/books/b');
  });

  it('rejects a query parameter that sets the body field', async () => {
    const res = await call('PATCH', '/v1/shelves/s/books/b?book.title=x', { title: 'T' });
    expect(res.status).to.equal(400);
    expect(res.body.message).to.contain('book');
  });

  it('serves a custom verb and a body "*" around a path variable', async () => {
    const res = await call('POST', '/v1/shelves/s/books/b:archive', { reason: 'worn out' });
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.include({ name: 'shelves/s/books/b', title: 'worn out', archived: true });
    const wrong = await call('GET', '/v1/shelves/s/books/b:archive');
    expect(wrong.status).to.equal(405);
  });

  it('sends only the response_body field, and converts a numeric path variable', async () => {
    const res = await call('GET', '/v1/shelves/7/books?page_size=5');
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal([{ name: 'shelves/7/books/1', title: '', pages: 10, archived: false }]);
    expect(backend.calls[0]!.request).to.deep.include({ shelf: 7, pageSize: 5 });
  });

  it('rejects a path variable of the wrong type with 400 naming it', async () => {
    const res = await call('GET', '/v1/shelves/seven/books');
    expect(res.status).to.equal(400);
    expect(res.body.message).to.contain('shelf');
  });

  it('fills repeated, nested, enum, bool, double and uint64 fields from query parameters on a custom method', async () => {
    const res = await call(
      'SEARCH',
      '/v1/search?query=dune&exact=true&years=1965&years=1966&filter.genre=GENRE_NOVEL&filter.authors=Frank&filter.authors=Brian&min_rating=4.5&max_pages=18446744073709551615',
    );
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal({
      query: 'dune',
      exact: true,
      years: [1965, 1966],
      filter: { genre: 'GENRE_NOVEL', authors: ['Frank', 'Brian'] },
      min_rating: 4.5,
      max_pages: '18446744073709551615',
    });
  });

  it('rejects a bool query parameter that is not true or false, and a message given as a value', async () => {
    const bad = await call('SEARCH', '/v1/search?exact=yes');
    expect(bad.status).to.equal(400);
    expect(bad.body.message).to.contain('exact');
    const msg = await call('SEARCH', '/v1/search?filter=x');
    expect(msg.status).to.equal(400);
    expect(msg.body.message).to.contain('filter.<field>');
    expect(backend.calls).to.have.length(0);
  });

  it('rejects one field given under both its names, as the body does', async () => {
    for (const query of ['page_size=1&pageSize=2', 'pageSize=2&page_size=1']) {
      const res = await call('GET', `/v1/shelves/7/books?${query}`);
      expect(res.status, query).to.equal(400);
      expect(res.body.message, query).to.match(/"page_?[sS]ize" and "page_?[sS]ize" set the same field/);
    }
    const nested = await call('SEARCH', '/v1/search?filter.genre=GENRE_NOVEL&filter.genre=GENRE_POEM');
    expect(nested.status).to.equal(400);
    expect(backend.calls).to.have.length(0);
  });

  it('does not serve an rpc without an http annotation', async () => {
    const doc = (await call('GET', '/api/v1/openapi.json')).body as unknown as {
      paths: Record<string, Record<string, { operationId: string }>>;
    };
    // HEAD operations mirror the GET ones: the rpcs are the GET, POST and custom-method operations.
    const ids = Object.values(doc.paths).flatMap((p) =>
      Object.entries(p)
        .filter(([method]) => method !== 'head')
        .map(([, o]) => o.operationId),
    );
    expect(ids).to.have.members([
      'LibraryService_GetBook',
      'LibraryService_GetBook2',
      'LibraryService_UpdateBook',
      'LibraryService_ArchiveBook',
      'LibraryService_ListBooks',
      'LibraryService_Search',
    ]);
    expect(doc.paths['/v1/{name}:archive']).to.have.key('post');
    expect(doc.paths['/v1/{book.name}']).to.have.key('patch');
  });
});

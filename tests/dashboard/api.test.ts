import { expect } from 'chai';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// The dashboard's REST client is a plain browser ES module that only needs fetch, so Node runs the file the
// page loads against a real HTTP server that answers the way the facade does (google.rpc.Status bodies).

interface ApiErrorLike extends Error {
  code: string;
  httpStatus: number;
}
interface ApiClientLike {
  call(method: string, path: string, body?: unknown): Promise<unknown>;
  listRequests(pageSize: number, pageToken?: string): Promise<unknown>;
  submitFeedback(rating: unknown): Promise<unknown>;
}
interface ApiModule {
  ApiClient: new (baseUrl: string, credential: string) => ApiClientLike;
  ApiError: new (...args: unknown[]) => ApiErrorLike;
  errorFromBody(httpStatus: number, body: unknown): ApiErrorLike;
}

const FILE = resolve(dirname(fileURLToPath(import.meta.url)), '../../services/gateway/static/dashboard/api.js');

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

describe('dashboard REST client (services/gateway/static/dashboard/api.js)', () => {
  let m: ApiModule;
  let server: Server;
  let base: string;
  const seen: Seen[] = [];
  let answer: { status: number; body: string } = { status: 200, body: '{}' };

  before(async () => {
    m = (await import(pathToFileURL(FILE).href)) as ApiModule;
    server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        seen.push({
          method: req.method ?? '',
          url: req.url ?? '',
          authorization: req.headers.authorization,
          contentType: req.headers['content-type'],
          body,
        });
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(answer.body);
      });
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((done) => server.close(() => done())));
  beforeEach(() => {
    seen.length = 0;
    answer = { status: 200, body: '{}' };
  });

  it('sends the credential as a bearer token and the proto field names in the body', async () => {
    answer = { status: 200, body: '{"model":"m1","replaced_previous":false}' };
    const client = new m.ApiClient(base, 'rpx_secret');
    const result = await client.submitFeedback({ request_id: 'req_1', score: 4, is_helpful: true });
    expect(result).to.deep.equal({ model: 'm1', replaced_previous: false });
    expect(seen).to.have.length(1);
    expect(seen[0]).to.deep.include({
      method: 'POST',
      url: '/api/v1/insights/feedback',
      authorization: 'Bearer rpx_secret',
      contentType: 'application/json',
    });
    expect(JSON.parse(seen[0]!.body)).to.deep.equal({ request_id: 'req_1', score: 4, is_helpful: true });
  });

  it('pages requests with page_size and page_token query parameters', async () => {
    answer = { status: 200, body: '{"requests":[],"next_page_token":""}' };
    const client = new m.ApiClient(base, 'k');
    await client.listRequests(10);
    await client.listRequests(10, 'tok/+=');
    expect(seen.map((s) => s.url)).to.deep.equal([
      '/api/v1/insights/requests?page_size=10',
      '/api/v1/insights/requests?page_size=10&page_token=tok%2F%2B%3D',
    ]);
  });

  it('turns a google.rpc.Status answer into an ApiError with the status name and message', async () => {
    answer = {
      status: 404,
      body: JSON.stringify({
        code: 5,
        message: 'no request req_x: rate one of your own requests',
        details: [],
        error: {
          message: 'no request req_x: rate one of your own requests',
          type: 'not_found_error',
          code: 'NOT_FOUND',
        },
      }),
    };
    const client = new m.ApiClient(base, 'k');
    const error = await client.call('GET', '/api/v1/insights/learning').then(
      () => expect.fail('the call should have failed'),
      (e: unknown) => e as ApiErrorLike,
    );
    expect(error).to.be.instanceOf(m.ApiError);
    expect(error.code).to.equal('NOT_FOUND');
    expect(error.httpStatus).to.equal(404);
    expect(error.message).to.equal('no request req_x: rate one of your own requests');
  });

  it('reads the status number when no name is given, and a bare 401 as UNAUTHENTICATED', () => {
    expect(m.errorFromBody(400, { code: 3, message: 'bad' }).code).to.equal('INVALID_ARGUMENT');
    const bare = m.errorFromBody(401, undefined);
    expect(bare.code).to.equal('UNAUTHENTICATED');
    expect(bare.message).to.equal('the server answered HTTP 401');
  });

  it('reports an answer that is not JSON as INTERNAL', async () => {
    answer = { status: 200, body: '<html>proxy page</html>' };
    const error = await new m.ApiClient(base, 'k').call('GET', '/api/v1/insights/models').then(
      () => expect.fail('the call should have failed'),
      (e: unknown) => e as ApiErrorLike,
    );
    expect(error.code).to.equal('INTERNAL');
    expect(error.message).to.match(/not JSON/);
  });

  it('reports an unreachable server as UNAVAILABLE with what to check', async () => {
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((done) => closed.close(() => done()));
    const error = await new m.ApiClient(`http://127.0.0.1:${port}`, 'k').call('GET', '/api/v1/insights/models').then(
      () => expect.fail('the call should have failed'),
      (e: unknown) => e as ApiErrorLike,
    );
    expect(error.code).to.equal('UNAVAILABLE');
    expect(error.message).to.match(/could not be reached.*check that it is running/);
  });
});

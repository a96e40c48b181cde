import { expect } from 'chai';
import { writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { contractsImageUrl } from '@routeplex/contracts';
import { contractsFromImage, loadContracts } from '../src/descriptors.js';
import { RouteTable, RouteTableError } from '../src/route-table.js';
import { GatewayError } from '../src/errors.js';
import { buildImage } from './support/fixture-backend.js';

describe('route table', () => {
  it('binds every annotated rpc of the contracts', async () => {
    const table = new RouteTable(await loadContracts(contractsImageUrl));
    expect(table.bindings.map((b) => `${b.httpMethod} ${b.template.source} ${b.method.name}`)).to.have.members([
      'POST /api/v1/insights/feedback SubmitFeedback',
      'GET /api/v1/insights/learning GetLearningDashboard',
      'GET /api/v1/insights/models ListModelStats',
      'GET /api/v1/insights/recommendations ListRecommendations',
      'GET /api/v1/insights/requests ListRequests',
      'DELETE /api/v1/insights/data DeleteLearningData',
      'POST /api/v1/chat/completions CreateChatCompletion',
      'POST /api/v1/chat/completions StreamChatCompletion',
      'POST /api/v1/route SelectModel',
      'GET /api/v1/models ListModels',
      'GET /api/v1/models/{model} GetModel',
    ]);
    const chat = table.match('POST', '/api/v1/chat/completions').bindings;
    expect([chat.unary?.method.name, chat.streaming?.method.name]).to.deep.equal([
      'CreateChatCompletion',
      'StreamChatCompletion',
    ]);
  });

  it('answers NOT_FOUND and 405 with Allow', async () => {
    const table = new RouteTable(await loadContracts(contractsImageUrl));
    expect(() => table.match('GET', '/api/v1/model'))
      .to.throw(GatewayError)
      .with.property('code', 'NOT_FOUND');
    const e = (() => {
      try {
        table.match('PUT', '/api/v1/models');
      } catch (err) {
        return err as GatewayError;
      }
    })();
    expect([e?.httpStatus, e?.headers]).to.deep.equal([405, { allow: 'GET' }]);
  });

  it('refuses two unary rpcs bound to the same method and path, naming both', async () => {
    const file = join(tmpdir(), `conflict-${process.pid}.proto`);
    await writeFile(
      file,
      `syntax = "proto3";
package conflict.v1;
import "google/api/annotations.proto";
message Req {}
message Res {}
service S {
  rpc A(Req) returns (Res) { option (google.api.http) = {get: "/v1/x"}; }
  rpc B(Req) returns (Res) { option (google.api.http) = {get: "/v1/x"}; }
}
`,
    );
    try {
      const image = await buildImage(pathToFileURL(file));
      expect(() => new RouteTable(contractsFromImage(image.bytes))).to.throw(
        RouteTableError,
        /conflict\.v1\.S\.A and conflict\.v1\.S\.B/,
      );
      await rm(image.dir, { recursive: true, force: true });
    } finally {
      await rm(file, { force: true });
    }
  });
});

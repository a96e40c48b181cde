import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { status } from '@grpc/grpc-js';
import { routerV1 } from '@routeplex/contracts';
import { mintJwt } from '@routeplex/platform';
import { openStore } from '@routeplex/store';
import { bearer, failure, insecure, runServiceMain, unary } from '@routeplex/testkit';
import { startFakeUpstream, testCatalogJson } from './harness.js';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const SECRET = 'main-test-secret-main-test-secret-0123';
const CANARY = 'CANARY-5d2e81-SCHLEEM';

describe('RouterService production entry', function () {
  this.timeout(90_000);

  it('serves from its environment with traces on, and no prompt or answer reaches a span, a log line or a table', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rpx-router-main-'));
    const upstream = await startFakeUpstream();
    const catalogPath = join(dir, 'catalog.json');
    await writeFile(catalogPath, JSON.stringify(testCatalogJson(upstream.url)));
    const proc = runServiceMain(
      MAIN,
      {
        ROUTEPLEX_DATA_DIR: join(dir, 'db'),
        ROUTER_GRPC_PORT: '0',
        ROUTEPLEX_JWT_SECRET: SECRET,
        ROUTEPLEX_HMAC_SECRET: 'h'.repeat(40),
        ROUTEPLEX_CATALOG: catalogPath,
        ROUTEPLEX_SIM_LATENCY_SCALE: '0',
        ROUTEPLEX_TRACES: 'console',
        ROUTEPLEX_LOG_LEVEL: 'debug',
        DATABASE_URL: '',
      },
      'RouterService listening',
      // Resolved here: the child starts in the repository root, which does not depend on the platform package.
      ['--import', pathToFileURL(createRequire(import.meta.url).resolve('@routeplex/platform/otel-hook')).href],
    );
    let output = '';
    proc.child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    try {
      const port = await proc.listening;
      const client = new routerV1.RouterServiceClient(`127.0.0.1:${port}`, insecure);
      const md = bearer(await mintJwt({ secret: SECRET, accountId: 'acc_main_test', ttlSeconds: 60 }));
      const messages = (n: number) => [
        { role: 'system', content: `system ${CANARY} ${n}` },
        { role: 'user', content: `Please repeat ${CANARY} number ${n} back to me` },
      ];
      const complete = (req: routerV1.DeepPartial<routerV1.CreateChatCompletionRequest>) =>
        unary<routerV1.CreateChatCompletionRequest, routerV1.CreateChatCompletionResponse>(
          client,
          'createChatCompletion',
          routerV1.CreateChatCompletionRequest.fromPartial(req),
          md,
        );

      const echoed = await complete({ model: 'echo-small', messages: messages(1) });
      expect(echoed.choices[0]!.message!.content).to.include(CANARY);
      const streamed = await new Promise<string>((resolve, reject) => {
        let text = '';
        const call = client.streamChatCompletion(
          routerV1.StreamChatCompletionRequest.fromPartial({ model: 'echo-small', messages: messages(2) }),
          md,
        );
        call.on('data', (m: routerV1.StreamChatCompletionResponse) => (text += m.choices[0]?.delta?.content ?? ''));
        call.on('error', reject);
        call.on('end', () => resolve(text));
      });
      expect(streamed).to.include(CANARY);
      // A provider failure (every allowed candidate fails) and a rejected request.
      expect(
        (
          await failure(
            complete({ model: 'routeplex-ai', messages: messages(3), routing: { allowedModels: ['broken-large'] } }),
          )
        ).code,
      ).to.equal(status.UNAVAILABLE);
      expect((await failure(complete({ model: `no-such-${CANARY}`, messages: messages(4) }))).code).to.equal(
        status.INVALID_ARGUMENT,
      );
      client.close();

      proc.child.kill('SIGTERM');
      expect(await proc.exited).to.equal(0);
      // The console exporter printed the calls' spans (on shutdown at the latest) without their content.
      expect(output).to.include('routeplex.router.v1.RouterService/CreateChatCompletion');
      expect(output).to.include('routeplex.router.v1.RouterService/StreamChatCompletion');
      expect(output + proc.stderr()).not.to.include(CANARY);
      expect(output + proc.stderr()).not.to.include('Please repeat');

      // SIGTERM flushed the two answered requests; the failed and the rejected ones left no entry.
      const store = await openStore({ pgliteDir: join(dir, 'db'), listen: false });
      try {
        expect(await store.countEntries('acc_main_test')).to.equal(2);
        const dump = JSON.stringify(await store.dumpAll());
        expect(dump).to.include(echoed.id);
        expect(dump).not.to.include(CANARY);
      } finally {
        await store.close();
      }
    } finally {
      proc.child.kill('SIGKILL');
      await upstream.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses an invalid environment, naming the variable', async () => {
    const proc = runServiceMain(
      MAIN,
      { ROUTER_GRPC_PORT: 'eighty', ROUTEPLEX_HMAC_SECRET: 'short', ROUTEPLEX_ENHANCEMENT_HOLDOUT: '2' },
      'RouterService listening',
    );
    expect(await proc.exited).to.equal(1);
    expect(proc.stderr()).to.match(/ROUTER_GRPC_PORT/);
    expect(proc.stderr()).to.match(/ROUTEPLEX_HMAC_SECRET/);
    expect(proc.stderr()).to.match(/ROUTEPLEX_ENHANCEMENT_HOLDOUT/);
  });
});

import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { status } from '@grpc/grpc-js';
import { insightsV1 } from '@routeplex/contracts';
import { mintJwt } from '@routeplex/platform';
import { bearer, failure, insecure, runServiceMain, unary } from '@routeplex/testkit';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const SECRET = 'main-test-secret-main-test-secret-0123';

// The tracing hook, as the image loads it; resolved here, since the child starts in the repository root.
const HOOK = pathToFileURL(createRequire(import.meta.url).resolve('@routeplex/platform/otel-hook')).href;
const run = (env: Record<string, string>) => runServiceMain(MAIN, env, 'InsightsService listening', ['--import', HOOK]);

describe('InsightsService production entry', function () {
  this.timeout(90_000);

  it('reads its configuration from the environment, serves on PGlite and stops cleanly on SIGTERM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rpx-insights-main-'));
    const proc = run({
      ROUTEPLEX_DATA_DIR: dir,
      INSIGHTS_GRPC_PORT: '0',
      ROUTEPLEX_JWT_SECRET: SECRET,
      ROUTEPLEX_LOG_LEVEL: 'info',
      ROUTEPLEX_TRACES: 'console',
      DATABASE_URL: '',
    });
    let output = '';
    proc.child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    try {
      const port = await proc.listening;
      const client = new insightsV1.InsightsServiceClient(`127.0.0.1:${port}`, insecure);
      const jwt = await mintJwt({ secret: SECRET, accountId: 'acc_main_test', ttlSeconds: 60 });
      // Authenticated and answered from the (empty) database.
      const dash = await unary<insightsV1.GetLearningDashboardRequest, insightsV1.GetLearningDashboardResponse>(
        client,
        'getLearningDashboard',
        {},
        bearer(jwt),
      );
      expect(dash.stages).to.have.length(12);
      expect(dash.routingInfluence!.totalRequests).to.equal('0');
      const err = await failure(unary(client, 'getLearningDashboard', {}, bearer('rpx_notakeynotakeynotakeynotakey')));
      expect(err.code).to.equal(status.UNAUTHENTICATED);
      client.close();
      proc.child.kill('SIGTERM');
      expect(await proc.exited).to.equal(0);
      // ROUTEPLEX_TRACES=console: the call's span was printed (on shutdown at the latest).
      expect(output).to.include('routeplex.insights.v1.InsightsService/GetLearningDashboard');
    } finally {
      proc.child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses an invalid environment, naming the variable', async () => {
    const proc = run({ INSIGHTS_GRPC_PORT: 'eighty', DATABASE_URL: 'mysql://db' });
    expect(await proc.exited).to.equal(1);
    expect(proc.stderr()).to.match(/INSIGHTS_GRPC_PORT/);
    expect(proc.stderr()).to.match(/DATABASE_URL/);
  });
});

import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { status } from '@grpc/grpc-js';
import { feedbackV1 } from '@routeplex/contracts';
import { mintJwt } from '@routeplex/platform';
import { bearer, failure, insecure, runServiceMain, unary } from '@routeplex/testkit';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const SECRET = 'main-test-secret-main-test-secret-0123';

// The tracing hook, as the image loads it; resolved here, since the child starts in the repository root.
const HOOK = pathToFileURL(createRequire(import.meta.url).resolve('@routeplex/platform/otel-hook')).href;
const run = (env: Record<string, string>) => runServiceMain(MAIN, env, 'FeedbackService listening', ['--import', HOOK]);

describe('FeedbackService production entry', function () {
  this.timeout(90_000);

  it('reads its configuration from the environment, serves on PGlite and stops cleanly on SIGTERM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rpx-feedback-main-'));
    const proc = run({
      ROUTEPLEX_DATA_DIR: dir,
      FEEDBACK_GRPC_PORT: '0',
      ROUTEPLEX_JWT_SECRET: SECRET,
      ROUTEPLEX_LOG_LEVEL: 'info',
      ROUTEPLEX_TRACES: 'console',
      DATABASE_URL: '',
    });
    let output = '';
    proc.child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    try {
      const port = await proc.listening;
      const client = new feedbackV1.FeedbackServiceClient(`127.0.0.1:${port}`, insecure);
      const jwt = await mintJwt({ secret: SECRET, accountId: 'acc_main_test', ttlSeconds: 60 });
      const err = await failure(
        unary(
          client,
          'submitFeedback',
          feedbackV1.SubmitFeedbackRequest.fromPartial({ requestId: 'req_abcdefgh1234', score: 4 }),
          bearer(jwt),
        ),
      );
      // Authenticated, validated, looked up in the database: an unknown id.
      expect(err.code).to.equal(status.NOT_FOUND);
      client.close();
      proc.child.kill('SIGTERM');
      expect(await proc.exited).to.equal(0);
      // ROUTEPLEX_TRACES=console: the call's span was printed (on shutdown at the latest).
      expect(output).to.include('routeplex.feedback.v1.FeedbackService/SubmitFeedback');
    } finally {
      proc.child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses an invalid environment, naming the variable', async () => {
    const proc = run({
      FEEDBACK_GRPC_PORT: 'eighty',
      ROUTEPLEX_RATING_RETENTION_DAYS: '-3',
      FEEDBACK_BATCH_DELAY_MS: '0.5',
    });
    expect(await proc.exited).to.equal(1);
    expect(proc.stderr()).to.match(/FEEDBACK_GRPC_PORT/);
    expect(proc.stderr()).to.match(/ROUTEPLEX_RATING_RETENTION_DAYS/);
    expect(proc.stderr()).to.match(/FEEDBACK_BATCH_DELAY_MS/);
  });
});

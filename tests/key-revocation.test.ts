import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { status } from '@grpc/grpc-js';
import { feedbackV1, insightsV1 } from '@routeplex/contracts';
import { bearer, failure, insecure, runServiceMain, unary } from '@routeplex/testkit';
import pg from 'pg';
import { startTestStack, type TestStack } from './support/stack.js';

const baseUrl = process.env.DATABASE_URL;
const serviceMain = (name: string) => fileURLToPath(new URL(`../services/${name}/src/main.ts`, import.meta.url));

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: baseUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

(baseUrl ? describe : describe.skip)('a revoked API key, with each service in its own process', function () {
  this.timeout(90_000);
  const dbName = `rpx_revocation_${process.pid}_${randomBytes(3).toString('hex')}`;
  let stack: TestStack;
  const procs: ReturnType<typeof runServiceMain>[] = [];

  before(async () => {
    await admin(`create database ${dbName}`);
    const url = new URL(baseUrl!);
    url.pathname = `/${dbName}`;
    // The embedded stack migrates the database and stands in for the process where the key is revoked.
    stack = await startTestStack({ databaseUrl: url.toString() });
    // The services' own mains, caching verified API keys for their default 30 s.
    const env = { DATABASE_URL: url.toString(), ROUTEPLEX_JWT_SECRET: 'revocation-test-secret-0123456789abcdef' };
    procs.push(
      runServiceMain(serviceMain('feedback'), { ...env, FEEDBACK_GRPC_PORT: '0' }, 'FeedbackService listening'),
    );
    procs.push(
      runServiceMain(serviceMain('insights'), { ...env, INSIGHTS_GRPC_PORT: '0' }, 'InsightsService listening'),
    );
  });
  after(async () => {
    for (const p of procs) p.child.kill('SIGKILL');
    await stack?.stop();
    await admin(`drop database if exists ${dbName} with (force)`);
  });

  it('stops working on FeedbackService and InsightsService as soon as it is revoked elsewhere', async () => {
    const [feedbackPort, insightsPort] = await Promise.all(procs.map((p) => p.listening));
    const feedback = new feedbackV1.FeedbackServiceClient(`127.0.0.1:${feedbackPort}`, insecure);
    const insights = new insightsV1.InsightsServiceClient(`127.0.0.1:${insightsPort}`, insecure);
    const account = await stack.store.createAccount('revoked-elsewhere');
    const { key, id: keyId } = await stack.store.createApiKey(account.id);
    // Authenticated: the rating of an unknown request is NOT_FOUND, the dashboard answers.
    const rate = () =>
      failure(unary(feedback, 'submitFeedback', { requestId: 'req_0000000000000000', score: 4 }, bearer(key)));
    const dashboard = () => unary(insights, 'getLearningDashboard', {}, bearer(key));
    expect((await rate()).code).to.equal(status.NOT_FOUND);
    await dashboard();

    await stack.store.revokeApiKey(account.id, keyId);
    // Well inside the services' 30 s key cache: only the revocation's change event can clear it.
    const deadline = Date.now() + 5000;
    let ratingCode = (await rate()).code;
    let dashboardCode = await dashboard().then(
      () => status.OK,
      (err: { code: number }) => err.code,
    );
    while (
      (ratingCode !== status.UNAUTHENTICATED || dashboardCode !== status.UNAUTHENTICATED) &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 50));
      ratingCode = (await rate()).code;
      dashboardCode = await dashboard().then(
        () => status.OK,
        (err: { code: number }) => err.code,
      );
    }
    expect([ratingCode, dashboardCode]).to.deep.equal([status.UNAUTHENTICATED, status.UNAUTHENTICATED]);
    feedback.close();
    insights.close();
  });
});

import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { status } from '@grpc/grpc-js';
import { feedbackV1, insightsV1 } from '@routeplex/contracts';
import { bearer, failure, insecure, runServiceMain, scratchDatabase, unary } from '@routeplex/testkit';
import { startTestStack, type TestStack } from './support/stack.js';

const baseUrl = process.env.DATABASE_URL;
const serviceMain = (name: string) => fileURLToPath(new URL(`../services/${name}/src/main.ts`, import.meta.url));

(baseUrl ? describe : describe.skip)('a revoked API key, with each service in its own process', function () {
  this.timeout(90_000);
  let database: Awaited<ReturnType<typeof scratchDatabase>>;
  let stack: TestStack;
  const procs: ReturnType<typeof runServiceMain>[] = [];

  before(async () => {
    database = await scratchDatabase(baseUrl!, 'revocation');
    // The embedded stack migrates the database and stands in for the process where the key is revoked.
    stack = await startTestStack({ databaseUrl: database.url });
    // The services' own mains, caching verified API keys for their default 30 s.
    const env = { DATABASE_URL: database.url, ROUTEPLEX_JWT_SECRET: 'revocation-test-secret-0123456789abcdef' };
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
    await database?.drop();
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
    const codes = async () => [
      (await rate()).code,
      await dashboard().then(
        () => status.OK,
        (err: { code: number }) => err.code,
      ),
    ];
    const refused = [status.UNAUTHENTICATED, status.UNAUTHENTICATED];
    const deadline = Date.now() + 5000;
    let seen = await codes();
    while (seen.some((code) => code !== status.UNAUTHENTICATED) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      seen = await codes();
    }
    expect(seen).to.deep.equal(refused);
    feedback.close();
    insights.close();
  });
});

import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startTestStack, type TestStack } from './support/stack.js';

const CODE_PROMPT = [{ role: 'user', content: 'Implement binary search over a sorted array in TypeScript.' }];
const baseUrl = process.env.DATABASE_URL;

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: baseUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

(baseUrl ? describe : describe.skip)('two replicas on one PostgreSQL database', function () {
  this.timeout(60_000);
  const dbName = `rpx_replicas_${process.pid}_${randomBytes(3).toString('hex')}`;
  let one: TestStack;
  let two: TestStack;

  before(async () => {
    await withAdmin((c) => c.query(`create database ${dbName}`));
    const url = new URL(baseUrl!);
    url.pathname = `/${dbName}`;
    one = await startTestStack({ databaseUrl: url.toString() });
    two = await startTestStack({ databaseUrl: url.toString() });
  });
  after(async () => {
    await one?.stop();
    await two?.stop();
    await withAdmin((c) => c.query(`drop database if exists ${dbName} with (force)`));
  });

  const choice = async (stack: TestStack, key: string) => {
    const res = await stack.rest('POST', '/api/v1/route', key, { messages: CODE_PROMPT });
    expect(res.status, JSON.stringify(res.json)).to.equal(200);
    return res.json.routing.model as string;
  };

  async function untilChanged(stack: TestStack, key: string, from: string, withinMs: number): Promise<number> {
    const started = Date.now();
    while (Date.now() - started < withinMs) {
      if ((await choice(stack, key)) !== from) return Date.now() - started;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`the other replica still chose ${from} after ${withinMs} ms`);
  }

  async function untilEqual(stack: TestStack, key: string, to: string, withinMs: number): Promise<void> {
    const started = Date.now();
    while ((await choice(stack, key)) !== to) {
      if (Date.now() - started > withinMs)
        throw new Error(`the other replica did not converge on ${to} within ${withinMs} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  it('a rating on one replica reaches the routing of the other within 1 s', async () => {
    const account = await one.newAccount('replicated');
    const target = await choice(two, account.key);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await one.rest('POST', '/api/v1/chat/completions', account.key, {
        model: 'routeplex-ai',
        messages: CODE_PROMPT,
        routing: { allowed_models: [target] },
      });
      expect(res.status).to.equal(200);
      ids.push(res.json.id);
    }
    await one.store.flush();
    // Let both replicas agree on the heuristic contributions first; then only the ratings must travel.
    const settledOn = await choice(one, account.key);
    await untilEqual(two, account.key, settledOn, 1000);
    // Rate the target's answers so that the decision must flip: down if it is chosen, up if it is not.
    const score = settledOn === target ? 1 : 5;
    for (const id of ids) {
      const rated = await one.rest('POST', '/api/v1/insights/feedback', account.key, { request_id: id, score });
      expect(rated.status).to.equal(200);
    }
    expect(await choice(one, account.key)).not.to.equal(settledOn); // same replica: at once
    const ms = await untilChanged(two, account.key, settledOn, 1000);
    expect(ms).to.be.lessThan(1000);
  });

  it('a deletion on one replica reverts the routing of the other within 1 s', async () => {
    const account = await one.newAccount('replicated-delete');
    const fresh = await one.newAccount('fresh');
    const global = await choice(two, fresh.key);
    for (let i = 0; i < 4; i++) {
      const res = await one.rest('POST', '/api/v1/chat/completions', account.key, {
        model: 'routeplex-ai',
        messages: CODE_PROMPT,
        routing: { allowed_models: [global] },
      });
      await one.rest('POST', '/api/v1/insights/feedback', account.key, { request_id: res.json.id, score: 1 });
    }
    const personal = await choice(two, account.key);
    expect(personal).not.to.equal(global);
    expect((await one.rest('DELETE', '/api/v1/insights/data', account.key)).status).to.equal(200);
    await untilChanged(two, account.key, personal, 1000);
    expect(await choice(two, account.key)).to.equal(global);
  });
});

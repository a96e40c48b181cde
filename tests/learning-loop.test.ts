import { expect } from 'chai';
import { startTestStack, type TestStack } from './support/stack.js';

const CODE_PROMPT = [
  { role: 'user', content: 'Write a Python function that merges two sorted lists into one sorted list.' },
];

async function choice(stack: TestStack, key: string): Promise<string> {
  const res = await stack.rest('POST', '/api/v1/route', key, { messages: CODE_PROMPT });
  expect(res.status, JSON.stringify(res.json)).to.equal(200);
  return res.json.routing.model;
}

describe('learning loop through the REST facade (router, feedback, insights, store)', function () {
  this.timeout(60_000);
  let stack: TestStack;
  let alice: { id: string; key: string };
  let bob: { id: string; key: string };

  before(async () => {
    stack = await startTestStack();
    alice = await stack.newAccount('alice');
    bob = await stack.newAccount('bob');
  });
  after(() => stack.stop());

  it('low ratings on one query type move that account away from a model; another account is unchanged', async () => {
    const bobBefore = await choice(stack, bob.key);
    const target = await choice(stack, alice.key);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await stack.rest('POST', '/api/v1/chat/completions', alice.key, {
        model: 'routeplex-ai',
        messages: CODE_PROMPT,
        routing: { allowed_models: [target] },
      });
      expect(res.status, JSON.stringify(res.json)).to.equal(200);
      expect(res.json.routing.model).to.equal(target);
      ids.push(res.json.id);
    }
    for (const id of ids) {
      const rated = await stack.rest('POST', '/api/v1/insights/feedback', alice.key, {
        request_id: id,
        score: 1,
        is_helpful: false,
      });
      expect(rated.status, JSON.stringify(rated.json)).to.equal(200);
    }
    expect(await choice(stack, alice.key)).not.to.equal(target);
    expect(await choice(stack, bob.key)).to.equal(bobBefore);

    const dashboard = await stack.rest('GET', '/api/v1/insights/learning', alice.key);
    expect(dashboard.status).to.equal(200);
    const row = dashboard.json.model_stats.find(
      (s: any) => s.model === target && s.query_type === 'QUERY_TYPE_CODE_ALGORITHM',
    );
    expect(Number(row.rating_count)).to.equal(4);
  });

  it("another account's request id answers NOT_FOUND, like an unknown one", async () => {
    const res = await stack.rest('POST', '/api/v1/chat/completions', bob.key, {
      model: 'routeplex-ai',
      messages: CODE_PROMPT,
    });
    const foreign = await stack.rest('POST', '/api/v1/insights/feedback', alice.key, {
      request_id: res.json.id,
      score: 5,
    });
    const unknownId = 'req_' + 'x'.repeat(22);
    const unknown = await stack.rest('POST', '/api/v1/insights/feedback', alice.key, {
      request_id: unknownId,
      score: 5,
    });
    expect(foreign.status).to.equal(404);
    expect(unknown.status).to.equal(404);
    expect(foreign.json.message.replace(res.json.id, 'ID')).to.equal(unknown.json.message.replace(unknownId, 'ID'));
  });

  it('deleting the learning data reverts routing at once and leaves no row of the account', async () => {
    const carol = await stack.newAccount('carol'); // no history: global patterns only
    const initial = await choice(stack, carol.key);
    expect(await choice(stack, alice.key)).not.to.equal(initial);
    const deleted = await stack.rest('DELETE', '/api/v1/insights/data', alice.key);
    expect(deleted.status, JSON.stringify(deleted.json)).to.equal(200);
    expect(Number(deleted.json.deleted_entries)).to.be.greaterThan(0);
    await stack.store.flush();
    const dump = await stack.store.dumpAll();
    for (const [table, rows] of Object.entries(dump)) {
      if (table === 'accounts' || table === 'api_keys') continue; // the account itself remains; only its learning data goes
      expect(
        rows.filter((r) => r.account_id === alice.id),
        table,
      ).to.have.length(0);
    }
    expect(await choice(stack, alice.key)).to.equal(initial);
  });
});

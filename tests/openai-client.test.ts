import { expect } from 'chai';
import OpenAI from 'openai';
import { startTestStack, type TestStack } from './support/stack.js';

describe('the official openai client against the real stack', function () {
  this.timeout(60_000);
  let stack: TestStack;
  let client: OpenAI;
  /** The account of the development key the client uses. */
  let accountId: string;

  before(async () => {
    stack = await startTestStack();
    client = new OpenAI({ apiKey: stack.devApiKey, baseURL: `${stack.gatewayUrl}/api/v1`, maxRetries: 0 });
    accountId = (await stack.store.findAccountByKeyHash(stack.store.hashApiKey(stack.devApiKey)))!.accountId;
  });
  after(() => stack.stop());

  it('completes with model routeplex-ai, and the entry is recorded under the answer id', async () => {
    const before = await stack.store.countEntries();
    const res = await client.chat.completions.create({
      model: 'routeplex-ai',
      messages: [{ role: 'user', content: 'Translate "good morning" into French.' }],
    });
    expect(res.id).to.match(/^req_/);
    expect(res.choices[0]!.message.content).to.match(/simulated/i);
    const routing = (res as unknown as { routing: { query_type: string; auto_routed: boolean } }).routing;
    expect(routing.auto_routed).to.equal(true);
    expect(routing.query_type).to.match(/^QUERY_TYPE_[A-Z_]+$/);
    await stack.store.flush();
    expect(await stack.store.countEntries()).to.equal(before + 1);
  });

  it('streams with stream: true and records the streamed answer', async () => {
    const stream = await client.chat.completions.create({
      model: 'routeplex-ai',
      stream: true,
      messages: [{ role: 'user', content: 'Write a haiku about the sea.' }],
    });
    let text = '';
    let id = '';
    let finish: string | null = null;
    const finishes: unknown[] = [];
    const roles: unknown[] = [];
    for await (const chunk of stream) {
      id = chunk.id;
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      finishes.push(chunk.choices[0]?.finish_reason);
      roles.push(chunk.choices[0]?.delta?.role);
    }
    expect(text.length).to.be.greaterThan(10);
    expect(finish).to.be.oneOf(['stop', 'length']);
    // Clients that parse these as enums (the .NET SDK, for one) refuse an empty string: absent or a value.
    expect(finishes.filter((f) => f !== undefined && f !== null)).to.deep.equal([finish]);
    expect(roles.filter((r) => r !== undefined)).to.deep.equal(['assistant']);
    await stack.store.flush();
    expect((await stack.store.getEntry(accountId, id)).kind).to.equal('completion');
  });

  it('bounds the answer by max_completion_tokens, the name newer clients send instead of max_tokens', async () => {
    const res = await client.chat.completions.create({
      model: 'sim-muse',
      max_completion_tokens: 2,
      messages: [{ role: 'user', content: 'Write a long essay about the history of the printing press.' }],
    });
    expect(res.choices[0]!.finish_reason).to.equal('length');
    expect(res.usage!.completion_tokens).to.be.at.most(2);
  });

  it('takes content as an array of text parts and stop as a string', async () => {
    const res = await client.chat.completions.create({
      model: 'routeplex-ai',
      // Every simulated answer starts "[simulated <model>] ": it ends before the first "]".
      stop: ']',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Write a short story' },
            { type: 'text', text: 'about a lighthouse keeper.' },
          ],
        },
      ],
    });
    expect(res.choices[0]!.message.content).to.match(/^\[simulated [\w-]+$/);
    await stack.store.flush();
    expect((await stack.store.getEntry(accountId, res.id)).queryType).to.equal('creative');
  });

  it('answers in JSON that follows the schema of response_format, from a model that can', async () => {
    const res = await client.chat.completions.create({
      model: 'routeplex-ai',
      messages: [{ role: 'user', content: 'Name the capital of France and its population.' }],
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'city',
          strict: true,
          schema: {
            type: 'object',
            properties: { name: { type: 'string' }, population: { type: 'integer' } },
            required: ['name', 'population'],
            additionalProperties: false,
          },
        },
      },
    });
    const answer = JSON.parse(res.choices[0]!.message.content!);
    expect(answer).to.have.all.keys('name', 'population');
    expect(answer.population).to.be.a('number');
    await stack.store.flush();
    // The answer was judged as JSON: it parsed.
    expect((await stack.store.getEntry(accountId, res.id)).signals).to.include({ json_valid: 1 });
    const chosen = (res as unknown as { routing: { model: string } }).routing.model;
    expect(((await client.models.retrieve(chosen)) as unknown as { capabilities: string[] }).capabilities).to.include(
      'json_schema',
    );
  });

  it('continues a conversation with the message the stream helper returns (refusal and parsed included)', async () => {
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Write a haiku about rain.' }];
    const first = await client.chat.completions.stream({ model: 'routeplex-ai', messages }).finalChatCompletion();
    const said = first.choices[0]!.message;
    expect(said).to.have.property('refusal');
    messages.push(said, { role: 'user', content: 'Now one about snow.' });
    const next = await client.chat.completions.create({ model: 'routeplex-ai', messages });
    expect(next.choices[0]!.message.content).to.be.a('string').and.not.equal('');
  });

  it('lists the models', async () => {
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).to.include('routeplex-ai');
    expect(ids.some((id) => id.startsWith('sim-'))).to.equal(true);
  });

  it('retrieves one model, and raises NotFoundError for an id it does not list', async () => {
    const model = await client.models.retrieve('routeplex-ai');
    expect(model).to.include({ id: 'routeplex-ai', object: 'model', owned_by: 'routeplex' });
    // The client encodes a slash in the id as %2F (ids such as "vendor/model" are common).
    try {
      await client.models.retrieve('vendor/no-such-model');
      expect.fail('should throw');
    } catch (err) {
      expect(err).to.be.instanceOf(OpenAI.NotFoundError);
      expect((err as Error).message).to.match(/no enabled model "vendor\/no-such-model"/);
    }
    try {
      await client.models.retrieve('no-such-model');
      expect.fail('should throw');
    } catch (err) {
      expect(err).to.be.instanceOf(OpenAI.NotFoundError);
      expect((err as Error).message).to.match(/no enabled model "no-such-model"/);
    }
  });

  it('raises the matching error classes, and records nothing for rejected requests', async () => {
    await stack.store.flush();
    const before = await stack.store.countEntries();
    const bad = new OpenAI({ apiKey: 'rpx_' + 'n'.repeat(30), baseURL: `${stack.gatewayUrl}/api/v1`, maxRetries: 0 });
    try {
      await bad.chat.completions.create({ model: 'routeplex-ai', messages: [{ role: 'user', content: 'hi' }] });
      expect.fail('should throw');
    } catch (err) {
      expect(err).to.be.instanceOf(OpenAI.AuthenticationError);
    }
    try {
      await client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] });
      expect.fail('should throw');
    } catch (err) {
      expect(err).to.be.instanceOf(OpenAI.BadRequestError);
      expect((err as Error).message).to.match(/unknown model/);
    }
    await stack.store.flush();
    expect(await stack.store.countEntries()).to.equal(before);
  });
});

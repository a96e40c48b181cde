import { expect } from 'chai';
import { typeV1 } from '@routeplex/contracts';
import { grpcError, startFakeUpstream, startTestRouter } from './harness.js';

const CANARY = 'CANARY-7f3a9c-PLUMBUS';

describe('privacy: prompt and answer text never reach a table or a log line', function () {
  let upstream: Awaited<ReturnType<typeof startFakeUpstream>>;
  let r: Awaited<ReturnType<typeof startTestRouter>>;

  before(async () => {
    upstream = await startFakeUpstream();
    r = await startTestRouter({ upstreamUrl: upstream.url });
  });
  after(async () => {
    await r.close();
    await upstream.close();
  });

  it('leaves no canary after unary, streamed, fallback, failed and selection requests', async () => {
    const messages = (n: number) => [
      { role: 'system', content: `system ${CANARY} ${n}` },
      { role: 'user', content: `Please repeat ${CANARY} number ${n} back to me` },
    ];
    // unary, the answer echoes the canary
    const unary = await r.complete({ model: 'echo-small', messages: messages(1) });
    expect(unary.choices[0]!.message!.content).to.include(CANARY);
    // streamed
    const chunks = await r.stream({ model: 'echo-small', messages: messages(2) });
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).to.include(CANARY);
    // automatic routing with a fallback from a failing model (quality first: the failing model leads)
    const fallback = await r.complete({
      model: 'routeplex-ai',
      messages: messages(3),
      routing: { allowedModels: ['broken-large', 'echo-small'], preference: typeV1.Preference.PREFERENCE_QUALITY },
    });
    expect(fallback.routing!.attempts.length).to.equal(2);
    // every candidate failing
    await grpcError(
      r.complete({ model: 'routeplex-ai', messages: messages(4), routing: { allowedModels: ['broken-large'] } }),
    );
    // a rejected request and a routing decision only
    await grpcError(r.complete({ model: `no-such-${CANARY}`, messages: messages(5) }));
    await r.select({ messages: messages(6) });

    await r.store.flush();
    const dump = JSON.stringify(await r.store.dumpAll());
    expect(dump).to.include(unary.id); // the dump really holds the records
    expect(dump).not.to.include(CANARY);
    expect(dump).not.to.include('Please repeat');
    const logs = r.logLines.join('\n');
    expect(logs).not.to.include(CANARY);
  });
});

import { expect } from 'chai';
import { StoreError } from '../src/index.js';
import { WriteBatcher, addHistograms, mergeWrites, type MergedBatch } from '../src/write-batcher.js';
import { heuristicWrite } from './helpers/fixtures.js';

const options = { maxEntries: 100, maxDelayMs: 5, maxPending: 10_000, attempts: 3, retryBaseDelayMs: 1 };

/** The commit side of the batcher: keeps what it was given, like a database would. */
function recordingCommit(fail?: (batch: MergedBatch, call: number) => unknown) {
  const batches: MergedBatch[] = [];
  let calls = 0;
  const commit = async (batch: MergedBatch) => {
    calls++;
    await new Promise((resolve) => setImmediate(resolve));
    const error = fail?.(batch, calls);
    if (error !== undefined) throw error;
    batches.push(batch);
  };
  return { commit, batches, calls: () => calls };
}

describe('write batcher', () => {
  describe('mergeWrites', () => {
    it('sums the deltas of each cell and counter once per key', () => {
      const writes = [
        heuristicWrite('acc_a', { quality: 0.5, bucket: 1 }),
        heuristicWrite('acc_a', { quality: 1, bucket: 3 }),
        heuristicWrite('acc_b', { quality: 0 }),
      ];
      const batch = mergeWrites(writes);
      expect(batch.entries).to.have.length(3);
      expect(batch.accountCells.size).to.equal(2);
      const a = [...batch.accountCells.values()].find((c) => c.accountId === 'acc_a');
      expect(a?.delta.n).to.equal(2);
      expect(a?.delta.q).to.equal(1.5);
      expect(a?.delta.latencyHist.slice(0, 4)).to.deep.equal([0, 1, 0, 1]);
      expect([...batch.counters.values()].find((c) => c.accountId === 'acc_a')?.requests).to.equal(2);
      expect([...batch.accountIds]).to.deep.equal(['acc_a', 'acc_b']);
    });

    it('counts the answered requests merged into each cell, not its failed calls', () => {
      const answered = heuristicWrite('acc_a', { scale: 2 ** 30 });
      const failedThenAnswered = heuristicWrite('acc_a', { scale: 2 ** -5 });
      const { queryType } = failedThenAnswered.entry;
      failedThenAnswered.cellDeltas.unshift({
        accountId: 'acc_a',
        queryType,
        model: 'down-model',
        delta: { ...failedThenAnswered.cellDeltas[0]!.delta, n: 0, q: 0, q2: 0, requests: 0, failures: 1 },
      });
      const batch = mergeWrites([answered, failedThenAnswered]);
      const answers = Object.fromEntries([...batch.accountCells.values()].map((c) => [c.model, c.answers]));
      expect(answers).to.deep.equal({ 'gpt-4o-mini': 2, 'down-model': 0 });
    });

    it('adds histograms of different lengths as if padded with zeros', () => {
      expect(addHistograms([1, 2], [10, 20, 30])).to.deep.equal([11, 22, 30]);
    });
  });

  it('commits in batches of at most maxEntries and resolves every write', async () => {
    const recorder = recordingCommit();
    const batcher = new WriteBatcher(recorder.commit, options);
    const writes = Array.from({ length: 1000 }, (_, i) => heuristicWrite(`acc_${i % 7}`));
    await Promise.all(writes.map((w) => batcher.enqueue(w)));
    expect(recorder.batches.reduce((sum, b) => sum + b.entries.length, 0)).to.equal(1000);
    expect(Math.max(...recorder.batches.map((b) => b.entries.length))).to.be.at.most(100);
    expect(recorder.batches.length).to.be.lessThan(1000 / 10);
    expect(batcher.pendingCount).to.equal(0);
  });

  it('commits a lone write after the delay without a flush', async () => {
    const recorder = recordingCommit();
    const batcher = new WriteBatcher(recorder.commit, options);
    await batcher.enqueue(heuristicWrite('acc_lone'));
    expect(recorder.batches).to.have.length(1);
  });

  it('keeps batching while a commit is in flight instead of committing one write per transaction', async () => {
    const commits: number[] = [];
    const slowCommit = async (batch: MergedBatch) => {
      commits.push(batch.entries.length);
      await new Promise((resolve) => setTimeout(resolve, 4)); // a database round trip
    };
    const batcher = new WriteBatcher(slowCommit, { ...options, maxDelayMs: 25 });
    const acknowledged: Promise<void>[] = [];
    for (let i = 0; i < 60; i++) {
      acknowledged.push(batcher.enqueue(heuristicWrite(`acc_${i % 3}`))); // one write every ~1 ms, like steady traffic
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await Promise.all(acknowledged);
    expect(commits.reduce((a, b) => a + b, 0)).to.equal(60);
    expect(commits.length).to.be.at.most(12);
  });

  it('commits everything at once on flush, without waiting for the delay', async () => {
    const recorder = recordingCommit();
    const batcher = new WriteBatcher(recorder.commit, { ...options, maxDelayMs: 60_000 });
    const queued = [batcher.enqueue(heuristicWrite('acc_f1')), batcher.enqueue(heuristicWrite('acc_f2'))];
    const started = Date.now();
    await batcher.flush();
    await Promise.all(queued);
    expect(Date.now() - started).to.be.lessThan(5_000);
    expect(recorder.batches.reduce((sum, b) => sum + b.entries.length, 0)).to.equal(2);
  });

  it('flush waits for the writes queued or in flight at the call, not for an empty queue', async () => {
    let commits = 0;
    let produced = 0;
    let producing = true;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const batcher: WriteBatcher = new WriteBatcher(
      async () => {
        commits++;
        if (commits === 1) await gate;
        // Steady traffic: a new write arrives during every commit, so the queue is never empty for long.
        if (producing && produced < 50) {
          produced++;
          void batcher.enqueue(heuristicWrite('acc_steady'));
        }
        await new Promise((resolve) => setImmediate(resolve));
      },
      { ...options, maxDelayMs: 60_000 },
    );
    const inFlight = batcher.enqueue(heuristicWrite('acc_steady'));
    let firstFlushed = false;
    const firstFlush = batcher.flush().then(() => {
      firstFlushed = true;
    });
    const queued = batcher.enqueue(heuristicWrite('acc_steady')); // waits behind the write in flight
    let commitsAtFlush = -1;
    const secondFlush = batcher.flush().then(() => {
      commitsAtFlush = commits;
    });
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(firstFlushed, 'a flush must wait for the write in flight').to.equal(false);
    release();
    await firstFlush;
    await secondFlush;
    await Promise.all([inFlight, queued]);
    // The write in flight and the one queued behind it: two commits (three at most, if a write that came in
    // meanwhile shared a batch), not the 50 of the producer that only stops below.
    expect(commitsAtFlush).to.be.within(2, 3);
    producing = false;
    await batcher.close();
    expect(batcher.pendingCount).to.equal(0);
  });

  it('counts a batch as written when its commit was answered by a lost connection but had committed', async () => {
    // The first attempt commits and then loses its connection; the retry finds the entries there.
    const batches: MergedBatch[] = [];
    let calls = 0;
    const batcher = new WriteBatcher(async (batch) => {
      calls++;
      if (calls === 1) {
        batches.push(batch);
        throw Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
      }
      throw Object.assign(new Error('duplicate key value violates unique constraint'), {
        code: '23505',
        constraint: 'request_entries_pkey',
      });
    }, options);
    const writes = [heuristicWrite('acc_lost'), heuristicWrite('acc_lost')];
    await Promise.all(writes.map((w) => batcher.enqueue(w)));
    expect(calls).to.equal(2);
    expect(batches).to.have.length(1);
    expect(batches[0]!.entries).to.have.length(2);
    // Without a lost connection first, a taken key is an error as before.
    const strict = new WriteBatcher(async () => {
      throw Object.assign(new Error('duplicate'), { code: '23505', constraint: 'request_entries_pkey' });
    }, options);
    let refused: unknown;
    await strict.enqueue(heuristicWrite('acc_dup')).catch((e: unknown) => (refused = e));
    expect(refused).to.be.instanceOf(StoreError);
  });

  it('retries a transient failure and then succeeds', async () => {
    const recorder = recordingCommit((_, call) =>
      call === 1 ? Object.assign(new Error('deadlock detected'), { code: '40P01' }) : undefined,
    );
    const batcher = new WriteBatcher(recorder.commit, options);
    await batcher.enqueue(heuristicWrite('acc_retry'));
    expect(recorder.calls()).to.equal(2);
    expect(recorder.batches).to.have.length(1);
  });

  it('gives up after the last attempt with UNAVAILABLE', async () => {
    const recorder = recordingCommit(() => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    const batcher = new WriteBatcher(recorder.commit, options);
    let error: unknown;
    try {
      await batcher.enqueue(heuristicWrite('acc_down'));
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(StoreError).with.property('code', 'UNAVAILABLE');
    expect(recorder.calls()).to.equal(options.attempts);
  });

  it('isolates the one write that a batch cannot commit', async () => {
    const poison = heuristicWrite('acc_poison');
    const recorder = recordingCommit((batch) =>
      batch.entries.some((e) => e.id === poison.entry.id)
        ? Object.assign(new Error('check violation'), { code: '23514' })
        : undefined,
    );
    const batcher = new WriteBatcher(recorder.commit, options);
    const good = [heuristicWrite('acc_ok'), heuristicWrite('acc_ok')];
    const results = await Promise.allSettled([
      batcher.enqueue(good[0]!),
      batcher.enqueue(poison),
      batcher.enqueue(good[1]!),
    ]);
    expect(results.map((r) => r.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
    expect(recorder.batches.flatMap((b) => b.entries.map((e) => e.id))).to.have.members([
      good[0]!.entry.id,
      good[1]!.entry.id,
    ]);
  });

  it('does not raise an unhandled rejection for a failed write nobody awaits', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const recorder = recordingCommit(() => Object.assign(new Error('check violation'), { code: '23514' }));
      const batcher = new WriteBatcher(recorder.commit, options);
      void batcher.enqueue(heuristicWrite('acc_ignored'));
      await batcher.flush();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).to.deep.equal([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('refuses a second write of a queued request id, a full queue and writes after close', async () => {
    const recorder = recordingCommit();
    const batcher = new WriteBatcher(recorder.commit, { ...options, maxPending: 2, maxDelayMs: 1000 });
    const first = heuristicWrite('acc_q');
    void batcher.enqueue(first);
    expect(() => batcher.enqueue(heuristicWrite('acc_q', { overrides: { id: first.entry.id } })))
      .to.throw(StoreError)
      .with.property('code', 'ALREADY_EXISTS');
    void batcher.enqueue(heuristicWrite('acc_q'));
    expect(() => batcher.enqueue(heuristicWrite('acc_q')))
      .to.throw(StoreError)
      .with.property('code', 'RESOURCE_EXHAUSTED');
    await batcher.close();
    expect(recorder.batches.flatMap((b) => b.entries)).to.have.length(2);
    expect(() => batcher.enqueue(heuristicWrite('acc_q')))
      .to.throw(StoreError)
      .with.property('reason', 'STORE_CLOSED');
  });
});

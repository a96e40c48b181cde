import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PgliteThread } from '../src/index.js';

describe('PgliteThread', function () {
  this.timeout(60_000);
  let db: PgliteThread;
  before(async () => {
    db = new PgliteThread();
    await db.waitReady;
  });
  after(() => db.close());

  it('answers queries with typed rows, int8 and numeric as numbers', async () => {
    const result = await db.query<{ big: number; exact: number; at: Date; list: number[]; doc: unknown }>(
      `select 9007199254740::int8 as big, 1.25::numeric as exact, timestamptz '2026-01-02T03:04:05Z' as at,
              array[1.5, 2]::float8[] as list, '{"a": 1}'::jsonb as doc`,
    );
    expect(result.rows).to.deep.equal([
      { big: 9007199254740, exact: 1.25, at: new Date('2026-01-02T03:04:05Z'), list: [1.5, 2], doc: { a: 1 } },
    ]);
  });

  it('passes parameters and reports affected rows', async () => {
    await db.exec('create table thread_probe (id integer primary key, label text)');
    const inserted = await db.query('insert into thread_probe select * from unnest($1::int[], $2::text[])', [
      [1, 2, 3],
      ['a', 'b', 'c'],
    ]);
    expect(inserted.affectedRows).to.equal(3);
    expect((await db.query<{ n: number }>('select count(*) as n from thread_probe')).rows[0]?.n).to.equal(3);
  });

  it('rejects with the PostgreSQL error code and without the statement or its parameters', async () => {
    let caught: unknown;
    try {
      await db.query('insert into thread_probe (id, label) values ($1, $2)', [1, 'secret-parameter']);
    } catch (error) {
      caught = error;
    }
    expect(caught).to.be.instanceOf(Error);
    const error = caught as Error & Record<string, unknown>;
    expect(error.code).to.equal('23505');
    expect(error.constraint).to.equal('thread_probe_pkey');
    expect(JSON.stringify({ ...error, message: error.message })).not.to.include('secret-parameter');
    expect(error).not.to.have.property('query');
  });

  it('delivers notifications to listeners until they unsubscribe', async () => {
    const seen: string[] = [];
    const unsubscribe = db.onNotification((channel, payload) => seen.push(`${channel}:${payload}`));
    await db.query('listen thread_channel');
    await db.query(`select pg_notify('thread_channel', 'one')`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    unsubscribe();
    await db.query(`select pg_notify('thread_channel', 'two')`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen).to.deep.equal(['thread_channel:one']);
  });

  it('refuses queries once closed', async () => {
    const other = new PgliteThread();
    await other.waitReady;
    await other.close();
    let caught: unknown;
    try {
      await other.query('select 1');
    } catch (error) {
      caught = error;
    }
    expect(String(caught)).to.match(/exited/);
  });

  it('starts whatever flags the calling process was given (an inline module script here)', async () => {
    const script = `const { PgliteThread } = await import(${JSON.stringify(new URL('../src/index.ts', import.meta.url).href)});
      const db = new PgliteThread(); const r = await db.query('select 41 + 1 as n'); console.log(r.rows[0].n); await db.close();`;
    const { stdout } = await promisify(execFile)(process.execPath, [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      script,
    ]);
    expect(stdout.trim()).to.equal('42');
  });

  it('reports a thread that dies on its own once, fails every query after it, and still closes', async () => {
    const failures: Error[] = [];
    const doomed = new PgliteThread(undefined, { onFailure: (error) => failures.push(error) });
    await doomed.waitReady;
    // Stands in for a crash of the database thread (out of memory in WebAssembly, say).
    await (doomed as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    expect(failures).to.have.length(1);
    expect(failures[0]!.message).to.match(/embedded database thread exited/);
    let caught: unknown;
    try {
      await doomed.query('select 1');
    } catch (error) {
      caught = error;
    }
    expect(caught).to.equal(failures[0]);
    await doomed.close();

    // A thread closed on purpose is not a failure.
    const closed = new PgliteThread(undefined, { onFailure: (error) => failures.push(error) });
    await closed.waitReady;
    await closed.close();
    expect(failures).to.have.length(1);
  });
});

import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreError, openStore, parseDatabaseUrl } from '../src/index.js';
import { heuristicWrite } from './helpers/fixtures.js';

async function openFailure(options: Parameters<typeof openStore>[0]): Promise<StoreError> {
  try {
    const store = await openStore(options);
    await store.close();
  } catch (error) {
    expect(error).to.be.instanceOf(StoreError);
    return error as StoreError;
  }
  throw new Error('expected openStore to fail');
}

describe('connection', function () {
  this.timeout(60_000);

  describe('parseDatabaseUrl', () => {
    const cases: [string, string, RegExp][] = [
      ['empty', '', /empty/],
      ['not a URL', 'postgres//user:s3cret@host/db', /cannot be parsed/],
      ['a bad port', 'postgres://user:s3cret@host:port/db', /cannot be parsed/],
      ['another scheme', 'mysql://user:s3cret@host:3306/db', /scheme is "mysql"/],
      ['no database', 'postgres://user:s3cret@host:5432', /no database/],
    ];
    for (const [label, url, pattern] of cases) {
      it(`refuses ${label}, saying how to write it and never quoting the password`, () => {
        let error: unknown;
        try {
          parseDatabaseUrl(url);
        } catch (e) {
          error = e;
        }
        expect(error).to.be.instanceOf(StoreError);
        const storeError = error as StoreError;
        expect(storeError.code).to.equal('INVALID_ARGUMENT');
        expect(storeError.reason).to.equal('DATABASE_URL_MALFORMED');
        expect(storeError.message).to.match(pattern);
        expect(storeError.message).to.include('postgres://USER:PASSWORD@HOST:5432/DATABASE');
        expect(storeError.message).not.to.include('s3cret');
      });
    }

    it('accepts a URL and redacts its password', () => {
      const parsed = parseDatabaseUrl('postgresql://app:s3cret@db.internal:6432/routeplex');
      expect(parsed).to.include({ host: 'db.internal', port: 6432, database: 'routeplex', user: 'app' });
      expect(parsed.redacted).to.equal('postgresql://app:***@db.internal:6432/routeplex');
    });
  });

  it('reports an unreachable server as UNAVAILABLE, naming host and port but not the password', async () => {
    const error = await openFailure({
      databaseUrl: 'postgres://postgres:hunter2@127.0.0.1:1/test',
      connectTimeoutMs: 2000,
    });
    expect(error.code).to.equal('UNAVAILABLE');
    expect(error.reason).to.equal('DATABASE_UNREACHABLE');
    expect(error.message).to.include('127.0.0.1:1');
    expect(error.message).to.match(/start PostgreSQL|fix the host/);
    expect(error.message).not.to.include('hunter2');
  });

  it('refuses both a database URL and an embedded database', async () => {
    const error = await openFailure({ databaseUrl: 'postgres://a@localhost/b', pgliteDir: '/tmp/x' });
    expect(error.code).to.equal('INVALID_ARGUMENT');
  });

  it('refuses a batch size of zero', async () => {
    const error = await openFailure({ batch: { maxEntries: 0 } });
    expect(error.message).to.include('batch.maxEntries');
  });

  const databaseUrl = process.env.DATABASE_URL;
  (databaseUrl ? it : it.skip)('names a missing database and how to create it', async () => {
    const url = new URL(databaseUrl as string);
    url.pathname = '/rpx_store_no_such_database';
    const error = await openFailure({ databaseUrl: url.toString() });
    expect(error.reason).to.equal('DATABASE_MISSING');
    expect(error.message).to.include('createdb rpx_store_no_such_database');
  });

  describe('PGlite in a folder', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'rpx-store-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('keeps committed writes across close and reopen', async () => {
      const first = await openStore({ pgliteDir: join(dir, 'db'), listen: false });
      for (let i = 0; i < 20; i++) void first.enqueue(heuristicWrite('acc_disk'));
      await first.close();
      const second = await openStore({ pgliteDir: join(dir, 'db'), listen: false });
      try {
        expect(await second.countEntries('acc_disk')).to.equal(20);
        expect((await second.loadGlobalCells())[0]?.n).to.equal(20);
      } finally {
        await second.close();
      }
    });

    it('is open in one process at a time, and a lock left by a process that is gone is taken over', async () => {
      const folder = join(dir, 'db');
      const first = await openStore({ pgliteDir: folder, listen: false });
      try {
        const second = await openFailure({ pgliteDir: folder, listen: false });
        expect(second).to.include({ code: 'FAILED_PRECONDITION', reason: 'EMBEDDED_DATABASE_UNAVAILABLE' });
        expect(second.message).to.include(`open in process ${process.pid}`);
        expect(second.message).to.include('stop that process');
      } finally {
        await first.close();
      }
      // A process that died with the folder open (its pid no longer runs).
      const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
      await writeFile(join(folder, 'routeplex.lock'), gone);
      const third = await openStore({ pgliteDir: folder, listen: false });
      await third.close();
      expect(existsSync(join(folder, 'routeplex.lock'))).to.equal(false);
    });

    it('reports a folder that cannot hold a database', async () => {
      const file = join(dir, 'not-a-folder');
      await writeFile(file, 'plain file');
      const error = await openFailure({ pgliteDir: file });
      expect(error.code).to.equal('UNAVAILABLE');
      expect(error.reason).to.equal('EMBEDDED_DATABASE_UNAVAILABLE');
      expect(error.message).to.include('writable');
    });
  });
});

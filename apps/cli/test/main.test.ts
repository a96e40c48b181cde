import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Authenticator } from '@routeplex/platform';
import { hashApiKey, openStore } from '@routeplex/store';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const JWT_SECRET = 'cli-test-secret-cli-test-secret-0123456';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the `routeplex` command as a user would: its own process, configuration from the environment. */
function routeplex(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', MAIN, ...args],
      // DATABASE_URL is cleared: these runs use the PGlite folder of the data directory.
      { env: { ...process.env, DATABASE_URL: '', ROUTEPLEX_LOG_LEVEL: 'warn', ...env } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('routeplex command', function () {
  this.timeout(60_000);
  let dir: string;
  let env: Record<string, string>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rpx-cli-'));
    env = { ROUTEPLEX_DATA_DIR: dir, ROUTEPLEX_JWT_SECRET: JWT_SECRET };
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function withStore<T>(fn: (store: Awaited<ReturnType<typeof openStore>>) => Promise<T>): Promise<T> {
    const store = await openStore({ pgliteDir: join(dir, 'pglite'), listen: false });
    try {
      return await fn(store);
    } finally {
      await store.close();
    }
  }

  it('creates an account with a working API key, adds a second key and revokes the first', async () => {
    const created = await routeplex(['account', 'create', 'acme'], env);
    expect(created.code, created.stderr).to.equal(0);
    const account = JSON.parse(created.stdout) as { account_id: string; key_id: string; api_key: string };
    expect(account.api_key).to.match(/^rpx_/);

    const added = await routeplex(['key', 'create', account.account_id], env);
    expect(added.code, added.stderr).to.equal(0);
    const second = JSON.parse(added.stdout) as { account_id: string; key_id: string; api_key: string };
    expect(second.account_id).to.equal(account.account_id);
    expect(second.api_key).to.not.equal(account.api_key);

    const revoked = await routeplex(['key', 'revoke', account.account_id, account.key_id], env);
    expect(revoked.code, revoked.stderr).to.equal(0);
    expect(JSON.parse(revoked.stdout)).to.deep.equal({ revoked: account.key_id });

    await withStore(async (store) => {
      expect(await store.findAccountByKeyHash(hashApiKey(account.api_key))).to.equal(null);
      expect(await store.findAccountByKeyHash(hashApiKey(second.api_key))).to.deep.equal({
        accountId: account.account_id,
        keyId: second.key_id,
      });
    });
  });

  it('refuses a key for an account that does not exist, says so, and writes nothing', async () => {
    const run = await routeplex(['key', 'create', 'acc_doesnotexist'], env);
    expect(run.code).to.equal(1);
    expect(run.stderr).to.contain('was not found');
    expect(run.stdout).to.equal('');
    const keys = await withStore((store) => store.listApiKeys('acc_doesnotexist'));
    expect(keys).to.deep.equal([]);
  });

  it('mints a development JWT that the services accept for that account', async () => {
    const run = await routeplex(['jwt', 'mint', 'acc_jwtholder', '--ttl', '60'], env);
    expect(run.code, run.stderr).to.equal(0);
    const authenticator = new Authenticator({ jwtSecret: JWT_SECRET, accountClaim: 'sub', apiKeyCacheMs: 0 }, () =>
      Promise.resolve(null),
    );
    const principal = await authenticator.authenticate(`Bearer ${run.stdout.trim()}`);
    expect(principal).to.include({ accountId: 'acc_jwtholder', method: 'jwt' });
  });

  it('answers an unknown or incomplete command with its usage and exit code 2', async () => {
    for (const args of [['frobnicate'], ['key', 'revoke', 'acc_only']]) {
      const run = await routeplex(args, env);
      expect(run.code, args.join(' ')).to.equal(2);
      expect(run.stderr).to.contain('usage: routeplex <command>');
    }
  });
});

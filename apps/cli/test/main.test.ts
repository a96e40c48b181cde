import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Authenticator } from '@routeplex/platform';
import { hashApiKey, openStore, type Store } from '@routeplex/store';
import { scratchDatabase } from '@routeplex/testkit';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const JWT_SECRET = 'cli-test-secret-cli-test-secret-0123456';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Where the commands keep their data: the embedded PGlite folder always, PostgreSQL when DATABASE_URL is set. */
interface Location {
  name: string;
  /** Environment of the command (DATABASE_URL empty selects the PGlite folder of the data directory). */
  env(): Record<string, string>;
  open(): Promise<Store>;
  setUp(): Promise<void>;
  tearDown(): Promise<void>;
}

function pgliteFolder(): Location {
  let dir = '';
  return {
    name: 'the PGlite folder',
    env: () => ({ ROUTEPLEX_DATA_DIR: dir, DATABASE_URL: '' }),
    open: () => openStore({ pgliteDir: join(dir, 'pglite'), listen: false }),
    setUp: async () => {
      dir = await mkdtemp(join(tmpdir(), 'rpx-cli-'));
    },
    tearDown: () => rm(dir, { recursive: true, force: true }),
  };
}

function postgres(baseUrl: string): Location {
  let database: Awaited<ReturnType<typeof scratchDatabase>> | undefined;
  let dir = '';
  return {
    name: 'PostgreSQL',
    env: () => ({ ROUTEPLEX_DATA_DIR: dir, DATABASE_URL: database!.url }),
    open: () => openStore({ databaseUrl: database!.url, listen: false }),
    setUp: async () => {
      dir = await mkdtemp(join(tmpdir(), 'rpx-cli-'));
      database = await scratchDatabase(baseUrl, 'cli');
    },
    tearDown: async () => {
      await database?.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const locations = [pgliteFolder(), ...(process.env.DATABASE_URL ? [postgres(process.env.DATABASE_URL)] : [])];

/** Runs the `routeplex` command as a user would: its own process, configuration from the environment. */
function routeplex(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', MAIN, ...args],
      {
        env: { ...process.env, ROUTEPLEX_LOG_LEVEL: 'warn', ROUTEPLEX_JWT_SECRET: JWT_SECRET, ...env },
        // A `start` that should have failed would otherwise serve until the suite gives up on it.
        timeout: 60_000,
      },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

for (const location of locations) {
  describe(`routeplex command on ${location.name}`, function () {
    this.timeout(60_000);
    before(() => location.setUp());
    after(() => location.tearDown());

    async function withStore<T>(fn: (store: Store) => Promise<T>): Promise<T> {
      const store = await location.open();
      try {
        return await fn(store);
      } finally {
        await store.close();
      }
    }

    it('creates an account with a working API key, adds a second key and revokes the first', async () => {
      const created = await routeplex(['account', 'create', 'acme'], location.env());
      expect(created.code, created.stderr).to.equal(0);
      const account = JSON.parse(created.stdout) as { account_id: string; key_id: string; api_key: string };
      expect(account.api_key).to.match(/^rpx_/);

      const added = await routeplex(['key', 'create', account.account_id], location.env());
      expect(added.code, added.stderr).to.equal(0);
      const second = JSON.parse(added.stdout) as { account_id: string; key_id: string; api_key: string };
      expect(second.account_id).to.equal(account.account_id);
      expect(second.api_key).to.not.equal(account.api_key);

      const revoked = await routeplex(['key', 'revoke', account.account_id, account.key_id], location.env());
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
      const run = await routeplex(['key', 'create', 'acc_doesnotexist'], location.env());
      expect(run.code).to.equal(1);
      expect(run.stderr).to.contain('was not found');
      expect(run.stdout).to.equal('');
      expect(await withStore((store) => store.listApiKeys('acc_doesnotexist'))).to.deep.equal([]);
    });

    it('mints a development JWT that the services accept for that account', async () => {
      const run = await routeplex(['jwt', 'mint', 'acc_jwtholder', '--ttl', '60'], location.env());
      expect(run.code, run.stderr).to.equal(0);
      const authenticator = new Authenticator({ jwtSecret: JWT_SECRET, accountClaim: 'sub', apiKeyCacheMs: 0 }, () =>
        Promise.resolve(null),
      );
      const principal = await authenticator.authenticate(`Bearer ${run.stdout.trim()}`);
      expect(principal).to.include({ accountId: 'acc_jwtholder', method: 'jwt' });
    });

    it('mints with the issuer and audience the services check, when they are set', async () => {
      const env = {
        ...location.env(),
        ROUTEPLEX_JWT_ISSUER: 'https://id.example',
        ROUTEPLEX_JWT_AUDIENCE: 'routeplex',
      };
      const run = await routeplex(['jwt', 'mint', 'acc_jwtholder', '--ttl', '60'], env);
      expect(run.code, run.stderr).to.equal(0);
      const authenticator = new Authenticator(
        {
          jwtSecret: JWT_SECRET,
          accountClaim: 'sub',
          apiKeyCacheMs: 0,
          issuer: 'https://id.example',
          audience: 'routeplex',
        },
        () => Promise.resolve(null),
      );
      const principal = await authenticator.authenticate(`Bearer ${run.stdout.trim()}`);
      expect(principal).to.include({ accountId: 'acc_jwtholder', method: 'jwt' });
    });

    it('refuses a lifetime or an account id that would give a token the services refuse', async () => {
      for (const args of [['--ttl', '0'], ['--ttl=-100'], ['--ttl', 'abc'], ['--ttl', '1e3']]) {
        const run = await routeplex(['jwt', 'mint', 'acc_jwtholder', ...args], location.env());
        expect(run.code, args.join(' ')).to.equal(2);
        expect(run.stdout).to.equal('');
        expect(run.stderr).to.match(/--ttl must be a whole number of seconds/);
      }
      const run = await routeplex(['jwt', 'mint', 'acc!bad'], location.env());
      expect(run.code).to.equal(2);
      expect(run.stdout).to.equal('');
      expect(run.stderr).to.match(/the account id must be 1-64 characters/);
    });

    it('says which JWT secret to set when it has none to mint with', async () => {
      const run = await routeplex(['jwt', 'mint', 'acc_nosecret'], { ...location.env(), ROUTEPLEX_JWT_SECRET: '' });
      expect(run.code).to.equal(1);
      expect(run.stdout).to.equal('');
      expect(run.stderr).to.match(/no JWT secret: set ROUTEPLEX_JWT_SECRET to the one the services use/);
    });

    it('answers an unknown or incomplete command with its usage and exit code 2', async () => {
      for (const args of [['frobnicate'], ['key', 'revoke', 'acc_only']]) {
        const run = await routeplex(args, location.env());
        expect(run.code, args.join(' ')).to.equal(2);
        expect(run.stderr).to.contain('usage: routeplex <command>');
      }
    });
  });
}

describe('routeplex help', () => {
  it('prints the usage on stdout and exits 0, even with an environment it would refuse', async () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const run = await routeplex(args, { GATEWAY_PORT: 'abc' });
      expect(run.code, args.join(' ')).to.equal(0);
      expect(run.stdout).to.match(/^usage: routeplex <command>/);
      expect(run.stderr).to.equal('');
    }
  });
});

describe('routeplex start on a port that is taken', function () {
  this.timeout(90_000);
  let dir = '';
  let holder: ReturnType<typeof createServer>;
  let taken = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rpx-busy-'));
    holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    taken = (holder.address() as { port: number }).port;
  });
  after(async () => {
    await new Promise((resolve) => holder.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  const cases = [
    { variable: 'GATEWAY_PORT', mode: 'process' },
    { variable: 'GATEWAY_PORT', mode: 'inline' },
    { variable: 'ROUTER_GRPC_PORT', mode: 'process' },
    { variable: 'INSIGHTS_GRPC_PORT', mode: 'process' },
  ];
  for (const { variable, mode } of cases) {
    it(`says in one line, without a stack, to free ${variable} or change it (facade mode ${mode}), and exits 1`, async () => {
      const run = await routeplex(['start'], {
        ROUTEPLEX_DATA_DIR: dir,
        DATABASE_URL: '',
        ROUTEPLEX_GATEWAY_MODE: mode,
        ROUTER_GRPC_PORT: '0',
        FEEDBACK_GRPC_PORT: '0',
        INSIGHTS_GRPC_PORT: '0',
        GATEWAY_PORT: '0',
        [variable]: String(taken),
      });
      expect(run.code, run.stderr).to.equal(1);
      expect(run.stderr).to.equal(
        `${variable} ${taken} is in use: stop what listens there or set ${variable} to a free port\n`,
      );
      expect(run.stdout).not.to.include('routeplex is running');
    });
  }
});

describe('routeplex start (scripts/start)', function () {
  this.timeout(90_000);
  const CANARY = 'CANARY-7f3a90-TRACED';

  it('traces the gRPC calls when ROUTEPLEX_TRACES is set, with no prompt or answer in a span or a log line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rpx-start-'));
    const child = spawn('bash', [fileURLToPath(new URL('../../../scripts/start', import.meta.url))], {
      env: {
        ...process.env,
        ROUTEPLEX_DATA_DIR: dir,
        DATABASE_URL: '',
        ROUTER_GRPC_PORT: '0',
        FEEDBACK_GRPC_PORT: '0',
        INSIGHTS_GRPC_PORT: '0',
        GATEWAY_PORT: '0',
        ROUTEPLEX_SIM_LATENCY_SCALE: '0',
        ROUTEPLEX_TRACES: 'console',
        ROUTEPLEX_LOG_LEVEL: 'debug',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const ready = await new Promise<RegExpMatchArray>((resolve, reject) => {
        const poll = setInterval(() => {
          const m = output.match(/REST facade\s+(http:\/\/\S+)\/api\/v1[\s\S]*Bearer (rpx_\w+)/);
          if (m) {
            clearInterval(poll);
            resolve(m);
          }
        }, 50);
        void exited.then((code) => {
          clearInterval(poll);
          reject(new Error(`start exited with ${code} before it was ready:\n${output}`));
        });
      });
      const res = await fetch(`${ready[1]}/api/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ready[2]}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'routeplex-ai', messages: [{ role: 'user', content: `Repeat ${CANARY}` }] }),
      });
      expect(res.status, await res.clone().text()).to.equal(200);
      child.kill('SIGTERM');
      expect(await exited).to.equal(0);
      // The console exporter printed the call's spans (on shutdown at the latest) without its content.
      expect(output).to.include('routeplex.router.v1.RouterService/CreateChatCompletion');
      // The services' own spans, not only the facade child's (service routeplex-gateway).
      expect(output).to.include(`'service.name': 'routeplex'`);
      expect(output).not.to.include(CANARY);
    } finally {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});

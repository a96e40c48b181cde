import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/routeplex.mjs', import.meta.url));
const PACKAGE_JSON = fileURLToPath(new URL('../package.json', import.meta.url));

interface Running {
  output: () => string;
  exited: Promise<number | null>;
  stop: (signal: NodeJS.Signals) => void;
}

/**
 * Runs the bin file itself, as a shell would (its shebang picks node), from a folder outside the repository.
 * stdin stays open and unwritten: a command that waited on it would never exit.
 */
function runBin(args: string[], cwd: string, env: Record<string, string> = {}): Running {
  const child = spawn(BIN, args, {
    cwd,
    env: { ...process.env, ROUTEPLEX_LOG_LEVEL: 'warn', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return {
    output: () => output,
    exited: new Promise((resolve) => child.once('close', (code) => resolve(code))),
    stop: (signal) => child.kill(signal),
  };
}

describe('routeplex bin (bin/routeplex.mjs)', function () {
  this.timeout(90_000);
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rpx-bin-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('is the declared bin, an executable node script', async () => {
    const pkg = JSON.parse(await readFile(PACKAGE_JSON, 'utf8')) as { bin: Record<string, string> };
    expect(pkg.bin).to.deep.equal({ routeplex: './bin/routeplex.mjs' });
    expect((await stat(BIN)).mode & 0o111, 'executable bits').to.equal(0o111);
    expect((await readFile(BIN, 'utf8')).split('\n')[0]).to.equal('#!/usr/bin/env node');
  });

  it('runs directly and prints the usage with exit code 0, without waiting on stdin', async () => {
    const run = runBin(['--help'], dir);
    const timer = setTimeout(() => run.stop('SIGKILL'), 30_000);
    try {
      expect(await run.exited, run.output()).to.equal(0);
      expect(run.output()).to.match(/^usage: routeplex <command>/);
    } finally {
      clearTimeout(timer);
    }
  });

  it('starts the embedded stack from another working directory and stops on SIGTERM', async () => {
    const run = runBin(['start'], dir, {
      ROUTEPLEX_DATA_DIR: join(dir, 'data'),
      DATABASE_URL: '',
      ROUTER_GRPC_PORT: '0',
      FEEDBACK_GRPC_PORT: '0',
      INSIGHTS_GRPC_PORT: '0',
      GATEWAY_PORT: '0',
    });
    let exitCode: number | null | undefined;
    void run.exited.then((code) => (exitCode = code));
    try {
      const facade = await new Promise<string>((resolve, reject) => {
        const poll = setInterval(() => {
          const m = /REST facade\s+(http:\/\/\S+)\/api\/v1/.exec(run.output());
          if (m) resolve(m[1]!);
          else if (exitCode !== undefined) reject(new Error(`start exited with ${exitCode}:\n${run.output()}`));
          else return;
          clearInterval(poll);
        }, 50);
      });
      const res = await fetch(`${facade}/api/v1/openapi.json`);
      expect(res.status).to.equal(200);
      run.stop('SIGTERM');
      expect(await run.exited, run.output()).to.equal(0);
    } finally {
      run.stop('SIGKILL');
    }
  });
});

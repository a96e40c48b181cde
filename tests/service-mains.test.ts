// The services' production entries (services/*/src/main.ts), run as their own processes: how each reports a
// start that fails (a busy port, a bad variable).
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';

const HMAC_SECRET = 'h'.repeat(40);

const mains: { service: string; portVariable: string; env: Record<string, string> }[] = [
  { service: 'router', portVariable: 'ROUTER_GRPC_PORT', env: { ROUTEPLEX_HMAC_SECRET: HMAC_SECRET } },
  { service: 'feedback', portVariable: 'FEEDBACK_GRPC_PORT', env: {} },
  { service: 'insights', portVariable: 'INSIGHTS_GRPC_PORT', env: {} },
  { service: 'gateway', portVariable: 'GATEWAY_PORT', env: {} },
];

/** Runs a main until it exits (every run here is one that must fail), with its output. */
function runMain(service: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const main = fileURLToPath(new URL(`../services/${service}/src/main.ts`, import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', main], {
    // In memory, whatever the suite's environment points at.
    env: { ...process.env, DATABASE_URL: '', ROUTEPLEX_DATA_DIR: '', ROUTEPLEX_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // A main that started after all would serve until killed.
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
}

describe('production entries of the services on a start that fails', function () {
  this.timeout(90_000);
  let holder: Server;
  let taken = 0;
  before(async () => {
    holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    taken = (holder.address() as { port: number }).port;
  });
  after(() => new Promise((resolve) => holder.close(resolve)));

  for (const { service, portVariable, env } of mains) {
    it(`${service}: names the invalid variable, without a stack, and exits 1`, async () => {
      const run = await runMain(service, { ...env, [portVariable]: 'abc' });
      expect(run.code).to.equal(1);
      expect(run.stderr).to.equal(
        `invalid configuration:\n  - ${portVariable} ("abc"): must be a port number from 0 to 65535, in decimal digits\n`,
      );
    });

    it(`${service}: says in one line to free ${portVariable} or change it when its port is taken, and exits 1`, async () => {
      const run = await runMain(service, { ...env, [portVariable]: String(taken) });
      expect(run.code).to.equal(1);
      expect(run.stderr).to.equal(
        `${portVariable} ${taken} is in use: stop what listens there or set ${portVariable} to a free port\n`,
      );
    });
  }
});

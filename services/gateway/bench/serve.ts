// Runs the gateway in front of the minimal benchmark backend, each in its own process, until stopped.
// usage: pnpm exec tsx services/gateway/bench/serve.ts [--port 8080] [--upstream http://127.0.0.1:9100/v1]
//   --upstream: the backend forwards each chat request to that OpenAI-compatible base URL (for
//               ../shared/bench/compare.sh); without it the backend answers at once.
// Prints "BACKEND <host:port>", then "READY <gateway url>" when both are listening.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { createGateway } from '../src/index.js';
import { startBenchBackend } from './bench-backend.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    upstream: { type: 'string' },
    'backend-only': { type: 'boolean' },
  },
});

if (values['backend-only']) {
  const backend = await startBenchBackend(values.upstream);
  console.log(`BACKEND ${backend.address}`);
} else {
  const args = [
    '--import',
    'tsx',
    new URL(import.meta.url).pathname,
    '--backend-only',
    ...(values.upstream ? ['--upstream', values.upstream] : []),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  process.on('exit', () => child.kill());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
  const address = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`benchmark backend exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('BACKEND ')) resolve(line.slice(8));
    });
  });
  const gateway = await createGateway({
    host: '127.0.0.1',
    port: Number(values.port),
    backends: { default: address },
    bodyLimitBytes: 1 << 20,
  });
  console.log(`BACKEND ${address}`);
  console.log(`READY ${gateway.url}`);
}

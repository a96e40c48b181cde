// The gateway's own cost: the same chat request sent as gRPC straight to a minimal backend, and as REST
// through the gateway to that backend, in one run. Backend, gateway and load generator each run in their
// own process (serve.ts), so that the gateway's figures are not shared with the other two.
//   sequential: one request at a time (pure added latency), p50/p99 in microseconds
//   load:       requests/s and p50/p99 in ms at CONNS connections for DURATION seconds
// usage: pnpm exec tsx services/gateway/bench/overhead.ts   (env: N=2000 CONNS=32 DURATION=8)
import { credentials, Metadata } from '@grpc/grpc-js';
import { routerV1 } from '@routeplex/contracts';
import autocannon from 'autocannon';
import { cpus } from 'node:os';
import { request } from 'undici';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const n = Number(process.env.N ?? 2000);
const conns = Number(process.env.CONNS ?? 32);
const duration = Number(process.env.DURATION ?? 8);
const chat = {
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Write a function that reverses a linked list in place.' }],
};
const body = JSON.stringify(chat);
const q = (a: number[], p: number) => a[Math.min(a.length - 1, Math.floor(p * a.length))]!;

// serve.ts prints the backend's address (from its child) and the gateway's URL.
const serve = spawn(process.execPath, ['--import', 'tsx', new URL('./serve.ts', import.meta.url).pathname], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
process.on('exit', () => serve.kill());
let backendAddress = '';
const gatewayUrl = await new Promise<string>((resolve, reject) => {
  serve.once('exit', (code) => reject(new Error(`serve.ts exited with ${code}`)));
  createInterface({ input: serve.stdout! }).on('line', (line) => {
    if (line.startsWith('BACKEND ')) backendAddress = line.slice(8);
    if (line.startsWith('READY ')) resolve(line.slice(6));
  });
});
const url = `${gatewayUrl}/api/v1/chat/completions`;
const headers = { 'content-type': 'application/json', authorization: 'Bearer rpx_bench' };

async function sequential(name: string, once: () => Promise<void>) {
  const lat: number[] = [];
  for (let i = 0; i < n + 200; i++) {
    const t = process.hrtime.bigint();
    await once();
    if (i >= 200) lat.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  lat.sort((a, b) => a - b);
  return { name, p50_us: Math.round(q(lat, 0.5)), p99_us: Math.round(q(lat, 0.99)) };
}

const client = new routerV1.RouterServiceClient(backendAddress, credentials.createInsecure());
const grpcRequest = routerV1.CreateChatCompletionRequest.fromPartial(chat);
const md = new Metadata();
md.set('authorization', 'Bearer rpx_bench');
const direct = () =>
  new Promise<void>((resolve, reject) =>
    client.createChatCompletion(grpcRequest, md, (err) => (err ? reject(err) : resolve())),
  );
const viaGateway = async () => {
  const res = await request(url, { method: 'POST', body, headers });
  await res.body.text();
  if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
};

const seq = [await sequential('grpc direct', direct), await sequential('REST via gateway', viaGateway)];
console.log('== sequential (microseconds)');
console.table(seq);
console.log(`gateway added latency p50: ${seq[1]!.p50_us - seq[0]!.p50_us} us`);

const load = await autocannon({ url, method: 'POST', body, headers, connections: conns, duration });
const row = {
  name: 'REST via gateway',
  rps: Math.round(load.requests.average),
  p50_ms: load.latency.p50,
  p99_ms: load.latency.p99,
  non2xx: load.non2xx,
  errors: load.errors,
};
console.log(`== load (${conns} connections, ${duration} s)`);
console.table([row]);
console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`);

client.close();
serve.kill();

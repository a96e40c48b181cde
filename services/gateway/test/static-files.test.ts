import { expect } from 'chai';
import { readdirSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGateway, type Gateway } from '../src/index.js';
import { createStaticHandler } from '../src/static-files.js';

describe('static files under a prefix', () => {
  let dir: string;
  let gateway: Gateway;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gateway-static-'));
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>Insights</title>');
    await writeFile(join(dir, 'assets', 'app.js'), 'export const x = 1;');
    await writeFile(join(dir, 'assets', 'style.css'), 'body{}');
    await writeFile(join(dir, 'assets', 'large.bin'), Buffer.alloc(8 << 20, 1));
    await writeFile(join(tmpdir(), 'gateway-static-secret.txt'), 'secret');
    // The backend address is never dialled: these requests do not reach a route.
    gateway = await createGateway({
      host: '127.0.0.1',
      port: 0,
      backends: { default: '127.0.0.1:1' },
      bodyLimitBytes: 1024,
      staticDir: dir,
      staticPrefix: '/dashboard',
    });
  });
  after(async () => {
    await gateway.close();
    await rm(dir, { recursive: true, force: true });
    await rm(join(tmpdir(), 'gateway-static-secret.txt'), { force: true });
  });

  it('serves index.html at the prefix and files with their content types', async () => {
    for (const [path, type, text] of [
      ['/dashboard', 'text/html; charset=utf-8', '<!doctype html><title>Insights</title>'],
      ['/dashboard/', 'text/html; charset=utf-8', '<!doctype html><title>Insights</title>'],
      ['/dashboard/assets/app.js', 'text/javascript; charset=utf-8', 'export const x = 1;'],
      ['/dashboard/assets/style.css', 'text/css; charset=utf-8', 'body{}'],
    ]) {
      const res = await fetch(gateway.url + path!);
      expect(res.status, path).to.equal(200);
      expect(res.headers.get('content-type'), path).to.equal(type);
      expect(await res.text(), path).to.equal(text);
    }
  });

  it('closes the file when a client goes away in the middle of a download', async () => {
    // Descriptors of this process open on the file (Linux): each abandoned download used to keep one for good.
    const openOnFile = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).endsWith('large.bin');
        } catch {
          return false;
        }
      }).length;
    for (let i = 0; i < 10; i++)
      await new Promise<void>((resolve) => {
        const socket = connect(Number(new URL(gateway.url).port), '127.0.0.1', () =>
          socket.write('GET /dashboard/assets/large.bin HTTP/1.1\r\nhost: x\r\n\r\n'),
        );
        socket.once('data', () => {
          socket.destroy();
          resolve();
        });
      });
    const deadline = Date.now() + 5000;
    while (openOnFile() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(openOnFile()).to.equal(0);
    expect((await fetch(gateway.url + '/dashboard/assets/app.js')).status).to.equal(200);
  });

  it('answers 404 for missing files, folders and paths that escape the folder', async () => {
    for (const path of [
      '/dashboard/missing.js',
      '/dashboard/assets',
      '/dashboard/../gateway-static-secret.txt',
      '/dashboard/%2e%2e/gateway-static-secret.txt',
      '/dashboard/%00',
    ]) {
      const res = await fetch(gateway.url + path);
      expect(res.status, path).to.equal(404);
      expect(((await res.json()) as { code: number }).code, path).to.equal(5);
    }
  });

  it('answers 405 for methods other than GET and HEAD', async () => {
    const res = await fetch(`${gateway.url}/dashboard/index.html`, { method: 'POST' });
    expect(res.status).to.equal(405);
    expect(res.headers.get('allow')).to.equal('GET, HEAD');
  });

  it('refuses a prefix that is not a clean path', () => {
    for (const prefix of ['', '/', 'dashboard', '/dashboard/'])
      expect(() => createStaticHandler(dir, prefix), prefix).to.throw(/staticPrefix/);
  });
});

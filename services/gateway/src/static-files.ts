import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { GatewayError } from './errors.js';

export interface StaticHandler {
  matches(path: string): boolean;
  serve(req: IncomingMessage, res: ServerResponse, path: string): Promise<void>;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};

/**
 * Serves the files of `dir` under `prefix` (GET and HEAD). `prefix` and `prefix/` serve index.html; a
 * path that escapes the folder, or names a folder or a missing file, is a 404.
 */
export function createStaticHandler(dir: string, prefix: string): StaticHandler {
  if (!prefix.startsWith('/') || prefix.endsWith('/') || prefix.length < 2) {
    throw new GatewayError(
      'INVALID_ARGUMENT',
      `staticPrefix is "${prefix}": give a path such as /dashboard (leading "/", no trailing "/")`,
    );
  }
  const root = resolve(dir);
  return {
    matches: (path) => path === prefix || path.startsWith(prefix + '/'),
    async serve(req, res, path) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        throw new GatewayError(
          'UNIMPLEMENTED',
          `method ${String(req.method).slice(0, 20)} is not allowed on static files: use GET`,
          {
            httpStatus: 405,
            headers: { allow: 'GET, HEAD' },
          },
        );
      }
      let relative: string;
      try {
        relative = decodeURIComponent(path.slice(prefix.length + 1));
      } catch {
        throw new GatewayError('INVALID_ARGUMENT', 'the path has a malformed percent-encoding: encode "%" as %25');
      }
      if (relative === '') relative = 'index.html';
      const file = join(root, relative);
      const notFound = new GatewayError('NOT_FOUND', `no file ${path.slice(0, 200)}: check the link`);
      if (relative.includes('\0') || (file !== root && !file.startsWith(root + sep))) throw notFound;
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) throw notFound;
      res.writeHead(200, {
        'content-type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
        'content-length': info.size,
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
      });
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      // pipeline, not pipe: a client that goes away mid-download must close the file too (pipe left the
      // read stream, its descriptor and this request open for good).
      await pipeline(createReadStream(file), res).catch(() => res.destroy());
    },
  };
}

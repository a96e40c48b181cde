import { createHmac, randomBytes } from 'node:crypto';

/**
 * Keyed one-way hash of a conversation (HMAC-SHA-256 under a server secret), so that a leaked table cannot
 * be dictionary-attacked. The only trace of a message that routeplex keeps.
 */
export function messageHmac(secret: string, messages: readonly { role: string; content: string }[]): string {
  const h = createHmac('sha256', secret);
  for (const m of messages) {
    h.update(m.role);
    h.update('\u0000');
    h.update(m.content);
    h.update('\u0001');
  }
  return h.digest('hex');
}

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

// Random bytes are drawn from the CSPRNG a page at a time: one call per id cost more than the rest of making it.
const POOL_SIZE = 4096;
let pool = Buffer.alloc(0);
let poolOffset = 0;

function randomByte(): number {
  if (poolOffset >= pool.length) {
    pool = randomBytes(POOL_SIZE);
    poolOffset = 0;
  }
  return pool[poolOffset++]!;
}

/** A random identifier with a prefix, e.g. `req_` + 22 base62 characters (about 131 bits). */
export function randomId(prefix: string, length = 22): string {
  let out = prefix;
  for (let n = 0; n < length;) {
    const b = randomByte();
    // 248 = 4 x 62: rejecting the rest keeps every character equally likely.
    if (b < 248) {
      out += BASE62[b % 62];
      n++;
    }
  }
  return out;
}

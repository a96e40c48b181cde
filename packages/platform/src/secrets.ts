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

/** A random identifier with a prefix, e.g. `req_` + 22 base62 characters (about 131 bits). */
export function randomId(prefix: string, length = 22): string {
  const bytes = randomBytes(length * 2);
  let out = prefix;
  for (let i = 0; i < bytes.length && out.length < prefix.length + length; i++) {
    const b = bytes[i]!;
    if (b < 248) out += BASE62[b % 62];
  }
  while (out.length < prefix.length + length) out += BASE62[randomBytes(1)[0]! % 62];
  return out;
}

import { createHash, randomBytes } from 'node:crypto';

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Uniform random base62 string: bytes >= 248 are rejected so that every character is equally likely. */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte >= 248) continue;
      out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/** 'req_' + 24 base62 characters (about 143 bits). */
export function newRequestId(): string {
  return `req_${randomBase62(24)}`;
}

export function newAccountId(): string {
  return `acc_${randomBase62(20)}`;
}

export function newApiKeyId(): string {
  return `key_${randomBase62(20)}`;
}

export const API_KEY_PREFIX = 'rpx_';
export const API_KEY_SECRET_LENGTH = 40;
/** Characters of a key kept for display: 'rpx_' and the first 6 secret characters. */
export const API_KEY_DISPLAY_LENGTH = API_KEY_PREFIX.length + 6;

/** A new API key secret: 'rpx_' + 40 base62 characters (about 238 bits). */
export function newApiKey(): string {
  return `${API_KEY_PREFIX}${randomBase62(API_KEY_SECRET_LENGTH)}`;
}

/** SHA-256 of the key, lowercase hex: the only form in which a key is stored. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

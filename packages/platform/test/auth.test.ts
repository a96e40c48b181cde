import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { Authenticator, hashApiKey, mintJwt, type AuthConfig } from '../src/auth.js';
import { DomainError } from '../src/errors.js';

const SECRET = 'test-secret-that-is-long-enough-32b';
const KEY = 'rpx_' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4';

function authenticator(overrides: Partial<AuthConfig> = {}, keys = new Map([[hashApiKey(KEY), 'acct-key']])) {
  let lookups = 0;
  const auth = new Authenticator(
    { jwtSecret: SECRET, accountClaim: 'sub', apiKeyCacheMs: 60_000, ...overrides },
    async (hash) => {
      lookups++;
      const accountId = keys.get(hash);
      return accountId ? { accountId } : null;
    },
  );
  return { auth, keys, lookups: () => lookups };
}

async function rejects(promise: Promise<unknown>, pattern: RegExp) {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(DomainError);
    expect((err as DomainError).code).to.equal('UNAUTHENTICATED');
    expect((err as Error).message).to.match(pattern);
    return;
  }
  expect.fail('expected UNAUTHENTICATED');
}

describe('Authenticator', () => {
  it('accepts an HS256 JWT and takes the account from sub', async () => {
    const token = await mintJwt({ secret: SECRET, accountId: 'acct-1', ttlSeconds: 60 });
    expect(await authenticator().auth.authenticate(`Bearer ${token}`)).to.deep.equal({
      accountId: 'acct-1',
      method: 'jwt',
    });
  });

  it('reads the account from a configured claim', async () => {
    const token = await mintJwt({ secret: SECRET, accountId: 'acct-9', ttlSeconds: 60, claim: 'tenant' });
    const { auth } = authenticator({ accountClaim: 'tenant' });
    expect((await auth.authenticate(`Bearer ${token}`)).accountId).to.equal('acct-9');
  });

  it('rejects missing, malformed, expired and wrongly signed credentials', async () => {
    const { auth } = authenticator();
    await rejects(auth.authenticate(undefined), /missing credential/);
    await rejects(auth.authenticate('Basic abc'), /malformed authorization header/);
    await rejects(auth.authenticate('Bearer not-a-token'), /neither an rpx_ API key nor a JWT/);
    const expired = await mintJwt({ secret: SECRET, accountId: 'a', ttlSeconds: 10, nowSeconds: 1_000_000 });
    await rejects(auth.authenticate(`Bearer ${expired}`), /expired/);
    const forged = await mintJwt({ secret: 'another-secret-another-secret-xx', accountId: 'a', ttlSeconds: 60 });
    await rejects(auth.authenticate(`Bearer ${forged}`), /signature/);
  });

  it('refuses a JWT that never expires', async () => {
    const forever = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('acct-1')
      .sign(new TextEncoder().encode(SECRET));
    await rejects(
      authenticator().auth.authenticate(`Bearer ${forever}`),
      /no expiry: issue tokens with an "exp" claim/,
    );
  });

  it('takes exactly the account ids the store accepts from a JWT', async () => {
    const { auth } = authenticator();
    for (const id of ['auth0|5f1c2b', 'user+eu@example.com', 'a', 'x'.repeat(64)])
      expect(
        (await auth.authenticate(`Bearer ${await mintJwt({ secret: SECRET, accountId: id, ttlSeconds: 60 })}`))
          .accountId,
      ).to.equal(id);
    for (const id of ['x'.repeat(65), 'has space', 'semi;colon'])
      await rejects(
        auth.authenticate(`Bearer ${await mintJwt({ secret: SECRET, accountId: id, ttlSeconds: 60 })}`),
        /must name the account \(1-64 characters/,
      );
  });

  it('accepts an API key by its hash and caches the lookup until invalidated', async () => {
    const { auth, keys, lookups } = authenticator();
    expect((await auth.authenticate(`Bearer ${KEY}`)).accountId).to.equal('acct-key');
    await auth.authenticate(`Bearer ${KEY}`);
    expect(lookups()).to.equal(1);
    keys.clear(); // revoked in the store
    auth.invalidateApiKeys();
    await rejects(auth.authenticate(`Bearer ${KEY}`), /unknown or revoked API key/);
    await rejects(auth.authenticate('Bearer rpx_short'), /malformed API key/);
  });

  it('does not cache a key whose lookup was under way when keys were invalidated', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const keys = new Map([[hashApiKey(KEY), 'acct-key']]);
    const auth = new Authenticator({ jwtSecret: SECRET, accountClaim: 'sub', apiKeyCacheMs: 60_000 }, async (hash) => {
      // The lookup reads the key before its revocation, and its answer arrives after it.
      const accountId = keys.get(hash);
      await gate;
      return accountId ? { accountId } : null;
    });
    const inFlight = auth.authenticate(`Bearer ${KEY}`);
    keys.clear(); // revoked in the store
    auth.invalidateApiKeys();
    release();
    expect((await inFlight).accountId).to.equal('acct-key');
    await rejects(auth.authenticate(`Bearer ${KEY}`), /unknown or revoked API key/);
  });

  it('verifies RS256 tokens against a JWKS served over HTTP', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    const server = http.createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
      const { auth } = authenticator({ jwtSecret: undefined, jwksUrl: url });
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setSubject('acct-rs')
        .setExpirationTime('1m')
        .sign(privateKey);
      expect((await auth.authenticate(`Bearer ${token}`)).accountId).to.equal('acct-rs');
      const hs = await mintJwt({ secret: SECRET, accountId: 'a', ttlSeconds: 60 });
      await rejects(auth.authenticate(`Bearer ${hs}`), /key id not found|not allowed|malformed|signature/);
    } finally {
      server.close();
    }
  });

  it('answers UNAVAILABLE, not UNAUTHENTICATED, when the JWKS cannot be fetched', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setSubject('acct-rs')
      .setExpirationTime('1m')
      .sign(privateKey);
    const failing = http.createServer((_req, res) => {
      res.statusCode = 503;
      res.end('maintenance');
    });
    await new Promise<void>((r) => failing.listen(0, '127.0.0.1', r));
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const refusedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/jwks.json`;
    await new Promise((r) => closed.close(r));
    try {
      for (const jwksUrl of [`http://127.0.0.1:${(failing.address() as AddressInfo).port}/jwks.json`, refusedUrl]) {
        const { auth } = authenticator({ jwtSecret: undefined, jwksUrl });
        const error = await auth.authenticate(`Bearer ${token}`).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error, jwksUrl).to.be.instanceOf(DomainError);
        expect((error as DomainError).code, jwksUrl).to.equal('UNAVAILABLE');
        expect((error as DomainError).message).to.match(/JWKS.*retry later/);
      }
    } finally {
      failing.close();
    }
  });
});

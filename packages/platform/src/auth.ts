import { createHash, createSecretKey, type KeyObject } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, SignJWT, errors as joseErrors, type JWTVerifyGetKey } from 'jose';
import { DomainError, unauthenticated, unavailable } from './errors.js';

export interface AuthConfig {
  /** HS256 shared secret; enables HS256 JWTs. */
  jwtSecret?: string | undefined;
  /** JWKS URL; enables RS256/ES256 JWTs. */
  jwksUrl?: string | undefined;
  /** The claim that names the account (default `sub`). */
  accountClaim: string;
  issuer?: string | undefined;
  audience?: string | undefined;
  /** How long a verified API key is trusted without asking the store again (revocation also clears it). */
  apiKeyCacheMs: number;
}

export interface Principal {
  accountId: string;
  method: 'jwt' | 'api_key';
}

/** Finds the account of an API key by the key's SHA-256 hex digest; null when unknown or revoked. */
export type ApiKeyLookup = (keyHash: string) => Promise<{ accountId: string } | null>;

export const API_KEY_PREFIX = 'rpx_';
const API_KEY_SHAPE = /^rpx_[A-Za-z0-9]{24,128}$/;
/**
 * An account id as the store accepts it (its ACCOUNT_ID_PATTERN, fixed by the first migration): a
 * credential naming an account the store would refuse must fail here, as UNAUTHENTICATED, not later as
 * a bad request the caller cannot fix. Identity providers' subjects such as "auth0|5f1c..." pass.
 */
export const ACCOUNT_ID_SHAPE = /^[A-Za-z0-9_.:@|+-]{1,64}$/;

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/**
 * Verifies the `authorization` value of a call: `Bearer <JWT>` or `Bearer rpx_...`. Every failure is
 * UNAUTHENTICATED with a message that says what is wrong, never echoing the credential.
 */
export class Authenticator {
  private readonly hsKey: KeyObject | undefined;
  private readonly jwks: JWTVerifyGetKey | undefined;
  private readonly keyCache = new Map<string, { accountId: string; expires: number }>();
  /** Counts invalidations: a lookup that started before one must not cache what it read. */
  private keyGeneration = 0;

  constructor(
    private readonly config: AuthConfig,
    private readonly lookupApiKey: ApiKeyLookup,
    private readonly now: () => number = Date.now,
  ) {
    // A KeyObject, made once: jose would otherwise import a raw secret into WebCrypto on every call.
    this.hsKey = config.jwtSecret ? createSecretKey(Buffer.from(config.jwtSecret, 'utf8')) : undefined;
    this.jwks = config.jwksUrl ? createRemoteJWKSet(new URL(config.jwksUrl)) : undefined;
  }

  /** Forgets cached API keys (called when a key is revoked anywhere). */
  invalidateApiKeys(): void {
    this.keyGeneration++;
    this.keyCache.clear();
  }

  async authenticate(authorization: string | undefined): Promise<Principal> {
    if (!authorization) throw unauthenticated('missing credential: send "authorization: Bearer <API key or JWT>"');
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) throw unauthenticated('malformed authorization header: expected "Bearer <API key or JWT>"');
    const token = match[1]!;
    if (token.startsWith(API_KEY_PREFIX)) return this.verifyApiKey(token);
    return this.verifyJwt(token);
  }

  private async verifyApiKey(key: string): Promise<Principal> {
    if (!API_KEY_SHAPE.test(key))
      throw unauthenticated('malformed API key: expected rpx_ followed by letters and digits');
    const now = this.now();
    // Cached by the key itself: the process holds it while serving the call anyway, and this saves a hash.
    const cached = this.keyCache.get(key);
    if (cached && cached.expires > now) return { accountId: cached.accountId, method: 'api_key' };
    const hash = hashApiKey(key);
    const generation = this.keyGeneration;
    const found = await this.lookupApiKey(hash);
    if (!found) {
      this.keyCache.delete(key);
      throw unauthenticated('unknown or revoked API key: create a new key with "routeplex key create"');
    }
    // A key revoked while it was being looked up may have been read before the revocation: answer this
    // call with it (it began before the revocation), but do not keep it.
    if (this.config.apiKeyCacheMs > 0 && generation === this.keyGeneration) {
      if (this.keyCache.size > 10_000) this.keyCache.clear();
      this.keyCache.set(key, { accountId: found.accountId, expires: now + this.config.apiKeyCacheMs });
    }
    return { accountId: found.accountId, method: 'api_key' };
  }

  private async verifyJwt(token: string): Promise<Principal> {
    if (token.split('.').length !== 3) throw unauthenticated('malformed credential: neither an rpx_ API key nor a JWT');
    const options = {
      ...(this.config.issuer ? { issuer: this.config.issuer } : {}),
      ...(this.config.audience ? { audience: this.config.audience } : {}),
      currentDate: new Date(this.now()),
      // jose checks exp only when a token has one; a credential that never expires is refused.
      requiredClaims: ['exp'],
    };
    let payload: Record<string, unknown>;
    try {
      if (this.hsKey && /"alg"\s*:\s*"HS256"/.test(decodeHeader(token))) {
        ({ payload } = await jwtVerify(token, this.hsKey, { ...options, algorithms: ['HS256'] }));
      } else if (this.jwks) {
        ({ payload } = await jwtVerify(token, this.jwks, { ...options, algorithms: ['RS256', 'ES256'] }));
      } else {
        throw unauthenticated('JWT not accepted: no verification key is configured for its algorithm');
      }
    } catch (err) {
      if (err instanceof DomainError) throw err;
      // The credential may be fine: the identity provider is down or misconfigured. A 401 would send the
      // client for a new token it does not need, and hide the outage from the logs.
      if (this.jwks && keySetUnavailable(err))
        throw unavailable("the identity provider's key set (JWKS) could not be fetched: retry later", err);
      throw unauthenticated(describeJwtError(err), err);
    }
    const account = payload[this.config.accountClaim];
    if (typeof account !== 'string' || !ACCOUNT_ID_SHAPE.test(account)) {
      throw unauthenticated(
        `JWT claim "${this.config.accountClaim}" must name the account (1-64 characters among letters, digits and _.:@|+-)`,
      );
    }
    return { accountId: account, method: 'jwt' };
  }
}

function decodeHeader(token: string): string {
  try {
    return Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8');
  } catch {
    return '';
  }
}

/** A failure to fetch or read the JWKS: no answer, a timeout, an HTTP status other than 200, not a key set. */
function keySetUnavailable(err: unknown): boolean {
  if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JWKSInvalid) return true;
  // jose's plain JOSEError (ERR_JOSE_GENERIC) is its "Expected 200 OK" from the key set's URL.
  return !(err instanceof joseErrors.JOSEError) || err.code === 'ERR_JOSE_GENERIC';
}

function describeJwtError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'JWT expired: obtain a new token';
  if (err instanceof joseErrors.JWTClaimValidationFailed)
    return err.claim === 'exp' && err.reason === 'missing'
      ? 'JWT has no expiry: issue tokens with an "exp" claim'
      : `JWT claim "${err.claim}" is invalid: ${err.reason}`;
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'JWT signature does not verify';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'JWT algorithm not allowed: use HS256, RS256 or ES256';
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'JWT key id not found in the JWKS';
  return 'malformed JWT';
}

/**
 * Makes `authenticator` forget its cached API keys whenever a key changes anywhere: `changes` is the
 * store's change feed (its `keys` events come from every process through the database), so a revoked
 * key stops working at once in every service that caches keys, not after the cache's lifetime.
 */
export function forgetKeysOnChange(
  authenticator: Authenticator,
  changes: { onChange(listener: (event: { kind: string }) => void): unknown },
): void {
  changes.onChange((event) => {
    if (event.kind === 'keys') authenticator.invalidateApiKeys();
  });
}

/** Mints an HS256 JWT for development and tests. */
export async function mintJwt(options: {
  secret: string;
  accountId: string;
  ttlSeconds: number;
  claim?: string;
  issuer?: string;
  audience?: string;
  nowSeconds?: number;
}): Promise<string> {
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  const claim = options.claim ?? 'sub';
  let jwt = new SignJWT(claim === 'sub' ? {} : { [claim]: options.accountId })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(now)
    .setExpirationTime(now + options.ttlSeconds);
  if (claim === 'sub') jwt = jwt.setSubject(options.accountId);
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  if (options.audience) jwt = jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(options.secret));
}

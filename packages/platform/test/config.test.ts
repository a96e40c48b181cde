import { expect } from 'chai';
import { ConfigError, loadConfig, vars } from '../src/config.js';
import { authConfigFrom, commonEnv } from '../src/env.js';

const shape = {
  ROUTER_PORT: vars.port(50051),
  DATABASE_URL: vars.databaseUrl(),
  ROUTEPLEX_HMAC_SECRET: vars.secret(16),
  ROUTEPLEX_LOG_LEVEL: vars.logLevel(),
};

describe('loadConfig', () => {
  it('applies defaults and coerces numbers', () => {
    const config = loadConfig(shape, { ROUTEPLEX_HMAC_SECRET: 'x'.repeat(16) });
    expect(config.ROUTER_PORT).to.equal(50051);
    expect(config.ROUTEPLEX_LOG_LEVEL).to.equal('info');
    expect(config.DATABASE_URL).to.equal(undefined);
  });

  it('returns a frozen object', () => {
    const config = loadConfig(shape, { ROUTEPLEX_HMAC_SECRET: 'x'.repeat(16) });
    expect(Object.isFrozen(config)).to.equal(true);
  });

  it('lists every problem at once, naming each variable, without echoing secrets', () => {
    try {
      loadConfig(shape, {
        ROUTER_PORT: 'eighty',
        DATABASE_URL: 'mysql://u:hunter2@h/db',
        ROUTEPLEX_HMAC_SECRET: 'short',
      });
      expect.fail('should have thrown');
    } catch (err) {
      expect(err).to.be.instanceOf(ConfigError);
      const e = err as ConfigError;
      expect(e.problems).to.have.length(3);
      expect(e.message).to.match(/ROUTER_PORT \("eighty"\)/);
      expect(e.message).to.match(/DATABASE_URL \(given\): must be a postgres:\/\/ URL/);
      expect(e.message).to.match(/ROUTEPLEX_HMAC_SECRET \(given\): must be at least 16 characters/);
      expect(e.message).not.to.include('hunter2');
    }
  });

  it('refuses ports, addresses and URLs that would only fail when used', () => {
    const more = {
      ROUTER_PORT: vars.port(50051),
      ROUTER_ADDRESS: vars.address('127.0.0.1:50051'),
      OTLP: vars.url(),
    };
    for (const [name, value] of [
      ['ROUTER_PORT', '0x1F90'],
      ['ROUTER_PORT', '1e3'],
      ['ROUTER_PORT', '70000'],
      ['ROUTER_ADDRESS', '127.0.0.1:99999'],
      ['ROUTER_ADDRESS', 'router:0'],
      ['OTLP', 'localhost:4318'],
      ['OTLP', 'mailto:ops@example.com'],
    ])
      expect(() => loadConfig(more, { [name!]: value }), `${name}=${value}`).to.throw(ConfigError, new RegExp(name!));
    const ok = loadConfig(more, { ROUTER_PORT: '8080', ROUTER_ADDRESS: '[::1]:50051', OTLP: 'http://otel:4318' });
    expect(ok).to.deep.equal({ ROUTER_PORT: 8080, ROUTER_ADDRESS: '[::1]:50051', OTLP: 'http://otel:4318' });
  });

  it('reads browser origins as a comma-separated list of * or scheme://host[:port], refusing paths', () => {
    const cors = { CORS: vars.origins() };
    expect(loadConfig(cors, {}).CORS).to.deep.equal([]);
    expect(loadConfig(cors, { CORS: ' https://app.example.com, http://localhost:5173 ' }).CORS).to.deep.equal([
      'https://app.example.com',
      'http://localhost:5173',
    ]);
    expect(loadConfig(cors, { CORS: '*' }).CORS).to.deep.equal(['*']);
    for (const bad of ['app.example.com', 'https://app.example.com/chat', 'ftp://x'])
      expect(() => loadConfig(cors, { CORS: bad }), bad).to.throw(ConfigError, /CORS.*scheme and host, no path/);
  });

  it('treats an empty or blank variable as unset', () => {
    for (const blank of ['', ' ', '\t\n']) {
      const config = loadConfig(shape, { ROUTER_PORT: blank, ROUTEPLEX_HMAC_SECRET: 'y'.repeat(20) });
      expect(config.ROUTER_PORT, JSON.stringify(blank)).to.equal(50051);
    }
  });
});

describe('authConfigFrom', () => {
  const common = (env: Record<string, string>) => loadConfig(commonEnv, env);

  it('refuses a JWKS without an audience, naming both variables', () => {
    const jwks = { ROUTEPLEX_JWKS_URL: 'https://idp.example.com/.well-known/jwks.json' };
    expect(() => authConfigFrom(common(jwks))).to.throw(ConfigError, /ROUTEPLEX_JWT_AUDIENCE.*ROUTEPLEX_JWKS_URL/);
    const config = authConfigFrom(common({ ...jwks, ROUTEPLEX_JWT_AUDIENCE: 'routeplex' }));
    expect(config).to.include({ jwksUrl: jwks.ROUTEPLEX_JWKS_URL, audience: 'routeplex' });
    expect(authConfigFrom(common({ ROUTEPLEX_JWT_SECRET: 'z'.repeat(32) })).jwtSecret).to.equal('z'.repeat(32));
  });
});

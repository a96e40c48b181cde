import { expect } from 'chai';
import { ConfigError, loadConfig, vars } from '../src/config.js';

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

  it('treats an empty variable as unset', () => {
    const config = loadConfig(shape, { ROUTER_PORT: '', ROUTEPLEX_HMAC_SECRET: 'y'.repeat(20) });
    expect(config.ROUTER_PORT).to.equal(50051);
  });
});

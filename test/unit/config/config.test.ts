import { ConfigError, loadConfig } from '../../../server/config';

describe('loadConfig', () => {
  test('defaults: port 8080, embedded database under ./data', () => {
    const c = loadConfig({}, '/srv/hoichan');
    expect(c.http.port).toBe(8080);
    expect(c.database.uri).toBeUndefined();
    expect(c.dataDir).toBe('/srv/hoichan/data');
    expect(c.auth.accessTokenTtlS).toBeLessThanOrEqual(900);
  });

  test('every bad variable is named with what was given', () => {
    try {
      loadConfig({ PORT: 'eighty', MONGODB_URI: 'postgres://x', ACCESS_TOKEN_TTL_S: '3600', LOG_LEVEL: 'loud' });
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const msg = (err as Error).message;
      expect(msg).toMatch(/PORT/);
      expect(msg).toMatch(/"eighty"/);
      expect(msg).toMatch(/MONGODB_URI: must be a mongodb:\/\//);
      expect(msg).toMatch(/ACCESS_TOKEN_TTL_S/);
      expect(msg).toMatch(/LOG_LEVEL/);
    }
  });

  test('production needs a JWT secret', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET: required in production/);
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'short' })).toThrow(/at least 32/);
    expect(
      loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40), HOICHAN_KEY_ENCRYPTION_SECRET: 'k'.repeat(40), HOICHAN_AUDIT_KEY: 'a'.repeat(40) }).auth
        .jwtSecret,
    ).toHaveLength(40);
  });

  test('production needs an audit checkpoint key (it must not live in the database)', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40), HOICHAN_KEY_ENCRYPTION_SECRET: 'k'.repeat(40) })).toThrow(
      /HOICHAN_AUDIT_KEY: required in production/,
    );
    expect(() =>
      loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40), HOICHAN_KEY_ENCRYPTION_SECRET: 'k'.repeat(40), HOICHAN_AUDIT_KEY: 'short' }),
    ).toThrow(/HOICHAN_AUDIT_KEY/);
    expect(
      loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40), HOICHAN_KEY_ENCRYPTION_SECRET: 'k'.repeat(40), HOICHAN_AUDIT_KEY: 'a'.repeat(40) }).audit
        .checkpointKey,
    ).toHaveLength(40);
  });

  test('database names are letters, digits and underscore (FerretDB)', () => {
    expect(() => loadConfig({ MONGODB_DB: 'hoi-chan' })).toThrow(/MONGODB_DB/);
  });
});

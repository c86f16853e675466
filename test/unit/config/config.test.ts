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

  test('feature settings are read here too: imaging (weights, PACS), the signing CA, the live call', () => {
    const none = loadConfig({});
    expect(none.imaging).toEqual({ triageWeightsDir: undefined, dicomweb: null });
    expect(none.signing).toEqual({ caCertFile: undefined, caKeyFile: undefined, trustFile: undefined, crlFiles: undefined });
    expect(none.sfu).toMatchObject({ SFU_WORKERS: undefined, SFU_RTC_MIN_PORT: 40000, SFU_RECONNECT_GRACE_S: 30, TURN_URLS: undefined });

    const c = loadConfig({
      HOICHAN_TRIAGE_WEIGHTS_DIR: '/srv/weights',
      HOICHAN_DICOMWEB_URL: 'http://127.0.0.1:8042/dicom-web',
      HOICHAN_DICOMWEB_BASIC_AUTH: 'orthanc:secret',
      HOICHAN_SIGNING_CA_CERT: '/etc/hoichan/ca.pem',
      HOICHAN_SIGNING_CA_KEY: '/etc/hoichan/ca-key.pem',
      SFU_WORKERS: '2',
      TURN_URLS: ' turn:turn.benhvien.vn:3478 ',
    });
    expect(c.imaging).toEqual({ triageWeightsDir: '/srv/weights', dicomweb: { url: 'http://127.0.0.1:8042/dicom-web', basicAuth: 'orthanc:secret' } });
    expect(c.signing).toMatchObject({ caCertFile: '/etc/hoichan/ca.pem', caKeyFile: '/etc/hoichan/ca-key.pem' });
    expect(c.sfu).toMatchObject({ SFU_WORKERS: 2, TURN_URLS: 'turn:turn.benhvien.vn:3478' });
    // only the SFU's own variables travel in config.sfu
    expect(Object.keys(c.sfu).every((k) => /^(SFU_|TURN_|MEDIASOUP_WORKER_BIN$)/.test(k))).toBe(true);
  });

  test('bad feature settings stop the start like any other', () => {
    expect(() => loadConfig({ SFU_WORKERS: '0' })).toThrow(/SFU_WORKERS/);
    expect(() => loadConfig({ HOICHAN_DICOMWEB_URL: 'orthanc' })).toThrow(/HOICHAN_DICOMWEB_URL/);
    expect(() => loadConfig({ HOICHAN_SIGNING_CA_CERT: '/etc/hoichan/ca.pem' })).toThrow(/HOICHAN_SIGNING_CA_KEY/);
  });
});

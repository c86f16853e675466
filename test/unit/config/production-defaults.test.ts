import { loadConfig } from '../../../server/config';

const secrets = { JWT_SECRET: 'j'.repeat(40), HOICHAN_KEY_ENCRYPTION_SECRET: 'k'.repeat(40), HOICHAN_AUDIT_KEY: 'a'.repeat(40) };

test('production needs the key-encryption secret (it must not be generated next to the keys it protects)', () => {
  expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: secrets.JWT_SECRET })).toThrow(/HOICHAN_KEY_ENCRYPTION_SECRET: required in production/);
  expect(() => loadConfig({ NODE_ENV: 'production', ...secrets, HOICHAN_KEY_ENCRYPTION_SECRET: 'short' })).toThrow(/HOICHAN_KEY_ENCRYPTION_SECRET/);
  expect(loadConfig({ NODE_ENV: 'production', ...secrets }).auth.keyEncryptionSecret).toBe(secrets.HOICHAN_KEY_ENCRYPTION_SECRET);
});

test('every missing production secret is named at once', () => {
  expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET[\s\S]*HOICHAN_KEY_ENCRYPTION_SECRET/);
});

test('no demo data in production unless asked for, and then only with a given password', () => {
  expect(loadConfig({ NODE_ENV: 'production', ...secrets }).demo.seed).toBe(false);
  expect(() => loadConfig({ NODE_ENV: 'production', ...secrets, HOICHAN_SEED_DEMO: 'true' })).toThrow(/HOICHAN_DEMO_PASSWORD: required in production/);
  expect(loadConfig({ NODE_ENV: 'production', ...secrets, HOICHAN_SEED_DEMO: 'true', HOICHAN_DEMO_PASSWORD: 'a-long-demo-password' }).demo.seed).toBe(true);
});

test('development and test seed the demo by default (npm start, the tests)', () => {
  expect(loadConfig({}).demo.seed).toBe(true);
  expect(loadConfig({ NODE_ENV: 'test' }).demo.seed).toBe(true);
  expect(loadConfig({ HOICHAN_SEED_DEMO: 'false' }).demo.seed).toBe(false);
});

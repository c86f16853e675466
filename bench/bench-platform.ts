/**
 * The configuration the FHIR and load benches run the platform with: production mode (so what is
 * measured is what a hospital runs), an embedded database in a fresh data folder, every secret
 * production requires, and the demo accounts seeded with a known password.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type HoichanConfig } from '../server/config';

export const BENCH_PASSWORD = 'bench-password-0123456789';

export function benchConfig(name: string, env: Record<string, string> = {}): { config: HoichanConfig; dataDir: string; password: string } {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `hoichan-bench-${name}-`));
  const config = loadConfig({
    NODE_ENV: 'production',
    HOME: process.env.HOME,
    HOICHAN_CACHE: process.env.HOICHAN_CACHE,
    PORT: '0',
    HOST: '127.0.0.1',
    HOICHAN_DATA_DIR: dataDir,
    HOICHAN_DEMO_PASSWORD: BENCH_PASSWORD,
    HOICHAN_SEED_DEMO: 'true',
    JWT_SECRET: 'bench-secret-that-is-long-enough-0123456789',
    HOICHAN_AUDIT_KEY: 'bench-audit-key-that-is-long-enough-0123456789',
    HOICHAN_KEY_ENCRYPTION_SECRET: 'bench-key-encryption-secret-long-enough-0123',
    LOG_LEVEL: 'silent',
    CLIENT_DIST_DIR: path.join(dataDir, 'no-client'),
    ...env,
  });
  return { config, dataDir, password: BENCH_PASSWORD };
}

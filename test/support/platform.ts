/**
 * Starts the real platform (same composition root as production) for one test file: its own
 * database on the shared test FerretDB, its own data folder, a random port.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { loadConfig } from '../../server/config';
import { startPlatform, type Platform } from '../../server/main';
import { createLogger } from '../../server/observability/logger';
import type { LoginResponse } from '../../contracts/api';

export const DEMO_PASSWORD = 'demo-password-for-tests';
export const DEMO = {
  referrer: 'referrer@district.demo',
  specialist: 'specialist@central.demo',
  radiologist: 'radiologist@central.demo',
  admin: 'admin@central.demo',
} as const;

export function uniqueDbName(prefix = 't'): string {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  let s = prefix;
  // eslint-disable-next-line @typescript-eslint/restrict-plus-operands -- test helper; undefined prints as undefined in the message
  for (let i = 0; i < 12; i++) s += letters[randomInt(letters.length)];
  return s;
}

export interface TestPlatform {
  platform: Platform;
  url: string;
  dataDir: string;
  /** Logs in and returns the token pair. */
  login(email: string, password?: string): Promise<LoginResponse>;
  /** fetch against the platform with an optional bearer token; JSON bodies are encoded. */
  api(
    method: string,
    pathname: string,
    opts?: { token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

export type ApiCall = TestPlatform['api'];

/**
 * fetch() against a test server: JSON bodies parsed (null when empty), binary bodies
 * (images, DICOM, octet streams) as a Buffer, anything else as text (parsed if it is JSON).
 */
export function apiClient(baseUrl: string): ApiCall {
  return async (method, pathname, opts = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${baseUrl}${pathname}`, { method, headers, body });
    const buf = Buffer.from(await res.arrayBuffer());
    const type = res.headers.get('content-type') ?? '';
    if (type.includes('json')) return { status: res.status, body: buf.length ? JSON.parse(buf.toString('utf8')) : null, headers: res.headers };
    if (/^(image\/|application\/(dicom|octet-stream)|multipart\/)/.test(type)) return { status: res.status, body: buf, headers: res.headers };
    const text = buf.toString('utf8');
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
}

export async function startTestPlatform(env: Record<string, string> = {}): Promise<TestPlatform> {
  const uri = process.env.HOICHAN_TEST_MONGODB_URI;
  if (!uri) throw new Error('HOICHAN_TEST_MONGODB_URI is not set: run through jest (global setup starts FerretDB)');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hoichan-test-data-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    HOME: process.env.HOME,
    HOICHAN_CACHE: process.env.HOICHAN_CACHE,
    PORT: '0',
    HOST: '127.0.0.1',
    MONGODB_URI: uri,
    MONGODB_DB: uniqueDbName(),
    HOICHAN_DATA_DIR: dataDir,
    HOICHAN_DEMO_PASSWORD: DEMO_PASSWORD,
    JWT_SECRET: 'test-secret-that-is-long-enough-0123456789',
    LOG_LEVEL: 'silent',
    CLIENT_DIST_DIR: path.join(dataDir, 'no-client'),
    // The worker scripts/setup.sh built, when the test run was given it.
    MEDIASOUP_WORKER_BIN: process.env.MEDIASOUP_WORKER_BIN,
    ...env,
  });
  const platform = await startPlatform(config, createLogger(config.logLevel));
  const api = apiClient(platform.url);
  return {
    platform,
    url: platform.url,
    dataDir,
    api,
    async login(email, password = DEMO_PASSWORD) {
      const res = await api('POST', '/api/auth/login', { body: { email, password } });
      if (res.status !== 200) throw new Error(`login ${email} failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body as LoginResponse;
    },
    async close() {
      await platform.db.database.connection.dropDatabase().catch(() => undefined);
      await platform.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

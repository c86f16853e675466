/** The built server as an operator runs it: starts, serves, and stops cleanly on SIGTERM. */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freeLoopbackPort } from '../../../server/db/embedded-ferretdb';
import { uniqueDbName } from '../../support/platform';

const main = path.resolve(__dirname, '../../../dist/server/main.js');

test('SIGTERM: stops accepting, closes sockets and the database, exits 0 within 10 s', async () => {
  expect(existsSync(main)).toBe(true); // built by scripts/setup.sh
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hoichan-lifecycle-'));
  const port = await freeLoopbackPort();
  const child = spawn(process.execPath, [main], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      PORT: String(port),
      HOST: '127.0.0.1',
      HOICHAN_DATA_DIR: dataDir,
      MONGODB_URI: process.env.HOICHAN_TEST_MONGODB_URI,
      MONGODB_DB: uniqueDbName('life'),
      HOICHAN_DEMO_PASSWORD: 'lifecycle-pass',
      SFU_WORKERS: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  try {
    const start = Date.now();
    while (!out.includes('hoichan is listening')) {
      if (child.exitCode !== null) throw new Error(`server exited: ${out}`);
      if (Date.now() - start > 60000) throw new Error(`server did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(await metrics.text()).toMatch(/hoichan_http_requests_total/);
    const stopAt = Date.now();
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    expect(Date.now() - stopAt).toBeLessThan(10000);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a bad configuration stops the start with a message naming the variable', async () => {
  const child = spawn(process.execPath, [main], { env: { ...process.env, PORT: 'not-a-port' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  expect(code).toBe(78);
  expect(err).toMatch(/Invalid configuration/);
  expect(err).toMatch(/PORT/);
});

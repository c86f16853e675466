/**
 * `npm start -- --processes 2` (scripts/start.sh → server/platform/local-cluster.ts) with neither
 * REDIS_URL nor MONGODB_URI: it starts a loopback redis-server and the embedded database of its
 * own, two server processes on PORT and PORT+1 that use both, prints the ports; killed outright
 * (SIGKILL), it leaves no server process and no redis-server behind.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { canConnect } from '../../../server/db/embedded-ferretdb';
import { BUILT_SERVER } from '../../support/server-process';

jest.setTimeout(180_000);

const root = path.resolve(__dirname, '../../..');

/**
 * Two consecutive ports nobody listens on, below the kernel's ephemeral range (32768 and up on Linux):
 * the other tests' servers and clients take their ports from that range (port 0), and one of them
 * took the second port between this check and the second process's start (EADDRINUSE in CI).
 */
async function twoFreePorts(): Promise<number> {
  for (;;) {
    const base = 20000 + Math.floor(Math.random() * 12000);
    if (!(await canConnect(base)) && !(await canConnect(base + 1))) return base;
  }
}

async function until(what: string, probe: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('two processes with one command: their own redis-server and database, ports printed; nothing outlives the launcher', async () => {
  expect(existsSync(BUILT_SERVER)).toBe(true); // built by scripts/setup.sh
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hoichan-cluster-'));
  const port = await twoFreePorts();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST: '127.0.0.1', HOICHAN_DATA_DIR: dataDir, SFU_WORKERS: '1', LOG_LEVEL: 'info' };
  delete env.REDIS_URL;
  delete env.MONGODB_URI;
  delete env.NODE_ENV;
  env.HOICHAN_DEMO_PASSWORD = 'local-cluster-demo-password';
  const launcher = spawn('bash', [path.join(root, 'scripts/start.sh'), '--processes', '2'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  launcher.stdout.on('data', (d: Buffer) => (out += d.toString()));
  launcher.stderr.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await until('2 processes up', () => out.includes('[cluster] 2 processes up') || launcher.exitCode !== null, 150_000);
    expect(out).toContain(`[cluster] process 1 of 2: http://127.0.0.1:${port}`);
    expect(out).toContain(`[cluster] process 2 of 2: http://127.0.0.1:${port + 1}`);
    const redisUrl = /\[cluster\] Redis: redis-server on (redis:\/\/127\.0\.0\.1:(\d+))/.exec(out);
    expect(redisUrl).not.toBeNull();
    // Both processes opened the shared state on that Redis, and both answer.
    const opened = out.split('\n').filter((l) => l.includes('shared state in Redis'));
    expect(opened).toHaveLength(2);
    for (const l of opened) expect(l).toContain(redisUrl![1]);
    for (const p of [port, port + 1]) expect((await fetch(`http://127.0.0.1:${p}/healthz`)).status).toBe(200);

    // Killed outright: the server processes and redis-server go with it.
    launcher.kill('SIGKILL');
    const redisPort = Number(redisUrl![2]);
    await until(
      'servers and redis-server gone',
      async () => !(await canConnect(port)) && !(await canConnect(port + 1)) && !(await canConnect(redisPort)),
      30_000,
    );
  } finally {
    if (launcher.exitCode === null) launcher.kill('SIGKILL');
    // The servers inherited these pipes; they close when the last one has exited: stop reading.
    launcher.stdout.destroy();
    launcher.stderr.destroy();
    // The embedded database stops once the server that ran it (the launcher) is gone; give it a moment.
    await new Promise((r) => setTimeout(r, 2000));
    rmSync(dataDir, { recursive: true, force: true });
  }
});

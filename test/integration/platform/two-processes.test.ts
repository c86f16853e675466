/**
 * Two built server processes on one database and one Redis, as an operator runs them behind a
 * load balancer: a consult requested on A reaches the specialist's socket on B live; login
 * failures spread over A and B count against one limit; a message posted on B reaches the
 * referrer's socket on A.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freeLoopbackPort } from '../../../server/db/embedded-ferretdb';
import { connect, waitFor, type ClientSocket } from '../consults/helpers';
import { findDemoPatient, loginParty, requestConsult, transition, type PlatformClient } from '../../support/consult-flow';
import { apiClient, DEMO, DEMO_PASSWORD, uniqueDbName } from '../../support/platform';
import { startRedis, type TestRedis } from '../../support/redis';

jest.setTimeout(120000);

const main = path.resolve(__dirname, '../../../dist/server/main.js');

interface ServerProcess extends PlatformClient {
  child: ChildProcess;
  output(): string;
}

let redis: TestRedis;
let dataDir: string;
const servers: ServerProcess[] = [];
const sockets: ClientSocket[] = [];

async function startServer(name: string, env: Record<string, string>): Promise<ServerProcess> {
  const port = await freeLoopbackPort();
  const child = spawn(process.execPath, [main], {
    env: { ...process.env, ...env, NODE_ENV: 'test', PORT: String(port), HOST: '127.0.0.1', SFU_WORKERS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const start = Date.now();
  while (!out.includes('hoichan is listening')) {
    if (child.exitCode !== null) throw new Error(`server ${name} exited: ${out.slice(-2000)}`);
    if (Date.now() - start > 60000) throw new Error(`server ${name} did not start: ${out.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const url = `http://127.0.0.1:${port}`;
  const api = apiClient(url);
  const server: ServerProcess = {
    url,
    api,
    child,
    output: () => out,
    async login(email, password = DEMO_PASSWORD) {
      const res = await api('POST', '/api/auth/login', { body: { email, password } });
      if (res.status !== 200) throw new Error(`login ${email} on ${name} failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    },
  };
  servers.push(server);
  return server;
}

let a: ServerProcess;
let b: ServerProcess;

beforeAll(async () => {
  expect(existsSync(main)).toBe(true); // built by scripts/setup.sh
  redis = await startRedis();
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'hoichan-two-'));
  const env = {
    MONGODB_URI: process.env.HOICHAN_TEST_MONGODB_URI ?? '',
    MONGODB_DB: uniqueDbName('two'),
    REDIS_URL: redis.url,
    JWT_SECRET: 'two-process-test-secret-of-at-least-32-characters',
    HOICHAN_DATA_DIR: dataDir,
    HOICHAN_DEMO_PASSWORD: DEMO_PASSWORD,
    HOICHAN_SEED_DEMO: 'true',
  };
  a = await startServer('A', env);
  b = await startServer('B', env);
});

afterAll(async () => {
  for (const s of sockets) s.disconnect();
  for (const s of servers) {
    if (s.child.exitCode === null) {
      const exited = new Promise((r) => s.child.once('exit', r));
      s.child.kill('SIGTERM');
      await exited;
    }
  }
  await redis.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('a consult requested on A reaches the specialist on B live; chat posted on B reaches the referrer on A', async () => {
  const referrer = await loginParty(a, DEMO.referrer);
  const specialist = await loginParty(b, DEMO.specialist);
  const specialistSocket = await connect(b, specialist.token);
  const referrerSocket = await connect(a, referrer.token);
  sockets.push(specialistSocket, referrerSocket);
  const patientId = await findDemoPatient(a, referrer);

  const requested = waitFor<{ consultId: string }>(specialistSocket, 'consult:requested', () => true, 10000);
  const consult = await requestConsult(a, referrer, patientId);
  expect((await requested).consultId).toBe(consult.id);

  const accepted = waitFor<{ consultId: string }>(referrerSocket, 'consult:accepted', (e) => e.consultId === consult.id, 10000);
  await transition(b, specialist, consult.id, 'accept', 'accepted');
  await accepted;

  const message = waitFor<{ consultId: string; text: string }>(referrerSocket, 'consult:message', (e) => e.consultId === consult.id, 10000);
  const posted = await b.api('POST', `/api/consults/${consult.id}/messages`, { token: specialist.token, body: { text: 'Chào bác sĩ, tôi đã nhận ca' } });
  expect(posted.status).toBe(201);
  expect((await message).text).toBe('Chào bác sĩ, tôi đã nhận ca');
});

test('login failures spread over A and B count against one per-account limit (held in Redis)', async () => {
  const email = DEMO.radiologist;
  // LOGIN_MAX_FAILURES_PER_ACCOUNT defaults to 5: alternate the wrong password between the servers.
  for (let i = 0; i < 5; i++) {
    const res = await (i % 2 === 0 ? a : b).api('POST', '/api/auth/login', { body: { email, password: `wrong-${i}` } });
    expect(res.status).toBe(401);
  }
  // Each server alone has seen fewer than 5 failures; together they reached the limit.
  for (const server of [a, b]) {
    const res = await server.api('POST', '/api/auth/login', { body: { email, password: DEMO_PASSWORD } });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
  }
});

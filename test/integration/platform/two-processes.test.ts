/**
 * Two built server processes on one database and one Redis, as an operator runs them behind a
 * load balancer: a consult requested on A reaches the specialist's socket on B live; a message
 * posted on B reaches the referrer's socket on A; the consult room spans both (the host on B sees
 * and admits a guest waiting on A, presence and leaving cross over); login failures spread over A
 * and B count against one limit; sessions ended on A end on B within seconds (the session version
 * is in the database); each audits into a hash chain of its own, and the trail verifies through either
 * while both write; the SLA sweep runs on one process, and on the other once it dies.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';
import { createClient } from 'redis';
import type { ConsultRoomState, PresentParticipant } from '../../../contracts/consult-events';
import { connect, request, waitFor, type ClientSocket } from '../consults/helpers';
import { findDemoPatient, inviteToConsult, loginParty, requestConsult, transition } from '../../support/consult-flow';
import { DEMO, DEMO_PASSWORD, uniqueDbName } from '../../support/platform';
import { startRedis, type TestRedis } from '../../support/redis';
import { BUILT_SERVER, startServerProcess, type ServerProcess } from '../../support/server-process';
import { CHAIN_SPAN, chainOf } from '../../../server/audit/trail-format';

jest.setTimeout(120000);

let redis: TestRedis;
let dataDir: string;
let dbName: string;
const servers: ServerProcess[] = [];
const sockets: ClientSocket[] = [];

async function startServer(name: string, env: Record<string, string>): Promise<ServerProcess> {
  const server = await startServerProcess(name, env);
  servers.push(server);
  return server;
}

let a: ServerProcess;
let b: ServerProcess;

beforeAll(async () => {
  expect(existsSync(BUILT_SERVER)).toBe(true); // built by scripts/setup.sh
  redis = await startRedis();
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'hoichan-two-'));
  dbName = uniqueDbName('two');
  const env = {
    MONGODB_URI: process.env.HOICHAN_TEST_MONGODB_URI ?? '',
    MONGODB_DB: dbName,
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
  for (const s of servers) await s.stop();
  await redis.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('a consult requested on A reaches the specialist on B live; chat posted on B reaches the referrer on A; the report signed on B reaches A and verifies there', async () => {
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

  // The specialist on B starts the consult and signs the report: the referrer's socket on A is told,
  // and A serves the report and verifies its signature (the key B signed with is in the shared database).
  const started = waitFor<{ consultId: string }>(referrerSocket, 'consult:started', (e) => e.consultId === consult.id, 10000);
  await transition(b, specialist, consult.id, 'start', 'in_progress');
  await started;
  const ready = waitFor<{ consultId: string; version: number }>(referrerSocket, 'consult:report-ready', (e) => e.consultId === consult.id, 10000);
  const written = await b.api('POST', `/api/consults/${consult.id}/report`, {
    token: specialist.token,
    body: { findings: 'Thâm nhiễm thùy trên phổi phải.', recommendation: 'Xét nghiệm AFB đờm x2, GeneXpert.', impression: 'Nghi lao phổi' },
  });
  expect(written.status).toBe(201);
  expect((await ready).version).toBe(1);
  const onA = await a.api('GET', `/api/consults/${consult.id}/report`, { token: referrer.token });
  expect(onA.status).toBe(200);
  expect(onA.body).toMatchObject({ version: 1, signerId: specialist.userId });
  const verified = await a.api('GET', `/api/consults/${consult.id}/report/verify`, { token: referrer.token });
  expect(verified.status).toBe(200);
  expect(verified.body).toMatchObject({ valid: true });
});

const userIds = (list: PresentParticipant[]) => list.map((p) => p.userId).sort();

test('the consult room spans A and B: the host on B sees and admits a guest waiting on A; presence and leaving cross over', async () => {
  const referrer = await loginParty(a, DEMO.referrer);
  const specialist = await loginParty(b, DEMO.specialist);
  const radiologist = await loginParty(a, DEMO.radiologist);
  const consult = await requestConsult(a, referrer, await findDemoPatient(a, referrer));
  const consultId = consult.id;
  await transition(b, specialist, consultId, 'accept', 'accepted');
  await inviteToConsult(b, specialist, consultId, radiologist);
  const mine = (e: { consultId: string }) => e.consultId === consultId;

  // The host opens the room on B.
  const host = await connect(b, specialist.token);
  sockets.push(host);
  const hostJoin = await request(host, 'consult:join', { consultId });
  expect(hostJoin).toMatchObject({ ok: true, admitted: true, host: true });
  expect(userIds(hostJoin.room.present)).toEqual([specialist.userId]);

  // The requesting doctor enters on A without waiting: A's answer shows the host (socket on B), B's host is told.
  const ref = await connect(a, referrer.token);
  sockets.push(ref);
  const refJoin = await request(ref, 'consult:join', { consultId });
  expect(refJoin).toMatchObject({ ok: true, admitted: true, host: false });
  expect(userIds(refJoin.room.present)).toEqual([referrer.userId, specialist.userId].sort());
  await waitFor(host, 'consult:participant-joined', (e) => mine(e) && e.participant.userId === referrer.userId, 10000);

  // An invited colleague joins on A and waits; the host on B sees them waiting.
  const guest = await connect(a, radiologist.token);
  sockets.push(guest);
  const guestJoin = await request(guest, 'consult:join', { consultId });
  expect(guestJoin).toMatchObject({ ok: true, admitted: false });
  expect(userIds(guestJoin.room.waiting)).toEqual([radiologist.userId]);
  expect(userIds(guestJoin.room.present)).toEqual([referrer.userId, specialist.userId].sort());
  const waiting = await waitFor<{ consultId: string; waiting: PresentParticipant[] }>(
    host,
    'consult:waiting',
    (e) => mine(e) && e.waiting.some((w) => w.userId === radiologist.userId),
    10000,
  );
  expect(waiting.waiting).toEqual([{ userId: radiologist.userId, displayName: radiologist.displayName, role: 'radiologist' }]);
  expect((await request(guest, 'consult:message', { consultId, text: 'xin vào' })).ok).toBe(false); // not admitted yet

  // Admitted from B: the guest's socket on A is told, with everyone present and nobody waiting.
  const admitted = waitFor<{ consultId: string; room: ConsultRoomState }>(guest, 'consult:admitted', mine, 10000);
  expect(await request(host, 'consult:admit', { consultId, userId: radiologist.userId })).toEqual({ ok: true });
  const { room } = await admitted;
  expect(userIds(room.present)).toEqual([radiologist.userId, referrer.userId, specialist.userId].sort());
  expect(room.waiting).toEqual([]);
  await waitFor(host, 'consult:participant-joined', (e) => mine(e) && e.participant.userId === radiologist.userId, 10000);
  await waitFor(ref, 'consult:participant-joined', (e) => mine(e) && e.participant.userId === radiologist.userId, 10000);

  // Chat in the room both ways: A (whose process reads the admission from Redis) → B, and B → A.
  const toHost = waitFor<{ text: string }>(host, 'consult:message', (e) => e.text === 'Phim X-quang đã xem, nghi lao', 10000);
  expect(await request(guest, 'consult:message', { consultId, text: 'Phim X-quang đã xem, nghi lao' })).toMatchObject({ ok: true });
  await toHost;
  const toGuest = waitFor<{ text: string }>(guest, 'consult:message', (e) => e.text === 'Đồng ý, làm thêm AFB', 10000);
  expect(await request(host, 'consult:message', { consultId, text: 'Đồng ý, làm thêm AFB' })).toMatchObject({ ok: true });
  await toGuest;

  // Leaving on A reaches B, and the guest too (B moved its socket on A into the consult's room).
  expect(await request(ref, 'consult:leave', { consultId })).toEqual({ ok: true });
  await waitFor(host, 'consult:participant-left', (e) => mine(e) && e.userId === referrer.userId, 10000);
  await waitFor(guest, 'consult:participant-left', (e) => mine(e) && e.userId === referrer.userId, 10000);
  // A disconnect on A reaches B.
  guest.disconnect();
  await waitFor(host, 'consult:participant-left', (e) => mine(e) && e.userId === radiologist.userId, 10000);
  const again = await request(host, 'consult:join', { consultId });
  expect(userIds(again.room.present)).toEqual([specialist.userId]);
  expect(again.room.waiting).toEqual([]);
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

test("ending a user's sessions on A stops their token on B within seconds and closes their socket there", async () => {
  const admin = await loginParty(a, DEMO.admin);
  const referrer = await loginParty(b, DEMO.referrer);
  const onB = await connect(b, referrer.token);
  sockets.push(onB);
  expect((await b.api('GET', '/api/me', { token: referrer.token })).status).toBe(200);
  const told = waitFor(onB, 'session:expired', () => true, 10000);
  // A new password (the same one again) ends every session: the session version in the database moves on.
  const changed = await a.api('PATCH', `/api/admin/users/${referrer.userId}`, { token: admin.token, body: { password: DEMO_PASSWORD } });
  expect(changed.status).toBe(200);
  const started = Date.now();
  // B read the account before the change: its cache (≤ 2 s) runs out and it reads the new version.
  await until('B refuses the old token', async () => ((await b.api('GET', '/api/me', { token: referrer.token })).status === 401 ? true : undefined), 5000);
  expect(Date.now() - started).toBeLessThan(5000);
  await told;
  await until('the socket on B is closed', () => (onB.connected ? undefined : true), 5000);
});

test('each process audits into a chain of its own; the trail verifies through either while both write', async () => {
  const adminOn = { A: await loginParty(a, DEMO.admin), B: await loginParty(b, DEMO.admin) };
  // audited reads on both processes while each verifies the whole trail
  const [onA, onB, ...reads] = await Promise.all([
    a.api('GET', '/api/admin/audit/verify', { token: adminOn.A.token }),
    b.api('GET', '/api/admin/audit/verify', { token: adminOn.B.token }),
    ...Array.from({ length: 10 }, (_, i) =>
      i % 2 ? a.api('GET', '/api/emr/patients', { token: adminOn.A.token }) : b.api('GET', '/api/emr/patients', { token: adminOn.B.token }),
    ),
  ]);
  expect(reads.map((r) => r.status)).toEqual(Array.from({ length: 10 }, () => 200));
  for (const verified of [onA, onB]) {
    expect(verified.status).toBe(200);
    expect(verified.body).toMatchObject({ ok: true });
  }
  const listed = await a.api('GET', '/api/admin/audit/events?limit=1000', { token: adminOn.A.token });
  const rows = listed.body as { seq: number; chain: number; entryInChain: number }[];
  expect(new Set(rows.map((e) => chainOf(e.seq))).size).toBe(2);
  // The admin screen names an entry by its chain and its place in it, not by the raw id.
  for (const e of rows) expect(e.chain * CHAIN_SPAN + e.entryInChain).toBe(e.seq);
  expect(rows.every((e) => e.entryInChain >= 1 && e.entryInChain < CHAIN_SPAN && e.chain === chainOf(e.seq))).toBe(true);
});

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const HOLDS = 'this process holds the SLA sweep lease';

// Last: it kills one of the servers.
test('the SLA sweep runs on one process (the lease holder); when that process dies, the other takes over', async () => {
  const db = await mongoose.createConnection(process.env.HOICHAN_TEST_MONGODB_URI ?? '', { dbName }).asPromise();
  const rc = createClient({ url: redis.url });
  await rc.connect();
  try {
    const makeOverdue = (id: string) =>
      db.collection('consultrequests').updateOne({ _id: id as never }, { $set: { slaDeadline: new Date(Date.now() - 60_000) } });
    const referrer = await loginParty(a, DEMO.referrer);
    const specialist = await loginParty(b, DEMO.specialist);
    const patientId = await findDemoPatient(a, referrer);

    // One holder: it said so, Redis names it, and the other said it stands by (or said nothing yet).
    const holder = await until('a lease holder', () => [a, b].find((s) => s.output().includes(HOLDS)), 20000);
    const other = holder === a ? b : a;
    expect(other.output()).not.toContain(HOLDS);
    expect(await rc.get('hoichan:lease:sla-sweeper')).toBe(holder.processId());
    expect(other.processId()).not.toBe(holder.processId());

    // An overdue consult is announced once, to the specialists on both processes.
    const onA = await connect(a, specialist.token);
    const onB = await connect(b, specialist.token);
    sockets.push(onA, onB);
    const first = await requestConsult(a, referrer, patientId);
    await makeOverdue(first.id);
    for (const s of [onA, onB]) await waitFor(s, 'consult:overdue', (e) => e.consultId === first.id, 15000);
    await new Promise((r) => setTimeout(r, 6000)); // more sweeps pass
    for (const s of [onA, onB])
      expect(s.seen.filter((e) => e.event === 'consult:overdue' && (e.payload as { consultId: string }).consultId === first.id)).toHaveLength(1);
    expect(other.output()).not.toContain(HOLDS);

    // Someone is in a consult room through the holder; then the holder dies without a word.
    const inRoom = await requestConsult(a, referrer, patientId);
    await transition(b, specialist, inRoom.id, 'accept', 'accepted');
    const refOnHolder = await connect(holder, referrer.token);
    const hostOnOther = await connect(other, specialist.token);
    sockets.push(refOnHolder, hostOnOther);
    expect((await request(refOnHolder, 'consult:join', { consultId: inRoom.id })).ok).toBe(true);
    const hostJoin = await request(hostOnOther, 'consult:join', { consultId: inRoom.id });
    expect(userIds(hostJoin.room.present)).toEqual([referrer.userId, specialist.userId].sort());
    holder.child.kill('SIGKILL');

    // The survivor takes the lease once it expired, and sweeps.
    await until('the other process takes the lease', () => (other.output().includes(HOLDS) ? true : undefined), 40000);
    expect(await rc.get('hoichan:lease:sla-sweeper')).toBe(other.processId());
    const second = await requestConsult(other, referrer, patientId);
    await makeOverdue(second.id);
    const survivorSocket = holder === a ? onB : onA;
    await waitFor(survivorSocket, 'consult:overdue', (e) => e.consultId === second.id, 15000);
    // The dead process's socket is taken out of the room (its heartbeat expired) and the room is told, as if it had left.
    await waitFor(hostOnOther, 'consult:participant-left', (e) => e.consultId === inRoom.id && e.userId === referrer.userId, 30000);
    await until(
      "the dead process's socket leaves the room",
      async () => {
        const r = await request(hostOnOther, 'consult:join', { consultId: inRoom.id });
        return userIds(r.room.present).join() === specialist.userId ? true : undefined;
      },
      30000,
    );
  } finally {
    await rc.close();
    await db.close();
  }
});

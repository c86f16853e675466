/**
 * Socket event limits: per connection and per user, unknown events counted too, one strike
 * budget, a disconnect and an audit entry for abuse, one ack shape {ok:false, error, message}.
 */
import { io, type Socket } from 'socket.io-client';
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';
import { newFacility, newStaff } from '../emr-access/fixtures';
import { workerBinOrSkip } from '../sfu/helpers';

let tp: TestPlatform;
let admin: string;
const sockets: Socket[] = [];
beforeAll(async () => {
  tp = await startTestPlatform({
    SOCKET_EVENTS_PER_S: '5',
    SOCKET_EVENT_BURST: '10',
    SOCKET_USER_EVENTS_PER_S: '5',
    SOCKET_USER_EVENT_BURST: '15',
    SOCKET_STRIKE_BUDGET: '5',
  });
  admin = (await tp.login(DEMO.admin)).accessToken;
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await tp.close();
});

async function connect(email: string, transport: 'websocket' | 'polling' = 'websocket'): Promise<{ socket: Socket; userId: string }> {
  const { accessToken } = await tp.login(email);
  const socket = io(tp.url, { path: '/socket.io', auth: { token: accessToken }, transports: [transport], reconnection: false, forceNew: true });
  sockets.push(socket);
  const userId = await new Promise<string>((resolve, reject) => {
    socket.on('session:ready', (info: { userId: string }) => resolve(info.userId));
    socket.on('connect_error', reject);
  });
  return { socket, userId };
}

const disconnected = (s: Socket) => new Promise<string>((resolve) => (s.disconnected ? resolve('already') : s.once('disconnect', (reason) => resolve(reason))));

async function auditDescriptions(userId: string): Promise<string[]> {
  for (let i = 0; i < 50; i++) {
    const res = await tp.api('GET', `/api/admin/audit/events?user=${userId}&limit=50`, { token: admin });
    const found = (res.body as { kind: string; outcomeDesc: string | null }[]).filter((e) => e.kind === 'access-denied').map((e) => e.outcomeDesc ?? '');
    if (found.length) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  return [];
}

// Over polling the client sends the queued packets in one request, so the server reads the whole
// flood at once (as it does over a WebSocket when frames pile up on a busy server): the events
// admitted before the disconnect must still be answered.
// The polling case uses an account of its own, so its flood leaves the other tests' per-user rates alone.
test.each([
  ['websocket', () => Promise.resolve(DEMO.referrer)],
  ['polling', async () => (await newStaff(tp, admin, 'referring_doctor', await newFacility(tp, admin, 'district'))).email],
] as const)('a flood from one socket (%s) is refused with rate_limited, then disconnected and audited', async (transport, account) => {
  const { socket, userId } = await connect(await account(), transport);
  const gone = disconnected(socket);
  const acks = await Promise.all(
    Array.from({ length: 40 }, () =>
      socket
        .timeout(3000)
        .emitWithAck('session:ping')
        .catch(() => ({ ok: false, error: 'no_answer' })),
    ),
  );
  expect(acks.filter((a) => a.ok).length).toBeGreaterThanOrEqual(9);
  expect(acks.filter((a) => a.ok).length).toBeLessThanOrEqual(11);
  expect(acks).toContainEqual({ ok: false, error: 'rate_limited', message: expect.any(String) });
  expect(await gone).toBe('io server disconnect');
  expect(await auditDescriptions(userId)).toContainEqual(expect.stringMatching(/too many events/));
});

test('unknown events count against the same budget (and the rate) and get an unknown_event ack', async () => {
  const { socket, userId } = await connect(DEMO.specialist);
  const gone = disconnected(socket);
  const first = await socket.timeout(3000).emitWithAck('no:such-event', { x: 1 });
  expect(first).toEqual({ ok: false, error: 'unknown_event', message: expect.stringMatching(/no:such-event/) });
  for (let i = 0; i < 6; i++) socket.emit(`probe:${i}`, {});
  expect(await gone).toBe('io server disconnect');
  expect(await auditDescriptions(userId)).toContainEqual(expect.stringMatching(/unknown events/));
});

test("the per-user rate spans all of a user's sockets", async () => {
  const a = await connect(DEMO.radiologist);
  const b = await connect(DEMO.radiologist);
  const ping = (s: Socket) =>
    s
      .timeout(3000)
      .emitWithAck('session:ping')
      .catch(() => ({ ok: false, error: 'no_answer' }));
  // 8 + 8 stays inside each connection's burst of 10 but not the user's 15.
  const acks = await Promise.all([...Array.from({ length: 8 }, () => ping(a.socket)), ...Array.from({ length: 8 }, () => ping(b.socket))]);
  const refused = acks.filter((x) => !x.ok);
  expect(refused.length).toBeGreaterThanOrEqual(1);
  expect(refused.every((x) => (x as { error: string }).error === 'rate_limited')).toBe(true);
});

test('a client at an ordinary pace is never refused', async () => {
  const { socket } = await connect(DEMO.admin);
  for (let i = 0; i < 12; i++) {
    expect(await socket.timeout(3000).emitWithAck('session:ping')).toMatchObject({ ok: true });
    await new Promise((r) => setTimeout(r, 250));
  }
  expect(socket.connected).toBe(true);
});

// Refused by the SFU (admission) and by the consult room (no such consult): the same ack shape, and
// both spend the connection's one budget (5 here) — neither feature alone reaches it.
(workerBinOrSkip() ? test : test.skip)(
  'an SFU refusal and a consult refusal ack {ok:false, error: code, message} and spend the one strike budget',
  async () => {
    const { socket, userId } = await connect((await newStaff(tp, admin, 'referring_doctor', await newFacility(tp, admin, 'district'))).email);
    const gone = disconnected(socket);
    const ask = (event: string, payload: unknown) => socket.timeout(3000).emitWithAck(event, payload);
    for (let i = 0; i < 3; i++)
      expect(await ask('sfu:join', { consultId: `no-such-consult-${i}` })).toEqual({
        ok: false,
        error: 'forbidden',
        message: expect.stringMatching(/not a participant/),
      });
    for (let i = 0; i < 2; i++)
      expect(await ask('consult:join', { consultId: `no-such-consult-${i}` })).toEqual({
        ok: false,
        error: 'not_found',
        message: expect.stringMatching(/No consult/),
      });
    expect(socket.connected).toBe(true);
    expect(await socket.timeout(3000).emitWithAck('session:ping')).toMatchObject({ ok: true });
    // One refusal more, from either feature, is past the budget: answered, then disconnected and audited.
    expect(await ask('consult:admit', { consultId: 'no-such-consult', userId: 'usr-nobody' })).toEqual({
      ok: false,
      error: 'not_found',
      message: expect.any(String),
    });
    expect(await gone).toBe('io server disconnect');
    expect(await auditDescriptions(userId)).toContainEqual(expect.stringMatching(/failing requests/));
  },
);

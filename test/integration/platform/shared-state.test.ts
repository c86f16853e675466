/**
 * Room presence and leases, the same contract in this process's memory and in a real
 * redis-server; in Redis, across two `SharedState`s (two processes): what one writes the other
 * reads, a process that stops its heartbeat loses its entries, a lease changes hands only on
 * release or expiry.
 */
import { createClient } from 'redis';
import { RedisLease } from '../../../server/platform/lease';
import { aliveKey, type RoomEntry, type RoomPresence } from '../../../server/platform/room-presence';
import { openSharedState, processSharedState, type SharedState } from '../../../server/platform/shared-state';
import { createLogger } from '../../../server/observability/logger';
import { startRedis, type TestRedis } from '../../support/redis';

const logger = createLogger('silent');
let redis: TestRedis;
const opened: SharedState[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const s of opened) await s.close();
  await redis.stop();
});

async function redisState(): Promise<SharedState> {
  const s = await openSharedState(redis.url, logger);
  opened.push(s);
  return s;
}

const entry = (socketId: string, userId: string): RoomEntry => ({ socketId, userId, displayName: `Bác sĩ ${userId}`, role: 'specialist' });
const users = (list: RoomEntry[]) => list.map((e) => e.userId).sort();

let roomSeq = 0;
describe.each([
  ['in this process', () => Promise.resolve([processSharedState().roomPresence('consult')])],
  [
    'in Redis, across two processes',
    async () => {
      const [a, b] = [await redisState(), await redisState()];
      return [a.roomPresence('consult'), b.roomPresence('consult')];
    },
  ],
] as const)('room presence %s', (_name, make) => {
  let one: RoomPresence;
  let other: RoomPresence;
  let room: string;
  beforeEach(async () => {
    const made: RoomPresence[] = await make();
    one = made[0] as RoomPresence;
    other = made[1] ?? one;
    room = `c-${++roomSeq}`;
  });

  test('entering, waiting, admission and leaving', async () => {
    expect(await one.enter(room, entry('s1', 'host'))).toEqual({ firstOfUser: true });
    expect(await other.enter(room, entry('s2', 'host'))).toEqual({ firstOfUser: false }); // the host's second tab
    expect(await one.enter(room, entry('s1', 'host'))).toEqual({ firstOfUser: false }); // re-join of a socket
    await other.wait(room, entry('g1', 'guest'));
    await other.wait(room, entry('g2', 'guest'));
    expect(await one.isPresent(room, 'g1')).toBe(false);
    let snap = await one.snapshot(room);
    expect(users(snap.present)).toEqual(['host', 'host']);
    expect(users(snap.waiting)).toEqual(['guest', 'guest']);

    const moved = await one.admitUser(room, 'guest');
    expect(moved.map((e) => e.socketId).sort()).toEqual(['g1', 'g2']);
    expect(moved[0]).toMatchObject({ userId: 'guest', displayName: 'Bác sĩ guest', role: 'specialist' });
    expect(await one.admitUser(room, 'guest')).toEqual([]);
    expect(await other.isPresent(room, 'g2')).toBe(true);
    snap = await other.snapshot(room);
    expect(snap.waiting).toEqual([]);
    expect(users(snap.present)).toEqual(['guest', 'guest', 'host', 'host']);

    expect(await one.remove(room, 'g1')).toEqual({ wasPresent: entry('g1', 'guest'), userStillPresent: true });
    expect(await other.remove(room, 'g2')).toEqual({ wasPresent: entry('g2', 'guest'), userStillPresent: false });
    expect(await other.remove(room, 'g2')).toEqual({ wasPresent: null, userStillPresent: false });
    await one.wait(room, entry('g3', 'guest'));
    expect(await other.remove(room, 'g3')).toEqual({ wasPresent: null, userStillPresent: false }); // it was only waiting
    await one.remove(room, 's1');
    await one.remove(room, 's2');
    expect(await other.snapshot(room)).toEqual({ present: [], waiting: [] });
  });

  test('a waiting socket that enters is no longer waiting, and the reverse', async () => {
    await one.wait(room, entry('x', 'guest'));
    await other.enter(room, entry('x', 'guest'));
    expect(await one.snapshot(room)).toEqual({ present: [entry('x', 'guest')], waiting: [] });
    await other.wait(room, entry('x', 'guest'));
    expect(await one.snapshot(room)).toEqual({ present: [], waiting: [entry('x', 'guest')] });
  });
});

describe('in Redis', () => {
  test('a process that died (its heartbeat key gone) drops out of every room; its departures are taken out and reported once', async () => {
    const a = await redisState();
    const b = await redisState();
    const c = await redisState();
    await a.roomPresence('consult').enter('dead', entry('a1', 'referrer'));
    await a.roomPresence('consult').wait('dead', entry('a2', 'guest'));
    await a.roomPresence('consult').enter('dead-2', entry('a3', 'referrer'));
    await b.roomPresence('consult').enter('dead', entry('b1', 'host'));
    await b.roomPresence('consult').enter('dead-2', entry('b2', 'referrer'));
    expect(users((await b.roomPresence('consult').snapshot('dead')).present)).toEqual(['host', 'referrer']);
    // Alive: nothing departed.
    expect(await c.roomPresence('consult').departed()).toEqual([]);

    // A crash: no orderly leave; its alive key runs out (here: removed, as expiry would).
    const client = createClient({ url: redis.url });
    await client.connect();
    try {
      expect(await client.exists(aliveKey(a.processId))).toBe(1);
      expect(await client.pTTL(aliveKey(a.processId))).toBeGreaterThan(0);
      await client.del(aliveKey(a.processId));
      expect(await b.roomPresence('consult').snapshot('dead')).toEqual({ present: [entry('b1', 'host')], waiting: [] });
      expect(await b.roomPresence('consult').isPresent('dead', 'a1')).toBe(false);
      // Two processes look at once: every departure goes to exactly one of them.
      const [byB, byC] = await Promise.all([b.roomPresence('consult').departed(), c.roomPresence('consult').departed()]);
      const all = [...byB, ...byC].sort((x, y) => x.entry.socketId.localeCompare(y.entry.socketId));
      expect(all).toEqual([
        { room: 'dead', entry: entry('a1', 'referrer'), wasPresent: true, userStillPresent: false },
        { room: 'dead', entry: entry('a2', 'guest'), wasPresent: false, userStillPresent: false },
        // The user is still in that room through another process's socket: no "left" for them.
        { room: 'dead-2', entry: entry('a3', 'referrer'), wasPresent: true, userStillPresent: true },
      ]);
      expect(await b.roomPresence('consult').departed()).toEqual([]);
      expect(await client.hKeys('hoichan:presence:consult:dead:present')).toEqual(['b1']);
      expect(await client.exists('hoichan:presence:consult:dead:waiting')).toBe(0);
      expect(await client.exists(`hoichan:presence:consult:rooms-of:${a.processId}`)).toBe(0);
      expect(await client.sMembers('hoichan:presence:consult:processes')).not.toContain(a.processId);
    } finally {
      await client.close();
    }
  });

  test('an orderly close ends the heartbeat: its entries stop counting at once', async () => {
    const a = await openSharedState(redis.url, logger);
    const b = await redisState();
    await a.roomPresence('consult').enter('closed', entry('a1', 'referrer'));
    expect(await b.roomPresence('consult').isPresent('closed', 'a1')).toBe(true);
    await a.close();
    expect(await b.roomPresence('consult').isPresent('closed', 'a1')).toBe(false);
  });

  test('a lease: one holder; renewed by it; taken by another only after release or expiry', async () => {
    const client = createClient({ url: redis.url });
    await client.connect();
    try {
      const ttl = 400;
      const a = new RedisLease(client, 'job', 'A', ttl);
      const b = new RedisLease(client, 'job', 'B', ttl);
      expect(await a.hold()).toBe(true);
      expect(await b.hold()).toBe(false);
      expect(await b.holder()).toBe('A');
      // A renews within the TTL, so it keeps the lease past the first expiry.
      for (let i = 0; i < 4; i++) {
        await new Promise((r) => setTimeout(r, ttl / 4));
        expect(await a.hold()).toBe(true);
        expect(await b.hold()).toBe(false);
      }
      await b.release(); // not B's to give
      expect(await a.holder()).toBe('A');
      // A dies: no renewal; B gets the lease once it expired.
      await new Promise((r) => setTimeout(r, ttl + 100));
      expect(await b.holder()).toBeNull();
      expect(await b.hold()).toBe(true);
      expect(await a.hold()).toBe(false);
      // An orderly handover.
      await b.release();
      expect(await a.hold()).toBe(true);
      expect(await a.holder()).toBe('A');
    } finally {
      await client.close();
    }
  });
});

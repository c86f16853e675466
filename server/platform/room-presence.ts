/**
 * Who is in a live room and who waits outside it, per socket: the consult room's presence and
 * waiting room. One process keeps it in memory; several processes keep it in Redis, so a host on
 * one process sees (and admits) a guest waiting on another.
 *
 * Redis: two hashes per room (`…:present`, `…:waiting`), field = socket id, value = the entry as
 * JSON with the id of the process that holds the socket. Each process keeps an `alive` key with a
 * short TTL (heartbeat); entries of a process whose key expired (it died without leaving) are
 * ignored when read, so a dead process's sockets vanish within PROCESS_ALIVE_TTL_MS, and `departed`
 * takes them out: each process lists the rooms it has entries in, and every process that looks
 * removes a dead one's entries with one script per room, so each departure is reported once (to
 * whoever removed it) and the room can be told the participant left.
 */
import { z } from 'zod';
import type { RedisClient } from './shared-state';

export interface RoomEntry {
  socketId: string;
  userId: string;
  displayName: string;
  role: string;
}

export interface RoomSnapshot {
  /** Sockets in the room (admitted and connected). */
  present: RoomEntry[];
  /** Sockets waiting for the host. */
  waiting: RoomEntry[];
}

/** The contract both stores keep; every call names the room (e.g. a consult id). */
export interface RoomPresence {
  /** The socket is in the room (and no longer waiting). Says whether no other socket of its user was in the room. */
  enter(room: string, entry: RoomEntry): Promise<{ firstOfUser: boolean }>;
  /** The socket waits outside the room (and is no longer in it). */
  wait(room: string, entry: RoomEntry): Promise<void>;
  /** Moves every waiting socket of the user into the room; returns them. */
  admitUser(room: string, userId: string): Promise<RoomEntry[]>;
  /** Takes the socket out of the room and the waiting room: its entry if it was in the room, and whether its user still is (another socket). */
  remove(room: string, socketId: string): Promise<{ wasPresent: RoomEntry | null; userStillPresent: boolean }>;
  isPresent(room: string, socketId: string): Promise<boolean>;
  snapshot(room: string): Promise<RoomSnapshot>;
  /**
   * Entries of processes that died without leaving, taken out of their rooms: each one is returned
   * to exactly one caller across processes (`userStillPresent`: another socket of the user is still
   * in the room). Always empty in one process's memory (its sockets leave when it closes them).
   */
  departed(): Promise<Departure[]>;
}

export interface Departure {
  room: string;
  entry: RoomEntry;
  /** Whether it was in the room (true) or waiting outside it. */
  wasPresent: boolean;
  userStillPresent: boolean;
}

/** How often a process renews its `alive` key, and how long the key outlives the last renewal. */
export const PROCESS_HEARTBEAT_MS = 5_000;
export const PROCESS_ALIVE_TTL_MS = 15_000;
/** A room nobody touched for a day is dropped even if every process died without cleaning up. */
const ROOM_TTL_MS = 24 * 3600 * 1000;

export const aliveKey = (processId: string): string => `hoichan:process:${processId}:alive`;

/** In memory: right for one process. */
export class ProcessRoomPresence implements RoomPresence {
  readonly #rooms = new Map<string, { present: Map<string, RoomEntry>; waiting: Map<string, RoomEntry> }>();

  #room(room: string) {
    let r = this.#rooms.get(room);
    if (!r) {
      r = { present: new Map(), waiting: new Map() };
      this.#rooms.set(room, r);
    }
    return r;
  }
  #dropIfEmpty(room: string): void {
    const r = this.#rooms.get(room);
    if (r && r.present.size === 0 && r.waiting.size === 0) this.#rooms.delete(room);
  }

  enter(room: string, entry: RoomEntry): Promise<{ firstOfUser: boolean }> {
    const r = this.#room(room);
    r.waiting.delete(entry.socketId);
    r.present.delete(entry.socketId);
    const firstOfUser = ![...r.present.values()].some((p) => p.userId === entry.userId);
    r.present.set(entry.socketId, entry);
    return Promise.resolve({ firstOfUser });
  }
  wait(room: string, entry: RoomEntry): Promise<void> {
    const r = this.#room(room);
    r.present.delete(entry.socketId);
    r.waiting.set(entry.socketId, entry);
    return Promise.resolve();
  }
  admitUser(room: string, userId: string): Promise<RoomEntry[]> {
    const r = this.#rooms.get(room);
    if (!r) return Promise.resolve([]);
    const moving = [...r.waiting.values()].filter((p) => p.userId === userId);
    for (const p of moving) {
      r.waiting.delete(p.socketId);
      r.present.set(p.socketId, p);
    }
    return Promise.resolve(moving);
  }
  remove(room: string, socketId: string): Promise<{ wasPresent: RoomEntry | null; userStillPresent: boolean }> {
    const r = this.#rooms.get(room);
    if (!r) return Promise.resolve({ wasPresent: null, userStillPresent: false });
    const wasPresent = r.present.get(socketId) ?? null;
    r.present.delete(socketId);
    r.waiting.delete(socketId);
    const userStillPresent = wasPresent !== null && [...r.present.values()].some((p) => p.userId === wasPresent.userId);
    this.#dropIfEmpty(room);
    return Promise.resolve({ wasPresent, userStillPresent });
  }
  isPresent(room: string, socketId: string): Promise<boolean> {
    return Promise.resolve(this.#rooms.get(room)?.present.has(socketId) ?? false);
  }
  snapshot(room: string): Promise<RoomSnapshot> {
    const r = this.#rooms.get(room);
    return Promise.resolve({ present: [...(r?.present.values() ?? [])], waiting: [...(r?.waiting.values() ?? [])] });
  }
  departed(): Promise<Departure[]> {
    return Promise.resolve([]);
  }
}

const storedEntry = z.object({
  socketId: z.string(),
  userId: z.string(),
  displayName: z.string(),
  role: z.string(),
  processId: z.string(),
});
type StoredEntry = z.infer<typeof storedEntry>;

/**
 * Takes out of hash KEYS[1] the entries whose JSON field ARGV[1] equals ARGV[2] and returns them; with
 * KEYS[2], moves them there (expiring in ARGV[3] ms). One step: no join or leave slips between the
 * read and the removal, and when several processes run it at once each entry goes to one of them.
 * Admission moves a user's waiting sockets into the room; `departed` takes a dead process's entries.
 */
const TAKE_ENTRIES = `
local taken = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local ok, e = pcall(cjson.decode, all[i + 1])
  if ok and type(e) == 'table' and e[ARGV[1]] == ARGV[2] then
    redis.call('HDEL', KEYS[1], all[i])
    if KEYS[2] then redis.call('HSET', KEYS[2], all[i], all[i + 1]) end
    taken[#taken + 1] = all[i + 1]
  end
end
if KEYS[2] and #taken > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return taken`;

/** In Redis, shared by every process; entries of dead processes are skipped and cleaned up. */
export class RedisRoomPresence implements RoomPresence {
  constructor(
    private readonly redis: RedisClient,
    private readonly name: string,
    private readonly processId: string,
  ) {}

  #keys(room: string): { present: string; waiting: string } {
    const base = `hoichan:presence:${this.name}:${room}`;
    return { present: `${base}:present`, waiting: `${base}:waiting` };
  }
  /** The processes that have had entries in this presence, and the rooms each has entries in. */
  get #processesKey(): string {
    return `hoichan:presence:${this.name}:processes`;
  }
  #roomsOfKey(processId: string): string {
    return `hoichan:presence:${this.name}:rooms-of:${processId}`;
  }
  /** Notes that this process has entries in `room` (for `departed` on the others, should it die). */
  async #track(room: string): Promise<void> {
    const mine = this.#roomsOfKey(this.processId);
    await this.redis.multi().sAdd(this.#processesKey, this.processId).sAdd(mine, room).pExpire(mine, ROOM_TTL_MS).exec();
  }
  #encode(entry: RoomEntry): string {
    const stored: StoredEntry = { socketId: entry.socketId, userId: entry.userId, displayName: entry.displayName, role: entry.role, processId: this.processId };
    return JSON.stringify(stored);
  }

  async enter(room: string, entry: RoomEntry): Promise<{ firstOfUser: boolean }> {
    const k = this.#keys(room);
    await this.#track(room);
    const [, , , , present] = await this.redis
      .multi()
      .hDel(k.waiting, entry.socketId)
      .hDel(k.present, entry.socketId)
      .hSet(k.present, entry.socketId, this.#encode(entry))
      .pExpire(k.present, ROOM_TTL_MS)
      .hVals(k.present)
      .execTyped();
    const others = (await this.#living(present)).filter((p) => p.socketId !== entry.socketId);
    return { firstOfUser: !others.some((p) => p.userId === entry.userId) };
  }

  async wait(room: string, entry: RoomEntry): Promise<void> {
    const k = this.#keys(room);
    await this.#track(room);
    await this.redis.multi().hDel(k.present, entry.socketId).hSet(k.waiting, entry.socketId, this.#encode(entry)).pExpire(k.waiting, ROOM_TTL_MS).exec();
  }

  async admitUser(room: string, userId: string): Promise<RoomEntry[]> {
    const k = this.#keys(room);
    const moved = (await this.redis.eval(TAKE_ENTRIES, { keys: [k.waiting, k.present], arguments: ['userId', userId, String(ROOM_TTL_MS)] })) as unknown;
    const values = Array.isArray(moved) ? moved.filter((v): v is string => typeof v === 'string') : [];
    return this.#living(values);
  }

  async remove(room: string, socketId: string): Promise<{ wasPresent: RoomEntry | null; userStillPresent: boolean }> {
    const k = this.#keys(room);
    const [was, , , present] = await this.redis
      .multi()
      .hGet(k.present, socketId)
      .hDel(k.present, socketId)
      .hDel(k.waiting, socketId)
      .hVals(k.present)
      .execTyped();
    const wasPresent = typeof was === 'string' ? (decode(was) ?? null) : null;
    if (!wasPresent) return { wasPresent: null, userStillPresent: false };
    const rest = await this.#living(present);
    return { wasPresent: plain(wasPresent), userStillPresent: rest.some((p) => p.userId === wasPresent.userId) };
  }

  async isPresent(room: string, socketId: string): Promise<boolean> {
    const k = this.#keys(room);
    const value = await this.redis.hGet(k.present, socketId);
    if (typeof value !== 'string') return false;
    return (await this.#living([value])).length === 1;
  }

  async snapshot(room: string): Promise<RoomSnapshot> {
    const k = this.#keys(room);
    const [present, waiting] = await this.redis.multi().hVals(k.present).hVals(k.waiting).execTyped();
    return { present: await this.#living(present), waiting: await this.#living(waiting) };
  }

  async departed(): Promise<Departure[]> {
    const processes = (await this.redis.sMembers(this.#processesKey)).filter((id) => id !== this.processId);
    const alive = await this.#alive(processes);
    const out: Departure[] = [];
    for (const dead of processes.filter((id) => !alive.has(id))) {
      const roomsOf = this.#roomsOfKey(dead);
      for (const room of await this.redis.sMembers(roomsOf)) {
        const k = this.#keys(room);
        const take = async (key: string) => {
          const taken = (await this.redis.eval(TAKE_ENTRIES, { keys: [key], arguments: ['processId', dead] })) as unknown;
          return (Array.isArray(taken) ? taken : []).flatMap((v) => (typeof v === 'string' ? (decode(v) ?? []) : []));
        };
        const gone = [...(await take(k.present)).map((e) => ({ e, wasPresent: true })), ...(await take(k.waiting)).map((e) => ({ e, wasPresent: false }))];
        if (!gone.length) continue;
        const left = await this.#living(await this.redis.hVals(k.present));
        for (const { e, wasPresent } of gone) out.push({ room, entry: plain(e), wasPresent, userStillPresent: left.some((p) => p.userId === e.userId) });
      }
      await this.redis.multi().del(roomsOf).sRem(this.#processesKey, dead).exec();
    }
    return out;
  }

  /** This process and those of `ids` whose heartbeat key exists. */
  async #alive(ids: string[]): Promise<Set<string>> {
    const alive = new Set([this.processId]);
    const others = ids.filter((id) => id !== this.processId);
    if (others.length) {
      const found = await this.redis.mGet(others.map(aliveKey));
      others.forEach((id, i) => {
        if (found[i] !== null) alive.add(id);
      });
    }
    return alive;
  }

  /**
   * The entries whose process is alive. A dead process's entries are left for `departed` to take
   * out (and report once); until then they are only skipped.
   */
  async #living(values: string[]): Promise<RoomEntry[]> {
    const entries = values.map(decode).filter((e): e is StoredEntry => e !== undefined);
    const alive = await this.#alive([...new Set(entries.map((e) => e.processId))]);
    return entries.filter((e) => alive.has(e.processId)).map(plain);
  }
}

function decode(value: string): StoredEntry | undefined {
  try {
    const parsed = storedEntry.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function plain(e: StoredEntry): RoomEntry {
  return { socketId: e.socketId, userId: e.userId, displayName: e.displayName, role: e.role };
}

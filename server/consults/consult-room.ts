/**
 * Live room state of one consult, in this process's memory: who is present (admitted sockets) and
 * who is in the WaitingRoom. The host (the assigned specialist) and the requesting doctor enter
 * their own consult on joining; everyone else (invited colleagues) waits until the host admits them
 * once (kept in the consult, so a reconnect does not wait again). With several server processes
 * this map would move to a shared store.
 */
import type { ConsultRoomState, PresentParticipant } from '../../contracts/consult-events';
import type { ConsultRequest } from '../../models/consult-request';
import { participantView } from './views';

/** Whether a participant enters the room without waiting: the host, the requester, or someone the host admitted. */
export function entersWithoutWaiting(c: Pick<ConsultRequest, 'assignedSpecialistId' | 'requesterId' | 'participants'>, userId: string): boolean {
  if (c.assignedSpecialistId === userId || c.requesterId === userId) return true;
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-boolean-literal-compare -- runtime input: stored documents may lack the field; only an explicit value counts
  return c.participants.some((p) => p.userId === userId && p.admitted === true);
}

interface Presence extends PresentParticipant {
  socketId: string;
}

export class WaitingRoom {
  readonly #bySocket = new Map<string, Presence>();
  add(p: Presence): void {
    this.#bySocket.set(p.socketId, p);
  }
  remove(socketId: string): Presence | undefined {
    const p = this.#bySocket.get(socketId);
    this.#bySocket.delete(socketId);
    return p;
  }
  takeUser(userId: string): Presence[] {
    const taken = [...this.#bySocket.values()].filter((p) => p.userId === userId);
    for (const p of taken) this.#bySocket.delete(p.socketId);
    return taken;
  }
  has(socketId: string): boolean {
    return this.#bySocket.has(socketId);
  }
  list(): PresentParticipant[] {
    return uniqueUsers([...this.#bySocket.values()]);
  }
  get size(): number {
    return this.#bySocket.size;
  }
}

export class ConsultRoom {
  readonly #present = new Map<string, Presence>();
  readonly waiting = new WaitingRoom();

  constructor(readonly consultId: string) {}

  admit(p: Presence): void {
    this.waiting.remove(p.socketId);
    this.#present.set(p.socketId, p);
  }
  isPresent(socketId: string): boolean {
    return this.#present.has(socketId);
  }
  userPresent(userId: string): boolean {
    return [...this.#present.values()].some((p) => p.userId === userId);
  }
  /** Removes a socket from the room and the waiting room; says whether it was present. */
  remove(socketId: string): Presence | undefined {
    const p = this.#present.get(socketId);
    this.#present.delete(socketId);
    this.waiting.remove(socketId);
    return p;
  }
  get empty(): boolean {
    return this.#present.size === 0 && this.waiting.size === 0;
  }
  state(c: ConsultRequest): ConsultRoomState {
    return {
      consultId: this.consultId,
      participants: c.participants.map(participantView),
      present: uniqueUsers([...this.#present.values()]),
      waiting: this.waiting.list(),
      hostId: c.assignedSpecialistId ?? null,
    };
  }
}

function uniqueUsers(list: Presence[]): PresentParticipant[] {
  const seen = new Map<string, PresentParticipant>();
  for (const p of list) if (!seen.has(p.userId)) seen.set(p.userId, { userId: p.userId, displayName: p.displayName, role: p.role });
  return [...seen.values()];
}

/** All live rooms of this process. */
export class ConsultRooms {
  readonly #rooms = new Map<string, ConsultRoom>();
  get(consultId: string): ConsultRoom {
    let r = this.#rooms.get(consultId);
    if (!r) {
      r = new ConsultRoom(consultId);
      this.#rooms.set(consultId, r);
    }
    return r;
  }
  peek(consultId: string): ConsultRoom | undefined {
    return this.#rooms.get(consultId);
  }
  dropIfEmpty(consultId: string): void {
    if (this.#rooms.get(consultId)?.empty) this.#rooms.delete(consultId);
  }
}

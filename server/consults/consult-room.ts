/**
 * Live room state of one consult: who is present (admitted sockets) and who is in the waiting
 * room. The host (the assigned specialist) and the requesting doctor enter their own consult on
 * joining; everyone else (invited colleagues) waits until the host admits them once (kept in the
 * consult, so a reconnect does not wait again). The sockets themselves are held by a `RoomPresence`
 * (server/platform/room-presence.ts): this process's memory, or Redis when several processes serve
 * one consult (the host on one, a guest on another).
 */
import type { ConsultRoomState, PresentParticipant } from '../../contracts/consult-events';
import type { ConsultRequest } from '../../models/consult-request';
import type { RoomEntry, RoomSnapshot } from '../platform/room-presence';
import { participantView } from './views';

/** Whether a participant enters the room without waiting: the host, the requester, or someone the host admitted. */
export function entersWithoutWaiting(c: Pick<ConsultRequest, 'assignedSpecialistId' | 'requesterId' | 'participants'>, userId: string): boolean {
  if (c.assignedSpecialistId === userId || c.requesterId === userId) return true;
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-boolean-literal-compare -- runtime input: stored documents may lack the field; only an explicit value counts
  return c.participants.some((p) => p.userId === userId && p.admitted === true);
}

/** The room as its participants see it: each person once, however many sockets they have. */
export function consultRoomState(c: ConsultRequest, snapshot: RoomSnapshot): ConsultRoomState {
  return {
    consultId: c._id,
    participants: c.participants.map(participantView),
    present: uniqueUsers(snapshot.present),
    waiting: uniqueUsers(snapshot.waiting),
    hostId: c.assignedSpecialistId ?? null,
  };
}

export function uniqueUsers(list: RoomEntry[]): PresentParticipant[] {
  const seen = new Map<string, PresentParticipant>();
  for (const p of list) if (!seen.has(p.userId)) seen.set(p.userId, { userId: p.userId, displayName: p.displayName, role: p.role });
  return [...seen.values()];
}

/**
 * The socket.io event map, one definition for server/ and client/. Names are `noun:verb`;
 * acknowledgements carry `{ok: true, ...}` or `{ok: false, error, message}` (one `Ack` for every
 * feature). Features add their events here.
 */
import type { ConsultClientToServerEvents, ConsultServerToClientEvents } from './consult-events';
import type { EmrClientToServerEvents, EmrServerToClientEvents } from './emr-events';
import type { ImagingClientToServerEvents, ImagingServerToClientEvents } from './imaging-events';
import type { SfuClientToServerEvents, SfuServerToClientEvents } from './sfu-events';

/** A refused event: `error` is a code (as in the HTTP `{error, message}`), `message` says why (for people). */
export interface AckError {
  ok: false;
  error: string;
  message: string;
}
export type Ack<T = Record<string, never>> = (response: ({ ok: true } & T) | AckError) => void;

export interface SessionInfo {
  userId: string;
  role: string;
  facilityId: string;
}

/** Server → client: the session events here plus each feature's own map. */
export interface ServerToClientEvents extends EmrServerToClientEvents, ConsultServerToClientEvents, SfuServerToClientEvents, ImagingServerToClientEvents {
  'session:ready': (info: SessionInfo) => void;
  'session:expired': (info: { message: string }) => void;
}

/** Client → server. */
export interface ClientToServerEvents extends EmrClientToServerEvents, ConsultClientToServerEvents, SfuClientToServerEvents, ImagingClientToServerEvents {
  'session:ping': (ack: Ack<{ at: string }>) => void;
}

export interface InterServerEvents {
  ping: () => void;
}

/** Per-socket data kept by the server after the JWT handshake. */
export interface SocketData {
  userId: string;
  role: string;
  facilityId: string;
  tokenExpiresAt: number;
}

/** Room names: one per facility, per user and per consult. */
export const rooms = {
  facility: (facilityId: string) => `facility:${facilityId}`,
  user: (userId: string) => `user:${userId}`,
  consult: (consultId: string) => `consult:${consultId}`,
  radiologists: () => 'role:radiologist',
} as const;

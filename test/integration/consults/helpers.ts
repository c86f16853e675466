/** Socket and HTTP helpers for the consult integration tests. */
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../contracts/events';
import type { TestPlatform } from '../../support/platform';

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Connects with the access token and waits for session:ready; records every event it receives. */
export async function connect(tp: Pick<TestPlatform, 'url'>, token: string): Promise<ClientSocket & { seen: Array<{ event: string; payload: unknown }> }> {
  const socket = io(tp.url, { path: '/socket.io', auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true }) as ClientSocket & {
    seen: Array<{ event: string; payload: unknown }>;
  };
  socket.seen = [];
  socket.onAny((event: string, payload: unknown) => socket.seen.push({ event, payload }));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('socket did not become ready')), 5000);
    socket.once('session:ready', () => {
      clearTimeout(t);
      resolve();
    });
    socket.once('connect_error', (err) => {
      clearTimeout(t);
      reject(err);
    });
  });
  return socket;
}

/** Resolves with the first event (already received or arriving within the timeout) that matches. */
export function waitFor<T = any>(
  socket: ClientSocket & { seen: Array<{ event: string; payload: unknown }> },
  event: string,
  match: (p: T) => boolean = () => true,
  timeoutMs = 5000,
): Promise<T> {
  const already = socket.seen.find((e) => e.event === event && match(e.payload as T));
  if (already) return Promise.resolve(already.payload as T);
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => {
      socket.offAny(listener);
      reject(new Error(`timed out waiting for ${event}`));
    }, timeoutMs);
    const listener = (name: string, payload: unknown) => {
      if (name === event && match(payload as T)) {
        clearTimeout(t);
        socket.offAny(listener);
        resolve(payload as T);
      }
    };
    socket.onAny(listener);
  });
}

/** Emits with an ack and resolves with the ack. */
export function request<T = any>(socket: ClientSocket, event: string, payload: unknown, timeoutMs = 5000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ack for ${event}`)), timeoutMs);
    (socket as unknown as { emit: (e: string, p: unknown, ack: (r: T) => void) => void }).emit(event, payload, (r: T) => {
      clearTimeout(t);
      resolve(r);
    });
  });
}

/**
 * The patient the referrer's facility cares for: HOICHAN_TEST_PATIENT_ID,
 * or the first care-team patient of GET /api/emr/patients (the EMR's demo seed), or the first of /fhir/R4/Patient.
 */
export async function testPatientId(tp: TestPlatform, referrerToken: string): Promise<string> {
  if (process.env.HOICHAN_TEST_PATIENT_ID) return process.env.HOICHAN_TEST_PATIENT_ID;
  const list = await tp.api('GET', '/api/emr/patients', { token: referrerToken });
  const careTeam = (list.body?.patients as Array<{ id: string; access: string }> | undefined)?.find((p) => p.access === 'care-team');
  if (careTeam) return careTeam.id;
  const res = await tp.api('GET', '/fhir/R4/Patient?_count=1', { token: referrerToken });
  const id = res.body?.entry?.[0]?.resource?.id;
  if (res.status !== 200 || typeof id !== 'string') {
    throw new Error(
      `No demo patient from the EMR (GET /api/emr/patients → ${list.status}, GET /fhir/R4/Patient → ${res.status}). Is the EMR feature (server/emr) and its demo seed there? Or run with HOICHAN_TEST_PATIENT_ID=<id>.`,
    );
  }
  return id;
}

/** A minimal file that starts like a PNG (the server checks magic bytes, not pixels). */
export const PNG_BYTES = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.from('0000000d49484452000000010000000108060000001f15c489', 'hex'),
  Buffer.alloc(64, 7),
]);

export async function upload(tp: TestPlatform, token: string, consultId: string, text: string, file: { bytes: Buffer; name: string; type: string }) {
  const form = new FormData();
  form.set('text', text);
  form.set('file', new Blob([new Uint8Array(file.bytes)], { type: file.type }), file.name);
  const res = await fetch(`${tp.url}/api/consults/${consultId}/messages`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  return { status: res.status, body: await res.json() };
}

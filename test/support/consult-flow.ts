/**
 * A consult set up for a live call through the REAL platform: HTTP (`/api/consults`, `/api/emr`,
 * `/api/me`) and socket.io (`consult:join`, `consult:admit`). No mocks: what the SFU's
 * `callAdmission(userId, consultId)` answers comes from the consult document these steps write
 * (server/consults/directory.ts: `participant` = listed in `participants`; `admitted` = the assigned
 * specialist (the host), the requester, or a participant the host admitted from the waiting room,
 * which is persisted on the participant).
 */
import { io, type Socket } from 'socket.io-client';
import type { MeResponse } from '../../contracts/api';
import type { ConsultView, CreateConsultRequestBody } from '../../contracts/consult-api';
import { DEMO, type TestPlatform } from './platform';

/** What the flow needs of a platform: its URL, the API and a login (a TestPlatform, or a server started elsewhere, e.g. in a network namespace). */
export type PlatformClient = Pick<TestPlatform, 'url' | 'api' | 'login'>;

/** The demo patient of the referrer's facility (the EMR's seed). */
export const DEMO_PATIENT_ID = 'pat-demo-hoa';

/** A logged-in person: token and who they are (from GET /api/me). */
export interface ConsultParty {
  email: string;
  token: string;
  userId: string;
  displayName: string;
}

export interface ConsultForCall {
  consultId: string;
  patientId: string;
  consult: ConsultView;
  referrer: ConsultParty;
  specialist: ConsultParty;
  /** Everybody else taking part (invited), by e-mail. */
  others: Record<string, ConsultParty>;
}

function fail(what: string, res: { status: number; body: unknown }): never {
  throw new Error(`${what} → ${res.status} ${JSON.stringify(res.body)}`);
}

/** Logs in and asks the platform who this is. */
export async function loginParty(tp: PlatformClient, email: string): Promise<ConsultParty> {
  const { accessToken } = await tp.login(email);
  const me = await tp.api('GET', '/api/me', { token: accessToken });
  if (me.status !== 200) fail(`GET /api/me as ${email}`, me);
  const body = me.body as MeResponse;
  return { email, token: accessToken, userId: body.id, displayName: body.displayName };
}

/** The demo patient `pat-demo-hoa` as the referrer sees it in GET /api/emr/patients (care team). */
export async function findDemoPatient(tp: PlatformClient, referrer: ConsultParty): Promise<string> {
  const list = await tp.api('GET', '/api/emr/patients', { token: referrer.token });
  if (list.status !== 200) fail('GET /api/emr/patients', list);
  const patients = (list.body?.patients ?? []) as Array<{ id: string; access: string }>;
  const found = patients.find((p) => p.id === DEMO_PATIENT_ID && p.access === 'care-team') ?? patients.find((p) => p.access === 'care-team');
  if (!found) throw new Error(`No care-team patient for ${referrer.email} in GET /api/emr/patients: ${JSON.stringify(list.body)}`);
  return found.id;
}

/** The referrer writes the request as a draft and submits it (→ requested). */
export async function requestConsult(
  tp: PlatformClient,
  referrer: ConsultParty,
  patientId: string,
  over: Partial<CreateConsultRequestBody> = {},
): Promise<ConsultView> {
  const body: CreateConsultRequestBody = {
    patientId,
    reason: 'Ho kéo dài 3 tuần, sốt về chiều',
    clinicalQuestion: 'Hội chẩn trực tuyến: nghi lao phổi?',
    urgency: 'urgent',
    requestedSpecialty: 'pulmonology',
    sharedSections: ['problems', 'medications', 'imaging'],
    imagingStudyIds: [],
    ...over,
    submit: false,
  };
  const draft = await tp.api('POST', '/api/consults', { token: referrer.token, body });
  if (draft.status !== 201 || draft.body?.status !== 'draft') fail('POST /api/consults (draft)', draft);
  return transition(tp, referrer, (draft.body as ConsultView).id, 'submit', 'requested');
}

/** One state-machine action over HTTP, checked to land in `expected`. */
export async function transition(
  tp: PlatformClient,
  by: ConsultParty,
  consultId: string,
  action: 'submit' | 'accept' | 'start',
  expected: ConsultView['status'],
): Promise<ConsultView> {
  const res = await tp.api('POST', `/api/consults/${consultId}/${action}`, { token: by.token });
  if (res.status !== 200 || res.body?.status !== expected) fail(`POST /api/consults/${consultId}/${action} as ${by.email}`, res);
  return res.body as ConsultView;
}

/** A party (the requester or the assigned specialist) invites another user; they join not yet admitted. */
export async function inviteToConsult(tp: PlatformClient, by: ConsultParty, consultId: string, invitee: ConsultParty): Promise<ConsultView> {
  const res = await tp.api('POST', `/api/consults/${consultId}/participants`, { token: by.token, body: { userId: invitee.userId } });
  if (res.status !== 201) fail(`invite ${invitee.email} to ${consultId}`, res);
  const view = res.body as ConsultView;
  const p = view.participants.find((x) => x.userId === invitee.userId);
  if (!p || p.admitted) throw new Error(`invited ${invitee.userId} should be a participant not yet admitted: ${JSON.stringify(view.participants)}`);
  return view;
}

type RecordingSocket = Socket & { seen: Array<{ event: string; payload: any }> };

async function openSocket(tp: PlatformClient, token: string): Promise<RecordingSocket> {
  const socket = io(tp.url, { path: '/socket.io', auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true }) as RecordingSocket;
  socket.seen = [];
  socket.onAny((event: string, payload: unknown) => socket.seen.push({ event, payload }));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('consult socket did not become ready')), 10_000);
    // eslint-disable-next-line @typescript-eslint/no-confusing-void-expression -- test shorthand; the value is not used
    socket.once('session:ready', () => (clearTimeout(t), resolve()));
    // eslint-disable-next-line @typescript-eslint/no-confusing-void-expression -- test shorthand; the value is not used
    socket.once('connect_error', (err) => (clearTimeout(t), reject(err)));
  });
  return socket;
}

async function ack(socket: Socket, event: string, payload: unknown): Promise<any> {
  return socket.timeout(10_000).emitWithAck(event, payload);
}

async function seen(socket: RecordingSocket, event: string, match: (p: any) => boolean, what: string): Promise<any> {
  const until = Date.now() + 10_000;
  for (;;) {
    const hit = socket.seen.find((e) => e.event === event && match(e.payload));
    if (hit) return hit.payload;
    if (Date.now() > until) throw new Error(`timed out waiting for ${event} (${what}); saw ${JSON.stringify(socket.seen.map((e) => e.event))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The waiting room, as in the app: the host (assigned specialist) opens the consult room, each
 * guest joins it and waits, the host sees them waiting and admits them (`consult:admit`), the guest
 * is told `consult:admitted`. The admission is persisted on the participant, so the sockets are
 * closed afterwards (reconnecting does not wait again; the SFU reads the consult document).
 */
export async function admitFromWaitingRoom(tp: PlatformClient, host: ConsultParty, consultId: string, guests: ConsultParty[]): Promise<void> {
  if (guests.length === 0) return;
  const sockets: RecordingSocket[] = [];
  try {
    const hostSocket = await openSocket(tp, host.token);
    sockets.push(hostSocket);
    const hostJoin = await ack(hostSocket, 'consult:join', { consultId });
    if (!hostJoin?.ok || !hostJoin.host || !hostJoin.admitted)
      throw new Error(`host ${host.email} could not open the consult room: ${JSON.stringify(hostJoin)}`);
    for (const guest of guests) {
      const guestSocket = await openSocket(tp, guest.token);
      sockets.push(guestSocket);
      const guestJoin = await ack(guestSocket, 'consult:join', { consultId });
      if (!guestJoin?.ok) throw new Error(`${guest.email} could not enter the consult room: ${JSON.stringify(guestJoin)}`);
      if (guestJoin.admitted) continue; // admitted before
      await seen(
        hostSocket,
        'consult:waiting',
        (e) => e.consultId === consultId && e.waiting.some((w: { userId: string }) => w.userId === guest.userId),
        `${guest.userId} waiting`,
      );
      const admitted = await ack(hostSocket, 'consult:admit', { consultId, userId: guest.userId });
      if (!admitted?.ok) throw new Error(`host could not admit ${guest.userId}: ${JSON.stringify(admitted)}`);
      await seen(guestSocket, 'consult:admitted', (e) => e.consultId === consultId, `${guest.userId} admitted`);
    }
  } finally {
    for (const s of sockets) s.disconnect();
  }
}

/** GET /api/consults/:id as `by`. */
export async function getConsult(tp: PlatformClient, by: ConsultParty, consultId: string): Promise<ConsultView> {
  const res = await tp.api('GET', `/api/consults/${consultId}`, { token: by.token });
  if (res.status !== 200) fail(`GET /api/consults/${consultId}`, res);
  return res.body as ConsultView;
}

/**
 * A consult ready for a live call: the referrer requests it for the demo patient, the specialist
 * accepts and starts it (in progress; the specialist is the host), the specialist invites the
 * `invite` users (e.g. the demo radiologist), and admits `admit` (the referrer and/or invitees)
 * from the waiting room. Invitees not in `admit` stay participants that are not admitted.
 */
export async function consultForCall(
  tp: PlatformClient,
  opts: { admit?: string[]; invite?: string[]; start?: boolean; referrer?: ConsultParty; specialist?: ConsultParty } = {},
): Promise<ConsultForCall> {
  const admit = opts.admit ?? [DEMO.referrer];
  const inviteEmails = [...new Set([...(opts.invite ?? []), ...admit.filter((e) => e !== DEMO.referrer && e !== DEMO.specialist)])];
  const referrer = opts.referrer ?? (await loginParty(tp, DEMO.referrer));
  const specialist = opts.specialist ?? (await loginParty(tp, DEMO.specialist));
  const others: Record<string, ConsultParty> = {};
  for (const email of inviteEmails) others[email] = await loginParty(tp, email);

  const patientId = await findDemoPatient(tp, referrer);
  const requested = await requestConsult(tp, referrer, patientId);
  const consultId = requested.id;
  const accepted = await transition(tp, specialist, consultId, 'accept', 'accepted');
  if (accepted.assignedSpecialistId !== specialist.userId) throw new Error(`accepted by ${specialist.userId} but assigned to ${accepted.assignedSpecialistId}`);
  if (opts.start ?? true) await transition(tp, specialist, consultId, 'start', 'in_progress');
  for (const email of inviteEmails) await inviteToConsult(tp, specialist, consultId, others[email]!);

  const byEmail = (email: string): ConsultParty => (email === DEMO.referrer ? referrer : others[email]!);
  await admitFromWaitingRoom(tp, specialist, consultId, admit.filter((e) => e !== DEMO.specialist).map(byEmail));

  // What the SFU will read: the admitted ones are admitted, the others are not.
  const admittedIds = new Set(admit.filter((e) => e !== DEMO.specialist).map((e) => byEmail(e).userId));
  const consult = await getConsult(tp, specialist, consultId);
  for (const p of consult.participants) {
    if (p.userId === specialist.userId) continue; // the host: admitted by being the assigned specialist
    if (p.userId === referrer.userId) continue; // the requester enters their own consult without waiting
    if (p.admitted !== admittedIds.has(p.userId)) throw new Error(`participant ${p.userId} admitted=${p.admitted}, expected ${admittedIds.has(p.userId)}`);
  }
  return { consultId, patientId, consult, referrer, specialist, others };
}

/**
 * The sfu:* socket.io signalling through the real platform (JWT handshake, realtime, the consult
 * feature, the sfu feature with real mediasoup workers). Who may enter the call is decided by the
 * real consult: created, accepted and started over HTTP, guests admitted by the host from the
 * waiting room over socket.io (test/support/consult-flow.ts).
 */
import { io, type Socket } from 'socket.io-client';
import { consultForCall, admitFromWaitingRoom, type ConsultForCall } from '../../support/consult-flow';
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';
import { waitFor, workerBinOrSkip } from './helpers';

const maybe = workerBinOrSkip() ? describe : describe.skip;

type Client = { socket: Socket; events: Array<{ event: string; payload: any }>; request: (event: string, payload: unknown) => Promise<any> };

maybe('sfu signalling over socket.io', () => {
  let tp: TestPlatform;
  const sockets: Socket[] = [];
  /** The call's consult: the specialist hosts, the referrer is admitted, the radiologist is invited but not admitted. */
  let call: ConsultForCall;
  /** Another consult of the same two doctors: the referrer has not been admitted, the radiologist takes no part. */
  let other: ConsultForCall;
  let CONSULT = '';

  async function connect(email: string): Promise<Client> {
    const { accessToken } = await tp.login(email);
    const socket = io(tp.url, { path: '/socket.io', transports: ['websocket'], auth: { token: accessToken }, reconnection: false });
    sockets.push(socket);
    const events: Client['events'] = [];
    socket.onAny((event: string, payload: unknown) => events.push({ event, payload }));
    await new Promise<void>((resolve, reject) => {
      socket.once('session:ready', () => resolve());
      socket.once('connect_error', reject);
    });
    const request = (event: string, payload: unknown) => socket.timeout(10_000).emitWithAck(event, payload);
    return { socket, events, request };
  }

  beforeAll(async () => {
    tp = await startTestPlatform({ SFU_WORKERS: '1', SFU_RECONNECT_GRACE_S: '1' });
    call = await consultForCall(tp, { admit: [DEMO.referrer], invite: [DEMO.radiologist] });
    CONSULT = call.consultId;
    other = await consultForCall(tp, { admit: [], referrer: call.referrer, specialist: call.specialist });
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await tp?.close();
  });

  test('join gives router capabilities; transports carry UDP and TCP candidates; non-admitted users are refused', async () => {
    const spec = await connect(DEMO.specialist);
    const joined = await spec.request('sfu:join', { consultId: CONSULT });
    expect(joined).toMatchObject({ ok: true, consultId: CONSULT, host: true, peers: [], producers: [] });
    expect(joined.routerRtpCapabilities.codecs.map((c: { mimeType: string }) => c.mimeType)).toEqual(expect.arrayContaining(['audio/opus', 'video/VP8']));
    const t = await spec.request('sfu:create-transport', { direction: 'recv' });
    expect(t.ok).toBe(true);
    expect(new Set(t.iceCandidates.map((c: { protocol: string }) => c.protocol))).toEqual(new Set(['udp', 'tcp']));
    // Invited by the specialist but not yet admitted by the host: refused.
    const rad = await connect(DEMO.radiologist);
    expect(await rad.request('sfu:join', { consultId: CONSULT })).toEqual({ ok: false, error: 'waiting_for_host', message: expect.stringMatching(/admit/) });
    // The requester enters their own consult's call without waiting for the host.
    const ref = await connect(DEMO.referrer);
    expect(await ref.request('sfu:join', { consultId: other.consultId })).toMatchObject({ ok: true, consultId: other.consultId, host: false });
    await ref.request('sfu:leave', {});
    // Not a participant of a real consult, and a consult that does not exist: refused.
    expect(await rad.request('sfu:join', { consultId: other.consultId })).toEqual({
      ok: false,
      error: 'forbidden',
      message: expect.stringMatching(/participant/),
    });
    expect(await rad.request('sfu:join', { consultId: 'another-consult' })).toEqual({
      ok: false,
      error: 'forbidden',
      message: expect.stringMatching(/participant/),
    });
    expect(await rad.request('sfu:create-transport', { direction: 'send' })).toEqual({
      ok: false,
      error: 'not_in_call',
      message: expect.stringMatching(/join/),
    });
    // Once the host admits the radiologist from the waiting room, the same socket gets in (not as host).
    await admitFromWaitingRoom(tp, call.specialist, CONSULT, [call.others[DEMO.radiologist]!]);
    const radJoined = await rad.request('sfu:join', { consultId: CONSULT });
    expect(radJoined).toMatchObject({ ok: true, consultId: CONSULT, host: false });
    expect(radJoined.peers.map((p: { userId: string }) => p.userId)).toEqual(['usr-specialist']);
    await rad.request('sfu:leave', {});
    await spec.request('sfu:leave', {});
  });

  test('a client sending bad payloads is disconnected; the others are not harmed', async () => {
    const good = await connect(DEMO.specialist);
    expect((await good.request('sfu:join', { consultId: CONSULT })).ok).toBe(true);
    const bad = await connect(DEMO.referrer);
    expect((await bad.request('sfu:join', { consultId: CONSULT })).ok).toBe(true);
    const disconnected = new Promise<void>((r) => bad.socket.once('disconnect', () => r()));
    const answers = [];
    // The socket's one strike budget (SOCKET_STRIKE_BUDGET, 10): ten refusals are answered, the next one disconnects.
    for (let i = 0; i < 10; i++)
      answers.push(await bad.request('sfu:produce', { transportId: 'x', kind: 'video', rtpParameters: 'nope', source: 'camera', extra: i }));
    expect(answers.every((a) => a.ok === false && a.error === 'invalid' && /invalid sfu:produce/.test(a.message))).toBe(true);
    expect(bad.socket.connected).toBe(true);
    bad.socket.emit('sfu:set-preferred-layers', { consumerId: 42 }, () => undefined);
    await disconnected;
    // The misbehaving peer is removed at once (not after the reconnect grace) and the good client goes on.
    await waitFor(
      () => good.events.some((e) => e.event === 'sfu:peer-left' && e.payload.userId === 'usr-referrer' && e.payload.reason === 'removed'),
      5000,
      'peer-left removed',
    );
    expect(good.socket.connected).toBe(true);
    expect((await good.request('sfu:create-transport', { direction: 'send' })).ok).toBe(true);
    await good.request('sfu:leave', {});
  });

  test('a dropped socket re-attaches to its kept session within the grace period: same peer and transports, nobody saw it leave; nobody else can take it', async () => {
    const spec = await connect(DEMO.specialist);
    const joined = await spec.request('sfu:join', { consultId: CONSULT });
    const transport = await spec.request('sfu:create-transport', { direction: 'recv' });
    const ref = await connect(DEMO.referrer);
    expect((await ref.request('sfu:join', { consultId: CONSULT })).ok).toBe(true);
    // Another user cannot take the specialist's session (and keeps their own).
    expect(await ref.request('sfu:resume-session', { consultId: CONSULT, peerId: joined.peerId })).toEqual({
      ok: false,
      error: 'not_in_call',
      message: expect.stringMatching(/ended/),
    });
    expect((await ref.request('sfu:stats', {})).ok).toBe(true);
    // The specialist's signalling drops; a new socket re-attaches at once.
    spec.socket.disconnect();
    const spec2 = await connect(DEMO.specialist);
    const resumed = await spec2.request('sfu:resume-session', { consultId: CONSULT, peerId: joined.peerId });
    expect(resumed).toMatchObject({ ok: true, peerId: joined.peerId, peers: [expect.objectContaining({ userId: 'usr-referrer' })], consumerIds: [] });
    // The kept transport answers on the new socket; past the 1 s grace nobody saw the specialist leave.
    expect((await spec2.request('sfu:restart-ice', { transportId: transport.transportId })).ok).toBe(true);
    await new Promise((r) => setTimeout(r, 1600));
    expect(ref.events.some((e) => e.event === 'sfu:peer-left' && e.payload.peerId === joined.peerId)).toBe(false);
    expect(ref.events.filter((e) => e.event === 'sfu:peer-joined' && e.payload.peerId === joined.peerId)).toEqual([]);
    // Events reach the new socket.
    await ref.request('sfu:leave', {});
    await waitFor(() => spec2.events.some((e) => e.event === 'sfu:peer-left' && e.payload.userId === 'usr-referrer'), 5000, 'peer-left on the new socket');
    // Dropped again and not resumed: gone after the grace, and it cannot be resumed any more.
    spec2.socket.disconnect();
    await new Promise((r) => setTimeout(r, 1600));
    const spec3 = await connect(DEMO.specialist);
    expect(await spec3.request('sfu:resume-session', { consultId: CONSULT, peerId: joined.peerId })).toEqual({
      ok: false,
      error: 'not_in_call',
      message: expect.stringMatching(/ended/),
    });
  });

  test('joining again replaces the old session (no ghost); a dropped socket leaves after the grace period', async () => {
    const spec = await connect(DEMO.specialist);
    const first = await spec.request('sfu:join', { consultId: CONSULT });
    const ref1 = await connect(DEMO.referrer);
    const old = await ref1.request('sfu:join', { consultId: CONSULT });
    expect(old.peers.map((p: { userId: string }) => p.userId)).toEqual(['usr-specialist']);
    // The referrer's network changes: a new socket joins again while the old one still lingers.
    const ref2 = await connect(DEMO.referrer);
    const renewed = await ref2.request('sfu:join', { consultId: CONSULT });
    expect(renewed.peerId).not.toBe(old.peerId);
    await waitFor(() => ref1.events.some((e) => e.event === 'sfu:rejoin' && e.payload.reason === 'session-replaced'), 5000, 'old session told');
    await waitFor(
      () => spec.events.some((e) => e.event === 'sfu:peer-left' && e.payload.peerId === old.peerId && e.payload.reason === 'replaced'),
      5000,
      'peer-left replaced',
    );
    // The old socket can no longer act in the call.
    expect(await ref1.request('sfu:create-transport', { direction: 'send' })).toEqual({
      ok: false,
      error: 'not_in_call',
      message: expect.stringMatching(/join/),
    });
    // The specialist's socket drops: after the 1 s grace the referrer sees it leave.
    spec.socket.disconnect();
    await waitFor(
      () => ref2.events.some((e) => e.event === 'sfu:peer-left' && e.payload.peerId === first.peerId && e.payload.reason === 'disconnected'),
      5000,
      'peer-left disconnected',
    );
    const view = await ref2.request('sfu:join', { consultId: CONSULT });
    expect(view.peers).toEqual([]);
  });
  test('a consult that ends ends its call: everyone in it is told, nobody is asked to rejoin, joining again is refused', async () => {
    const ending = await consultForCall(tp, { admit: [], start: false, referrer: call.referrer, specialist: call.specialist });
    const spec = await connect(DEMO.specialist);
    const joined = await spec.request('sfu:join', { consultId: ending.consultId });
    expect(joined.ok).toBe(true);
    // The requester cancels the accepted consult over HTTP.
    const cancelled = await tp.api('POST', `/api/consults/${ending.consultId}/cancel`, { token: call.referrer.token, body: { reason: 'patient transferred' } });
    expect([cancelled.status, cancelled.body?.status]).toEqual([200, 'cancelled']);
    await waitFor(
      () => spec.events.some((e) => e.event === 'sfu:peer-left' && e.payload.peerId === joined.peerId && e.payload.reason === 'room-closed'),
      5000,
      'call closed with the consult',
    );
    expect(spec.events.some((e) => e.event === 'sfu:rejoin' && e.payload.consultId === ending.consultId)).toBe(false);
    expect(await spec.request('sfu:create-transport', { direction: 'send' })).toMatchObject({ ok: false });
    expect(await spec.request('sfu:join', { consultId: ending.consultId })).toMatchObject({ ok: false });
  });
});

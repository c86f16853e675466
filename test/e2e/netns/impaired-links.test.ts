/**
 * A consult call on rural links, in real Chromium. The platform runs in the test process on the
 * lab bridge's address; the specialist's Chromium in the "office" namespace (unimpaired), the
 * district doctor's in "clinic", whose veth gets the impairments (test/e2e/netns/lab.ts: tbf
 * rate, nftables random loss, link down, a strict firewall). Scenarios in order, one call:
 *   (e) join → first remote frame on link (a), p95 ≤ 3 s;
 *   (a) 384 kbps each way + 3 % loss for HOICHAN_LOSSY_SECONDS (45 s by default here; the issue
 *       asks 2 minutes: `bench/sfu-impaired-links.ts --seconds 120`): audio concealed < 5 %,
 *       video at a lower simulcast layer, no freeze > 2 s;
 *   (b) downlink 80 kbps → audio only within 10 s, audio flowing; 1 Mbps → video within 15 s;
 *   (c) link down 10 s → media both ways within 5 s of its return, no ghost participant;
 *   (d) a second clinic with UDP blocked (TCP only to the web server and TURN) → through
 *       Debian's coturn over TCP within 5 s.
 * Each prints its figures. Needs root; skipped with the reason otherwise.
 */
import { consultForCall, loginParty, type ConsultForCall } from '../../support/consult-flow';
import { coturnInstalled, startCoturn, TURNSERVER, type Coturn } from '../../support/coturn';
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';
import type { LabParticipant } from './call-in-lab';
import {
  joinSpecialist,
  scenarioJoinLatency,
  scenarioLossyLink,
  scenarioOutage,
  scenarioSqueeze,
  scenarioUdpBlocked,
  type ScenarioCall,
  type ScenarioParticipants,
} from './impaired-scenarios';
import { labUnavailableReason, NetLab } from './lab';

const mockSfu: { service?: { room(consultId: string): { peers(): unknown[] } | undefined } | null } = {};
jest.mock('../../../server/sfu/feature', () => {
  const actual = jest.requireActual('../../../server/sfu/feature');
  return {
    ...actual,
    createSfuFeature: async (...args: unknown[]) => {
      const feature = await actual.createSfuFeature(...args);
      mockSfu.service = feature.service;
      return feature;
    },
  };
});

const SECRET = 'turn-secret-for-netns-tests-0123456789';
const TURN_PORT = 3478; // inside the lab: the bridge address is the lab's own
const unavailable = labUnavailableReason() ?? (coturnInstalled() ? undefined : `Debian coturn (${TURNSERVER}) is not installed`);
if (unavailable) process.stderr.write(`[skip] impaired-link call tests: ${unavailable}\n`);
const maybe = unavailable ? describe.skip : describe;
const LOSSY_SECONDS = Number(process.env.HOICHAN_LOSSY_SECONDS ?? 45);

const report = (scenario: string, figures: unknown) => process.stdout.write(`[impaired ${scenario}] ${JSON.stringify(figures)}\n`);

maybe('a consult call on impaired rural links (network namespaces, real Chromium)', () => {
  let lab: NetLab;
  let tp: TestPlatform;
  let turn: Coturn | undefined;
  let consult: ConsultForCall;
  let call: ScenarioCall;
  let parts: ScenarioParticipants;
  const opened: LabParticipant[] = [];

  beforeAll(async () => {
    lab = NetLab.create();
    for (const h of ['office', 'clinic', 'clinic2']) lab.addHost(h);
    turn = await startCoturn({ ip: lab.gatewayIp, port: TURN_PORT, secret: SECRET });
    tp = await startTestPlatform({
      HOST: lab.gatewayIp,
      SFU_WORKERS: '1',
      SFU_LISTEN_IP: lab.gatewayIp,
      TURN_URLS: `turn:${lab.gatewayIp}:${TURN_PORT}?transport=tcp`,
      TURN_SECRET: SECRET,
    });
    consult = await consultForCall(tp, { admit: [DEMO.referrer, DEMO.radiologist] });
    call = {
      serverUrl: tp.url,
      consultId: consult.consultId,
      async token(who) {
        const email = who === 'specialist' ? DEMO.specialist : who === 'referrer' ? DEMO.referrer : DEMO.radiologist;
        return (await loginParty(tp, email)).token;
      },
      serverPeers: () => mockSfu.service?.room(consult.consultId)?.peers().length ?? 0,
    };
  });

  afterAll(async () => {
    for (const p of [...opened, ...(parts ? [parts.specialist, parts.referrer] : [])]) await p.browser.close();
    await tp?.close();
    turn?.stop();
    await lab?.close();
  });

  test('(e) join → first remote frame on a 384 kbps, 3 % loss link: p95 ≤ 3 s', async () => {
    const specialist = await joinSpecialist(lab, call);
    const e = await scenarioJoinLatency(lab, call, specialist, 5);
    parts = { specialist, referrer: e.referrer };
    report('e join→first frame, link (a)', { samplesMs: e.samplesMs.map(Math.round), p50Ms: Math.round(e.p50Ms), p95Ms: Math.round(e.p95Ms) });
    expect(e.p95Ms).toBeLessThanOrEqual(3000);
  });

  test(`(a) 384 kbps each way + 3 % loss for ${LOSSY_SECONDS} s: audio continuous, lower layer, no freeze > 2 s`, async () => {
    const a = await scenarioLossyLink(lab, parts, LOSSY_SECONDS);
    report('a 384 kbps + 3 % loss', a);
    for (const q of [a.clinicReceives, a.officeReceives]) {
      expect(q.audioContinuous).toBe(true);
      expect(q.audioConcealedFraction).toBeLessThan(0.05);
      expect(q.longestVideoGapMs).toBeLessThanOrEqual(2000);
    }
    // Thin but usable: the clinic keeps video (no audio-only switch) on a lower simulcast layer than the full 480 lines (r1: 240, r0: 120).
    expect(a.clinicAudioOnlySwitches.filter((s) => s.audioOnly)).toEqual([]);
    expect(a.clinicReceives.maxFrameHeight).toBeGreaterThan(0);
    expect(a.clinicReceives.medianFrameHeight).toBeLessThanOrEqual(240);
  });

  test('(b) downlink 80 kbps → audio only within 10 s, audio flowing; 1 Mbps → video within 15 s', async () => {
    const b = await scenarioSqueeze(lab, parts);
    report('b 80 kbps downlink', b);
    expect(b.toAudioOnlyMs).toBeLessThanOrEqual(10_000);
    expect(b.audioBytesWhileAudioOnly).toBeGreaterThan(3000); // ≈ 3 s of opus
    expect(b.toVideoBackMs).toBeLessThanOrEqual(15_000);
  });

  test('(c) link down 10 s → media both ways within 5 s of its return, no ghost', async () => {
    const c = await scenarioOutage(lab, call, parts, 10);
    report('c 10 s outage', c);
    expect(c.resumeClinicMs).toBeLessThanOrEqual(5000);
    expect(c.resumeOfficeMs).toBeLessThanOrEqual(5000);
    expect([c.peersSeenByOffice, c.peersSeenByClinic, c.serverPeers, c.clinicState]).toEqual([1, 1, 2, 'joined']);
  });

  test('(c′) link down 25 s (longer than socket.io tolerates: 10 s ping + 15 s timeout, dropped after 15–25 s) → the client re-attaches to its kept session: same peer, never seen leaving, media within 5 s', async () => {
    const c = await scenarioOutage(lab, call, parts, 25);
    report('c′ 25 s outage, signalling dropped', c);
    expect(c.clinicStates).toContain('reconnecting'); // the socket did drop
    expect([c.clinicPeerIdKept, c.officeSawClinicLeave]).toEqual([true, false]);
    expect(c.resumeClinicMs).toBeLessThanOrEqual(5000);
    expect(c.resumeOfficeMs).toBeLessThanOrEqual(5000);
    expect([c.peersSeenByOffice, c.peersSeenByClinic, c.serverPeers, c.clinicState]).toEqual([1, 1, 2, 'joined']);
  });

  test('(d) UDP blocked, TCP only to the web server and TURN → through coturn over TCP within 5 s', async () => {
    const port = Number(new URL(tp.url).port);
    const d = await scenarioUdpBlocked(lab, call, parts.specialist, [port, TURN_PORT]);
    opened.push(d.participant);
    report('d UDP blocked', { joinToFirstFrameMs: Math.round(d.joinToFirstFrameMs), candidateTypes: d.candidateTypes, relayProtocols: d.relayProtocols });
    expect(d.candidateTypes).toEqual(['relay', 'relay']);
    expect(d.relayProtocols).toEqual(['tcp', 'tcp']);
    expect(d.joinToFirstFrameMs).toBeLessThanOrEqual(5000);
  });
});

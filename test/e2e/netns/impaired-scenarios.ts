/**
 * The impaired-link scenarios of a consult call, shared by the e2e test
 * (test/e2e/netns/impaired-links.test.ts) and the bench (bench/sfu-impaired-links.ts). The
 * specialist calls from an unimpaired namespace ("office"); the district doctor from "clinic",
 * whose veth gets the rural link. Every scenario measures in real Chromium (getStats) and returns
 * its figures; the caller asserts or prints them.
 *
 *   (e) join → first remote frame on link (a), over several joins;
 *   (a) 384 kbps each way + 3 % random UDP loss: audio concealment, longest video freeze, frame height;
 *   (b) downlink 80 kbps: time to audio only, audio still flowing; back at 1 Mbps: time to video;
 *   (c) link down 10 s: time from the link's return to media flowing both ways; peers seen;
 *   (d) UDP blocked, TCP only to the web server and TURN: join → media, selected candidate.
 */
import type { Page } from 'playwright-core';
import type { CallPageGlobal, CallPageInbound } from '../pages/call-page-api';
import { joinFromLab, sleep, waitMediaFlowing, type LabParticipant } from './call-in-lab';
import type { NetLab } from './lab';

export interface ScenarioCall {
  serverUrl: string;
  consultId: string;
  /** A fresh access token for the specialist / the district doctor / a second district doctor. */
  token(who: 'specialist' | 'referrer' | 'referrer2'): Promise<string>;
  /** How many participants the server holds in this call now (to catch ghosts). */
  serverPeers(): number;
}

const LINK_A = { downKbps: 384, upKbps: 384 };
const LOSS_A = 3;

const hc = (p: Page) => p.evaluate.bind(p);
async function inboundOf(p: Page, peerId: string): Promise<{ audio?: CallPageInbound; video?: CallPageInbound }> {
  const all = await hc(p)(() => (globalThis as unknown as CallPageGlobal).hoichanCall.inbound());
  return { audio: all.find((s) => s.peerId === peerId && s.kind === 'audio'), video: all.find((s) => s.peerId === peerId && s.source === 'camera') };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export interface LinkQuality {
  seconds: number;
  /** Δ concealedSamples / Δ totalSamplesReceived of the remote audio. */
  audioConcealedFraction: number;
  /** Audio bytes kept increasing in every 1 s window. */
  audioContinuous: boolean;
  /** The longest time without a newly decoded video frame, ms (sampled every 250 ms). */
  longestVideoGapMs: number;
  /** Chromium's own freeze counter and total freeze time over the window. */
  freezes: number;
  freezeSeconds: number;
  /** Decoded frame heights seen (median, max). */
  medianFrameHeight: number;
  maxFrameHeight: number;
  videoFps: number;
}

/** Samples what `receiver` gets from `senderPeerId` for `seconds`. */
export async function measureReception(receiver: Page, senderPeerId: string, seconds: number): Promise<LinkQuality> {
  const first = await inboundOf(receiver, senderPeerId);
  let prev = first;
  let lastFrameAt = Date.now();
  let longestGap = 0;
  let audioContinuous = true;
  let lastAudioCheck = { at: Date.now(), bytes: first.audio?.bytesReceived ?? 0 };
  const heights: number[] = [];
  const t0 = Date.now();
  while (Date.now() - t0 < seconds * 1000) {
    await sleep(250);
    const now = await inboundOf(receiver, senderPeerId);
    const nowMs = Date.now();
    if ((now.video?.framesDecoded ?? 0) > (prev.video?.framesDecoded ?? 0)) lastFrameAt = nowMs;
    longestGap = Math.max(longestGap, nowMs - lastFrameAt);
    if (now.video?.frameHeight) heights.push(now.video.frameHeight);
    if (nowMs - lastAudioCheck.at >= 1000) {
      const bytes = now.audio?.bytesReceived ?? 0;
      if (bytes <= lastAudioCheck.bytes) audioContinuous = false;
      lastAudioCheck = { at: nowMs, bytes };
    }
    prev = now;
  }
  const last = prev;
  const dConcealed = (last.audio?.concealedSamples ?? 0) - (first.audio?.concealedSamples ?? 0);
  const dSamples = (last.audio?.totalSamplesReceived ?? 0) - (first.audio?.totalSamplesReceived ?? 0);
  const elapsed = (Date.now() - t0) / 1000;
  return {
    seconds: Math.round(elapsed),
    audioConcealedFraction: dSamples > 0 ? dConcealed / dSamples : 1,
    audioContinuous,
    longestVideoGapMs: longestGap,
    freezes: (last.video?.freezeCount ?? 0) - (first.video?.freezeCount ?? 0),
    freezeSeconds: (last.video?.totalFreezesDuration ?? 0) - (first.video?.totalFreezesDuration ?? 0),
    medianFrameHeight: percentile(heights, 50),
    maxFrameHeight: heights.length ? Math.max(...heights) : 0,
    videoFps: ((last.video?.framesDecoded ?? 0) - (first.video?.framesDecoded ?? 0)) / elapsed,
  };
}

/** Waits until `p`'s own state says audio-only = `want`; ms, or throws after `timeoutMs`. */
async function waitAudioOnly(p: Page, want: boolean, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const s = await hc(p)(() => (globalThis as unknown as CallPageGlobal).hoichanCall.state());
    if (s.audioOnly === want) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`audio-only never became ${want} within ${timeoutMs} ms`);
    await sleep(250);
  }
}

export interface ScenarioParticipants {
  specialist: LabParticipant;
  referrer: LabParticipant;
}

/** The specialist joins from "office"; nothing shaped yet. */
export async function joinSpecialist(lab: NetLab, call: ScenarioCall): Promise<LabParticipant> {
  return joinFromLab(lab, 'office', { serverUrl: call.serverUrl, token: await call.token('specialist'), consultId: call.consultId });
}

/** (e) Shapes the clinic to link (a), then joins `joins` times from it; the last join stays in the call. */
export async function scenarioJoinLatency(
  lab: NetLab,
  call: ScenarioCall,
  specialist: LabParticipant,
  joins: number,
): Promise<{ samplesMs: number[]; p50Ms: number; p95Ms: number; referrer: LabParticipant }> {
  lab.shape('clinic', LINK_A);
  lab.loss('clinic', LOSS_A);
  const samples: number[] = [];
  let referrer: LabParticipant | undefined;
  for (let i = 0; i < joins; i++) {
    if (referrer) {
      await hc(referrer.page)(() => (globalThis as unknown as CallPageGlobal).hoichanCall.leave());
      await referrer.browser.close();
    }
    referrer = await joinFromLab(lab, 'clinic', { serverUrl: call.serverUrl, token: await call.token('referrer'), consultId: call.consultId });
    const handle = await referrer.page.waitForFunction(() => (globalThis as unknown as CallPageGlobal).hoichanCall.firstRemoteFrameAt(), undefined, {
      timeout: 30_000,
    });
    samples.push(((await handle.jsonValue()) as number) - referrer.startedAt);
  }
  await waitMediaFlowing(specialist.page, referrer!.peerId);
  return { samplesMs: samples, p50Ms: percentile(samples, 50), p95Ms: percentile(samples, 95), referrer: referrer! };
}

/** (a) 384 kbps each way + 3 % loss for `seconds` (the link is already shaped by (e)). */
export async function scenarioLossyLink(
  lab: NetLab,
  parts: ScenarioParticipants,
  seconds: number,
): Promise<{ clinicReceives: LinkQuality; officeReceives: LinkQuality; clinicAudioOnlySwitches: Array<{ audioOnly: boolean; estimatedKbps: number }> }> {
  lab.shape('clinic', LINK_A);
  lab.loss('clinic', LOSS_A);
  await sleep(5000); // let the estimates and the layer settle on the link
  const before = (await hc(parts.referrer.page)(() => (globalThis as unknown as CallPageGlobal).hoichanCall.events())).length;
  const [clinicReceives, officeReceives] = await Promise.all([
    measureReception(parts.referrer.page, parts.specialist.peerId, seconds),
    measureReception(parts.specialist.page, parts.referrer.peerId, seconds),
  ]);
  const events = (await hc(parts.referrer.page)(() => (globalThis as unknown as CallPageGlobal).hoichanCall.events())).slice(before);
  const clinicAudioOnlySwitches = events
    .filter((e) => e.event === 'audio-only' && e.payload.self)
    .map((e) => ({ audioOnly: Boolean(e.payload.audioOnly), estimatedKbps: Number(e.payload.estimatedKbps) }));
  return { clinicReceives, officeReceives, clinicAudioOnlySwitches };
}

/** (b) Downlink 80 kbps → audio only; audio keeps flowing; downlink 1 Mbps → video back. */
export async function scenarioSqueeze(
  lab: NetLab,
  parts: ScenarioParticipants,
): Promise<{ toAudioOnlyMs: number; audioBytesWhileAudioOnly: number; toVideoBackMs: number }> {
  lab.loss('clinic', 0);
  lab.shape('clinic', { downKbps: 80, upKbps: 384 });
  const toAudioOnlyMs = await waitAudioOnly(parts.referrer.page, true, 20_000);
  const before = await inboundOf(parts.referrer.page, parts.specialist.peerId);
  await sleep(3000);
  const after = await inboundOf(parts.referrer.page, parts.specialist.peerId);
  lab.shape('clinic', { downKbps: 1000, upKbps: 1000 });
  const t0 = Date.now();
  await waitAudioOnly(parts.referrer.page, false, 30_000);
  await waitMediaFlowing(parts.referrer.page, parts.specialist.peerId, { timeoutMs: 30_000, pollMs: 250 });
  return { toAudioOnlyMs, audioBytesWhileAudioOnly: (after.audio?.bytesReceived ?? 0) - (before.audio?.bytesReceived ?? 0), toVideoBackMs: Date.now() - t0 };
}

/**
 * (b′) Downlink 80 kbps held for `holdSeconds` after the switch to audio only: how audio fares
 * while the server's video trials (resumed lowest layer, VideoTrial) meet the thin link, whether
 * the clinic is ever told video is back meanwhile, how many video frames the trials let through;
 * then 1 Mbps: time to video.
 */
export async function scenarioThinLink(
  lab: NetLab,
  parts: ScenarioParticipants,
  holdSeconds: number,
): Promise<{ toAudioOnlyMs: number; held: LinkQuality; audioOnlyEventsWhileHeld: number; toVideoBackMs: number }> {
  lab.loss('clinic', 0);
  lab.shape('clinic', { downKbps: 80, upKbps: 384 });
  const toAudioOnlyMs = await waitAudioOnly(parts.referrer.page, true, 20_000);
  const before = (await hc(parts.referrer.page)(() => (globalThis as unknown as CallPageGlobal).hoichanCall.events())).length;
  const held = await measureReception(parts.referrer.page, parts.specialist.peerId, holdSeconds);
  const events = (await hc(parts.referrer.page)(() => (globalThis as unknown as CallPageGlobal).hoichanCall.events())).slice(before);
  lab.shape('clinic', { downKbps: 1000, upKbps: 1000 });
  const t0 = Date.now();
  await waitAudioOnly(parts.referrer.page, false, 60_000);
  await waitMediaFlowing(parts.referrer.page, parts.specialist.peerId, { timeoutMs: 30_000, pollMs: 250 });
  return {
    toAudioOnlyMs,
    held,
    audioOnlyEventsWhileHeld: events.filter((e) => e.event === 'audio-only' && e.payload.self).length,
    toVideoBackMs: Date.now() - t0,
  };
}

/** (c) The clinic's link goes down for `downSeconds`; how long after its return until media flows both ways. */
export async function scenarioOutage(
  lab: NetLab,
  call: ScenarioCall,
  parts: ScenarioParticipants,
  downSeconds: number,
): Promise<{
  resumeClinicMs: number;
  resumeOfficeMs: number;
  peersSeenByOffice: number;
  peersSeenByClinic: number;
  serverPeers: number;
  clinicState: string;
  clinicPeerIdKept: boolean;
  officeSawClinicLeave: boolean;
  clinicStates: string[];
}> {
  const eventsBefore = (await hc(parts.specialist.page)(() => (globalThis as unknown as CallPageGlobal).hoichanCall.events())).length;
  const clinicEventsBefore = (await hc(parts.referrer.page)(() => (globalThis as unknown as CallPageGlobal).hoichanCall.events())).length;
  lab.shape('clinic', {});
  lab.loss('clinic', 0);
  lab.link('clinic', false);
  await sleep(downSeconds * 1000);
  lab.link('clinic', true);
  const [resumeClinicMs, resumeOfficeMs] = await Promise.all([
    waitMediaFlowing(parts.referrer.page, parts.specialist.peerId, { timeoutMs: 60_000, pollMs: 250 }),
    waitMediaFlowing(parts.specialist.page, parts.referrer.peerId, { timeoutMs: 60_000, pollMs: 250 }),
  ]);
  await sleep(1000);
  const office = await hc(parts.specialist.page)(() => (globalThis as unknown as CallPageGlobal).hoichanCall.state());
  const clinic = await hc(parts.referrer.page)(() => (globalThis as unknown as CallPageGlobal).hoichanCall.state());
  const officeEvents = (await hc(parts.specialist.page)(() => (globalThis as unknown as CallPageGlobal).hoichanCall.events())).slice(eventsBefore);
  const clinicEvents = (await hc(parts.referrer.page)(() => (globalThis as unknown as CallPageGlobal).hoichanCall.events())).slice(clinicEventsBefore);
  return {
    resumeClinicMs,
    resumeOfficeMs,
    peersSeenByOffice: office.peers.length,
    peersSeenByClinic: clinic.peers.length,
    serverPeers: call.serverPeers(),
    clinicState: clinic.state,
    clinicPeerIdKept: clinic.peerId === parts.referrer.peerId,
    officeSawClinicLeave: officeEvents.some((e) => e.event === 'peer-left' && e.payload.peerId === parts.referrer.peerId),
    clinicStates: clinicEvents.filter((e) => e.event === 'state').map((e) => String(e.payload.state)),
  };
}

/** (d) A second clinic with no UDP and TCP only to the web server and TURN: join → media both ways. */
export async function scenarioUdpBlocked(
  lab: NetLab,
  call: ScenarioCall,
  specialist: LabParticipant,
  allowTcpPorts: number[],
): Promise<{ joinToFirstFrameMs: number; candidateTypes: string[]; relayProtocols: string[]; participant: LabParticipant }> {
  lab.firewall('clinic2', allowTcpPorts);
  const p = await joinFromLab(lab, 'clinic2', { serverUrl: call.serverUrl, token: await call.token('referrer2'), consultId: call.consultId });
  const handle = await p.page.waitForFunction(() => (globalThis as unknown as CallPageGlobal).hoichanCall.firstRemoteFrameAt(), undefined, { timeout: 30_000 });
  const joinToFirstFrameMs = ((await handle.jsonValue()) as number) - p.startedAt;
  await Promise.all([
    waitMediaFlowing(p.page, specialist.peerId, { timeoutMs: 30_000, pollMs: 250 }),
    waitMediaFlowing(specialist.page, p.peerId, { timeoutMs: 30_000, pollMs: 250 }),
  ]);
  await sleep(1500); // one stats tick with the selected pair
  const status = await hc(p.page)(() => (globalThis as unknown as CallPageGlobal).hoichanCall.connection());
  return {
    joinToFirstFrameMs,
    candidateTypes: status?.transports.map((t) => t.localCandidateType ?? '?') ?? [],
    relayProtocols: status?.transports.map((t) => t.relayProtocol ?? '-') ?? [],
    participant: p,
  };
}

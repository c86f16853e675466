/**
 * A bare test page for the live call (bundled by esbuild at test time): exposes
 * `window.hoichanCall` so the e2e tests and the join-latency bench can drive ConsultCall.
 */
import { ConsultCall, type ConsultCallEvents } from '../../../client/src/call/consult-call';
import type { CallPageApi, CallPageStartParams as StartParams } from './call-page-api';

type Logged = { at: number; event: keyof ConsultCallEvents; payload: any };

let call: ConsultCall | null = null;
let downlinkOverride: number | undefined;
const log: Logged[] = [];
let firstRemoteFrameAt: number | null = null;

function record<K extends keyof ConsultCallEvents>(event: K, payload: ConsultCallEvents[K]): void {
  const safe = event === 'track' ? { ...(payload as ConsultCallEvents['track']), track: undefined } : payload;
  log.push({ at: performance.now(), event, payload: safe });
}

const api: CallPageApi = {
  async start(p: StartParams): Promise<{ peerId: string | null; startedAt: number }> {
    const startedAt = performance.now();
    firstRemoteFrameAt = null;
    call = await ConsultCall.start({
      serverUrl: p.serverUrl,
      token: p.token,
      consultId: p.consultId,
      media: { audio: true, video: true },
      statsIntervalMs: p.statsIntervalMs ?? 1000,
      ...(p.iceTransportPolicy ? { iceTransportPolicy: p.iceTransportPolicy } : {}),
      downlinkKbps: () => downlinkOverride,
    });
    const events: Array<keyof ConsultCallEvents> = [
      'state',
      'connection',
      'producer-paused',
      'peer-joined',
      'peer-left',
      'track',
      'track-ended',
      'active-speaker',
      'audio-only',
      'error',
    ];
    for (const e of events) call.on(e, (payload) => record(e, payload as never));
    call.on('track', (t) => {
      const el = document.createElement(t.kind === 'video' ? 'video' : 'audio');
      el.id = `c-${t.consumerId}`;
      el.autoplay = true;
      el.muted = true;
      if (el instanceof HTMLVideoElement) {
        el.width = 640;
        el.height = 480;
        el.playsInline = true;
        el.requestVideoFrameCallback?.(() => {
          firstRemoteFrameAt ??= performance.now();
        });
      }
      document.body.appendChild(el);
      call!.attachVideo(t.consumerId, el);
    });
    call.on('track-ended', ({ consumerId }) => document.getElementById(`c-${consumerId}`)?.remove());
    // Tracks that arrived during start() (existing producers) were emitted before the listeners: attach them too.
    for (const t of call.remoteTracks()) {
      record('track', t);
      const el = document.createElement(t.kind === 'video' ? 'video' : 'audio');
      el.id = `c-${t.consumerId}`;
      el.autoplay = true;
      el.muted = true;
      if (el instanceof HTMLVideoElement) {
        el.width = 640;
        el.height = 480;
        el.requestVideoFrameCallback?.(() => {
          firstRemoteFrameAt ??= performance.now();
        });
      }
      document.body.appendChild(el);
      call.attachVideo(t.consumerId, el);
    }
    return { peerId: call.peerId, startedAt };
  },
  /** Per remote peer and kind: summed inbound-rtp counters (bytes, frames, loss, audio concealment, freezes, frame height). */
  async inbound() {
    if (!call) return [];
    const out = [];
    for (const { info, stats } of (await call.consumerStats()).values()) {
      const sum = {
        bytesReceived: 0,
        framesDecoded: 0,
        packetsLost: 0,
        packetsReceived: 0,
        concealedSamples: 0,
        totalSamplesReceived: 0,
        freezeCount: 0,
        totalFreezesDuration: 0,
        frameHeight: 0,
      };
      stats.forEach((s: Record<string, unknown>) => {
        if (s.type !== 'inbound-rtp') return;
        sum.bytesReceived += Number(s.bytesReceived ?? 0);
        sum.framesDecoded += Number(s.framesDecoded ?? 0);
        sum.packetsLost += Number(s.packetsLost ?? 0);
        sum.packetsReceived += Number(s.packetsReceived ?? 0);
        sum.concealedSamples += Number(s.concealedSamples ?? 0);
        sum.totalSamplesReceived += Number(s.totalSamplesReceived ?? 0);
        sum.freezeCount += Number(s.freezeCount ?? 0);
        sum.totalFreezesDuration += Number(s.totalFreezesDuration ?? 0);
        sum.frameHeight = Math.max(sum.frameHeight, Number(s.frameHeight ?? 0));
      });
      out.push({ peerId: info.peerId, kind: info.kind, source: info.source, ...sum });
    }
    return out;
  },
  /** The send side: per outbound-rtp (one per simulcast layer) bytes, frames, size and limitation. */
  async outbound(): Promise<Array<Record<string, unknown>>> {
    return call ? call.senderStats() : [];
  },
  setDownlinkOverride(kbps: number | undefined): void {
    downlinkOverride = kbps;
  },
  async reportStats() {
    return call?.reportStats();
  },
  state() {
    return {
      state: call?.state ?? 'none',
      peerId: call?.peerId ?? null,
      audioOnly: call?.audioOnly ?? false,
      peers: call?.peers() ?? [],
      remote: call?.remoteTracks().map((t) => ({ ...t, track: undefined, readyState: t.track.readyState })) ?? [],
    };
  },
  firstRemoteFrameAt(): number | null {
    return firstRemoteFrameAt;
  },
  events(): Logged[] {
    return log;
  },
  /** Gathers ICE candidates with a throwaway RTCPeerConnection; returns their types (host, srflx, relay). */
  async gatherCandidates(iceServers, policy): Promise<Array<{ type: string | null; address: string | null; protocol: string | null }>> {
    const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: policy });
    const found: Array<{ type: string | null; address: string | null; protocol: string | null }> = [];
    pc.createDataChannel('probe');
    const done = new Promise<void>((resolve) => {
      pc.onicecandidate = (e) => {
        if (!e.candidate) {
          resolve();
          return;
        }
        found.push({ type: e.candidate.type, address: e.candidate.address, protocol: e.candidate.protocol });
      };
      setTimeout(resolve, 10_000);
    });
    await pc.setLocalDescription(await pc.createOffer());
    await done;
    pc.close();
    return found;
  },
  /** Local candidate type of the selected pair of each transport (e.g. 'relay' through TURN). */
  async selectedCandidateTypes(): Promise<string[]> {
    return call ? call.selectedCandidateTypes() : [];
  },
  async restartIce(): Promise<void> {
    await call?.restartIce();
  },
  async connection() {
    return call?.connection ?? null; // the status of the last stats tick (statsIntervalMs)
  },
  async leave(): Promise<void> {
    await call?.leave();
    call = null;
  },
};

export type { CallPageApi };
declare global {
  interface Window {
    /** The test page's handle (test/e2e/pages/call-page.ts). */
    hoichanCall: CallPageApi;
  }
}
window.hoichanCall = api;
document.title = 'hoichan call test page';

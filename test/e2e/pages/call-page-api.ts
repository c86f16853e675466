/**
 * What the bare call test page (call-page.ts) exposes as `globalThis.hoichanCall`, in types that
 * need no DOM lib, so Node-side code (benches in the server build, tests) can type its
 * `page.evaluate` callbacks without pulling the browser module into the server compilation.
 */
import type { CallPeerInfo } from '../../../contracts/sfu-api';

export interface CallPageStartParams {
  serverUrl: string;
  token: string;
  consultId: string;
  iceTransportPolicy?: 'all' | 'relay';
  statsIntervalMs?: number;
}

export interface CallPageIceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface CallPageInbound {
  peerId: string;
  kind: string;
  source: string;
  bytesReceived: number;
  framesDecoded: number;
  packetsLost: number;
  packetsReceived: number;
  /** Audio: samples the receiver had to conceal (loss, late packets) and all samples received. */
  concealedSamples: number;
  totalSamplesReceived: number;
  /** Video: Chromium's freeze counters and the current decoded frame height. */
  freezeCount: number;
  totalFreezesDuration: number;
  frameHeight: number;
}

export interface CallPageLogged {
  at: number;
  event: string;
  payload: any;
}

export interface CallPageRemote {
  consumerId: string;
  producerId: string;
  peerId: string;
  kind: string;
  source: string;
  readyState: string;
}

export interface CallPageApi {
  start(p: CallPageStartParams): Promise<{ peerId: string | null; startedAt: number }>;
  /** Per remote peer and kind: summed inbound-rtp counters. */
  inbound(): Promise<CallPageInbound[]>;
  /** The send side: per outbound-rtp (one per simulcast layer) bytes, frames, size and limitation. */
  outbound(): Promise<Array<Record<string, unknown>>>;
  setDownlinkOverride(kbps: number | undefined): void;
  reportStats(): Promise<unknown>;
  state(): { state: string; peerId: string | null; audioOnly: boolean; peers: CallPeerInfo[]; remote: CallPageRemote[] };
  firstRemoteFrameAt(): number | null;
  events(): CallPageLogged[];
  /** Gathers ICE candidates with a throwaway RTCPeerConnection; returns their types (host, srflx, relay). */
  gatherCandidates(
    iceServers: CallPageIceServer[],
    policy: 'all' | 'relay',
  ): Promise<Array<{ type: string | null; address: string | null; protocol: string | null }>>;
  /** Local candidate type of the selected pair of each transport (e.g. 'relay' through TURN). */
  selectedCandidateTypes(): Promise<string[]>;
  restartIce(): Promise<void>;
  /** ConsultCall.connection (computed at each stats tick): quality, ICE/DTLS state and selected pair of each transport, inbound flow. */
  connection(): Promise<CallPageConnection | null>;
  leave(): Promise<void>;
}

export interface CallPageConnection {
  quality: 'connecting' | 'reconnecting' | 'waiting' | 'no-media' | 'audio-only' | 'poor' | 'good';
  state: string;
  audioOnly: boolean;
  transports: Array<{
    direction: 'send' | 'recv';
    connectionState: string;
    localCandidateType?: string;
    protocol?: string;
    relayProtocol?: string;
    remoteAddress?: string;
  }>;
  inbound: { audioFlowing: boolean; videoFlowing: boolean; expectingVideo: boolean; lossFraction: number };
}

/** The page's global, for `page.evaluate(() => pageCall().…)`-style callbacks: write `(globalThis as unknown as CallPageGlobal).hoichanCall`. */
export interface CallPageGlobal {
  hoichanCall: CallPageApi;
}

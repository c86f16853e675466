import type { types as ms } from 'mediasoup';
import type { CallPeerInfo, MediaSource, TransportDirection } from '../../contracts/sfu-api';
import type { SfuServerToClientEvents } from '../../contracts/sfu-events';
import { DownlinkDelay, VideoTrial } from './bandwidth-policy';

/** Sends one server → client event to one peer (socket.emit in production, a recorder in tests). */
export type CallNotifier = <E extends keyof SfuServerToClientEvents>(event: E, ...args: Parameters<SfuServerToClientEvents[E]>) => void;

export interface ProducerAppData extends ms.AppData {
  peerId: string;
  userId: string;
  source: MediaSource;
}

export interface ConsumerState {
  consumer: ms.Consumer;
  producerPeerId: string;
  source: MediaSource;
  /** The client asked for it paused (consumers start paused until the client resumes them). */
  clientPaused: boolean;
  /** Client's cap on the spatial layer (sfu:set-preferred-layers). */
  clientMaxSpatial?: number;
  clientTemporal?: number;
  renderedHeight?: number;
  /** Spatial layer the policy last asked for. */
  appliedSpatial?: number;
}

/** One participant's session in a call: its transports, producers and consumers. Closed explicitly. */
export class CallPeer {
  readonly peerId: string;
  readonly userId: string;
  readonly displayName: string;
  readonly host: boolean;
  #notify: CallNotifier;
  readonly transports = new Map<string, { transport: ms.WebRtcTransport; direction: TransportDirection }>();
  readonly producers = new Map<string, ms.Producer<ProducerAppData>>();
  readonly consumers = new Map<string, ConsumerState>();
  #audioOnly = false;
  #clientKbps: { kbps: number; at: number } | undefined;
  #serverKbps: number | undefined;
  #closed = false;

  constructor(init: { peerId: string; userId: string; displayName: string; host: boolean; notify: CallNotifier }) {
    this.peerId = init.peerId;
    this.userId = init.userId;
    this.displayName = init.displayName;
    this.host = init.host;
    this.#notify = init.notify;
  }

  /** Sends to the peer's current socket (rebound when the client re-attaches after a drop). */
  readonly notify: CallNotifier = (event, ...args) => this.#notify(event, ...args);

  /** The client came back on a new socket (sfu:resume-session): events go there from now on. */
  rebind(notify: CallNotifier): void {
    this.#notify = notify;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get audioOnly(): boolean {
    return this.#audioOnly;
  }

  set audioOnly(value: boolean) {
    if (value !== this.#audioOnly) {
      this.audioOnlyChangedAt = Date.now();
      this.videoTrial.reset(this.audioOnlyChangedAt);
    }
    this.#audioOnly = value;
  }

  /** While audio only: short trials of the lowest video layer, so the estimate can see a recovered link. */
  readonly videoTrial = new VideoTrial();

  /** When the audio-only mode last changed (the server's estimate needs time to settle after it). */
  audioOnlyChangedAt = 0;

  /** Round-trip times of what the SFU forwards to this participant: a queue on its downlink shows there. */
  readonly downlinkDelay = new DownlinkDelay();

  /** Since when only the server's send-side estimate has been below the audio-only threshold (null: it is not). */
  serverLowSince: number | null = null;

  info(): CallPeerInfo {
    return { peerId: this.peerId, userId: this.userId, displayName: this.displayName, host: this.host, audioOnly: this.#audioOnly };
  }

  reportClientKbps(kbps: number, now = Date.now()): void {
    this.#clientKbps = { kbps, at: now };
  }

  /** The client's report, if it is recent enough to act on. */
  clientKbps(maxAgeMs: number, now = Date.now()): number | undefined {
    return this.#clientKbps && now - this.#clientKbps.at <= maxAgeMs ? this.#clientKbps.kbps : undefined;
  }

  set serverKbps(kbps: number | undefined) {
    this.#serverKbps = kbps;
  }

  get serverKbps(): number | undefined {
    return this.#serverKbps;
  }

  transportOf(direction: TransportDirection): ms.WebRtcTransport | undefined {
    for (const t of this.transports.values()) if (t.direction === direction) return t.transport;
    return undefined;
  }

  /** Closes every transport (which closes its producers and consumers). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const { transport } of this.transports.values()) transport.close();
    this.transports.clear();
    this.producers.clear();
    this.consumers.clear();
  }
}

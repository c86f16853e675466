/**
 * The browser side of a live consult call: framework-free, no Node imports. Uses mediasoup-client
 * and socket.io-client; the web client imports it (see docs/sfu.md for the API).
 *
 *   const call = await ConsultCall.start({ serverUrl, token, consultId });
 *   call.on('track', ({ peerId, kind, source, track }) => ...);
 *   call.attachVideo(consumerId, videoElement); // reports the rendered size to the server
 *   await call.leave();
 *
 * It produces the microphone and the camera (3 simulcast layers), consumes every other
 * participant, reports its bandwidth estimate and rendered sizes every few seconds, follows the
 * server's audio-only switch, restarts ICE when the network changes, and rejoins after a socket
 * reconnect or when the server asks (`sfu:rejoin`).
 */
import { Device, type types as msc } from 'mediasoup-client';
import { io, type Socket } from 'socket.io-client';
import type { AckError, ClientToServerEvents, ServerToClientEvents } from '../../../contracts/events';
import { SIGNALLING_RECONNECT } from '../lib/signalling-reconnect';
import type {
  AudioOnlyReason,
  CallPeerInfo,
  CallProducerInfo,
  ClientCallStats,
  CreatedTransport,
  JoinCallResult,
  MediaKind,
  MediaSource,
  PeerLeftReason,
  ResumeCallResult,
} from '../../../contracts/sfu-api';

export type CallSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
export type CallState = 'connecting' | 'joined' | 'reconnecting' | 'replaced' | 'closed';

export interface RemoteTrack {
  consumerId: string;
  producerId: string;
  peerId: string;
  kind: MediaKind;
  source: MediaSource;
  track: MediaStreamTrack;
}

/**
 * How the call is really doing, for the room's connection indicator (computed from each
 * transport's ICE/DTLS state and the consumers' getStats() at every stats tick):
 * - `connecting` / `reconnecting`: signalling or a transport is not (or no longer) connected;
 * - `waiting`: connected, nobody else sends media yet;
 * - `no-media`: connected, others send, but no inbound audio arrived since the last tick;
 * - `audio-only`: the server forwards no video to this client (thin downlink);
 * - `poor`: media flows but video stalled or ≥ 5 % of packets were lost since the last tick;
 * - `good`: audio (and any video) arriving.
 */
export type CallQuality = 'connecting' | 'reconnecting' | 'waiting' | 'no-media' | 'audio-only' | 'poor' | 'good';

export interface CallTransportStatus {
  direction: 'send' | 'recv';
  /** RTCPeerConnection connectionState (ICE + DTLS): new, connecting, connected, disconnected, failed, closed. */
  connectionState: string;
  /** Local candidate type of the selected pair: host, srflx, prflx, relay (TURN). */
  localCandidateType?: string;
  /** Transport protocol of the selected pair (udp, tcp). */
  protocol?: string;
  /** Through TURN: how this client reaches the TURN server (udp, tcp, tls). */
  relayProtocol?: string;
  /** Address of the server's side of the selected pair. */
  remoteAddress?: string;
}

export interface CallConnectionStatus {
  quality: CallQuality;
  state: CallState;
  audioOnly: boolean;
  transports: CallTransportStatus[];
  /** Since the previous status: did inbound audio / video bytes increase; fraction of packets lost. */
  inbound: { audioFlowing: boolean; videoFlowing: boolean; expectingVideo: boolean; lossFraction: number };
}

export interface ConsultCallEvents {
  state: { state: CallState; reason?: string };
  connection: CallConnectionStatus;
  'peer-joined': CallPeerInfo;
  'peer-left': { peerId: string; userId: string; reason: PeerLeftReason };
  track: RemoteTrack;
  'track-ended': { consumerId: string; peerId: string; kind: MediaKind; source: MediaSource };
  'active-speaker': { peerId: string | null };
  'audio-only': { peerId: string; audioOnly: boolean; reason: AudioOnlyReason; estimatedKbps: number; self: boolean };
  'producer-paused': { peerId: string; producerId: string; paused: boolean };
  error: { message: string; cause?: unknown };
}

export interface ConsultCallOptions {
  /** Platform origin, e.g. https://hoichan.example.vn (socket.io path /socket.io). */
  serverUrl: string;
  /** The access JWT, or a function giving a fresh one (used again on every reconnect). */
  token: string | (() => string | Promise<string>);
  consultId: string;
  /** An already connected socket to reuse instead of opening one (the caller keeps ownership). */
  socket?: CallSocket;
  /** Local media; by default the microphone and the camera are requested. */
  media?: { audio?: boolean | MediaTrackConstraints; video?: boolean | MediaTrackConstraints };
  /** Pre-acquired tracks (skips getUserMedia for that kind). */
  tracks?: { audio?: MediaStreamTrack; video?: MediaStreamTrack };
  /** Simulcast encodings of the camera, low → high (default 3 layers, ¼, ½, full; 100/300/900 kbps). */
  simulcast?: RTCRtpEncodingParameters[];
  /** Stats reports to the server, ms (default 2000). */
  statsIntervalMs?: number;
  /** 'relay' forces TURN (to test the relay path). */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /**
   * The client's downlink estimate in kbps, asked at each stats report. Default: the browser's
   * Network Information API (navigator.connection.downlink) where it exists.
   */
  downlinkKbps?: () => number | undefined;
}

export const DEFAULT_SIMULCAST: RTCRtpEncodingParameters[] = [
  { rid: 'r0', scaleResolutionDownBy: 4, maxBitrate: 100_000, scalabilityMode: 'L1T3' } as RTCRtpEncodingParameters,
  { rid: 'r1', scaleResolutionDownBy: 2, maxBitrate: 300_000, scalabilityMode: 'L1T3' } as RTCRtpEncodingParameters,
  { rid: 'r2', scaleResolutionDownBy: 1, maxBitrate: 900_000, scalabilityMode: 'L1T3' } as RTCRtpEncodingParameters,
];

type Listener<T> = (payload: T) => void;

/** A call request the server refused (`code` from the ack, e.g. `waiting_for_host`) or did not answer. */
class CallRequestError extends Error {
  constructor(
    event: string,
    message: string,
    readonly code: string = 'no_answer',
  ) {
    super(`${event}: ${message}`);
    this.name = 'CallRequestError';
  }
}

export class ConsultCall {
  readonly consultId: string;
  readonly #options: ConsultCallOptions;
  readonly #socket: CallSocket;
  readonly #ownsSocket: boolean;
  readonly #listeners = new Map<keyof ConsultCallEvents, Set<Listener<never>>>();
  readonly #peers = new Map<string, CallPeerInfo>();
  readonly #consumers = new Map<string, { consumer: msc.Consumer; info: RemoteTrack }>();
  readonly #producers = new Map<MediaSource, msc.Producer>();
  readonly #localTracks: { audio?: MediaStreamTrack; video?: MediaStreamTrack; screen?: MediaStreamTrack } = {};
  readonly #renderObservers = new Map<string, ResizeObserver>();
  readonly #renderedSizes = new Map<string, { width: number; height: number }>();
  readonly #offSocket: Array<() => void> = [];
  #device: Device | null = null;
  #send: msc.Transport | null = null;
  #recv: msc.Transport | null = null;
  #join: JoinCallResult | null = null;
  #state: CallState = 'connecting';
  #statsTimer: ReturnType<typeof setInterval> | null = null;
  #rejoining: Promise<void> | null = null;
  /** Producers announced before the recv transport existed, or being consumed right now. */
  readonly #pendingProducers = new Map<string, CallProducerInfo>();
  readonly #consuming = new Set<string>();
  #selfAudioOnly = false;
  #lastEstimateKbps: number | null = null;
  /** Inbound counters at the previous connectionStatus(), to tell "flowing" from "stalled". */
  #lastInbound: { audioBytes: number; videoBytes: number; videoFrames: number; received: number; lost: number } | null = null;
  #lastStatus: CallConnectionStatus | null = null;
  /** Remote producers paused by their owner (camera off, muted), by producer id. */
  readonly #pausedProducers = new Set<string>();

  /** Connects (unless a socket is given), gets local media, joins, produces and consumes. */
  static async start(options: ConsultCallOptions): Promise<ConsultCall> {
    const call = new ConsultCall(options);
    try {
      await call.#connectSocket();
      await call.#acquireMedia();
      await call.#joinAndPublish();
      call.#startStats();
    } catch (err) {
      await call.leave().catch(() => undefined);
      throw err;
    }
    return call;
  }

  private constructor(options: ConsultCallOptions) {
    this.consultId = options.consultId;
    this.#options = options;
    this.#ownsSocket = !options.socket;
    this.#socket =
      options.socket ??
      io(options.serverUrl, {
        path: '/socket.io',
        transports: ['websocket'],
        autoConnect: false,
        ...SIGNALLING_RECONNECT,
        auth: (cb) => {
          const t = options.token;
          void Promise.resolve(typeof t === 'function' ? t() : t).then((token) => cb({ token }));
        },
      });
    this.#wireSocket();
  }

  get state(): CallState {
    return this.#state;
  }

  get peerId(): string | null {
    return this.#join?.peerId ?? null;
  }

  /** Whether the server currently forwards no video to this client (thin downlink). */
  get audioOnly(): boolean {
    return this.#selfAudioOnly;
  }

  get lastEstimateKbps(): number | null {
    return this.#lastEstimateKbps;
  }

  peers(): CallPeerInfo[] {
    return [...this.#peers.values()];
  }

  remoteTracks(): RemoteTrack[] {
    return [...this.#consumers.values()].map((c) => c.info);
  }

  localTrack(kind: 'audio' | 'video' | 'screen'): MediaStreamTrack | undefined {
    return this.#localTracks[kind];
  }

  on<K extends keyof ConsultCallEvents>(event: K, listener: Listener<ConsultCallEvents[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Mutes or unmutes the microphone (the producer is paused on the server too). */
  async setMicEnabled(enabled: boolean): Promise<void> {
    await this.#setProducerPaused('mic', !enabled);
  }

  async setCameraEnabled(enabled: boolean): Promise<void> {
    await this.#setProducerPaused('camera', !enabled);
  }

  /** Shares a screen (getDisplayMedia unless a track is given) as a second video producer. */
  async shareScreen(track?: MediaStreamTrack): Promise<void> {
    if (this.#producers.has('screen')) return;
    const screen = track ?? (await navigator.mediaDevices.getDisplayMedia({ video: true })).getVideoTracks()[0];
    if (!screen) throw new Error('no screen track');
    this.#localTracks.screen = screen;
    screen.addEventListener('ended', () => void this.stopScreenShare());
    await this.#produce('screen', screen);
  }

  async stopScreenShare(): Promise<void> {
    const producer = this.#producers.get('screen');
    this.#producers.delete('screen');
    this.#localTracks.screen?.stop();
    delete this.#localTracks.screen;
    if (!producer) return;
    producer.close();
    await this.#request('sfu:close-producer', { producerId: producer.id }).catch(() => undefined);
  }

  /** Caps the layer the server forwards for one remote video (0 low … 2 high). */
  async setPreferredLayers(consumerId: string, spatialLayer: number, temporalLayer?: number): Promise<void> {
    await this.#request('sfu:set-preferred-layers', { consumerId, spatialLayer, ...(temporalLayer !== undefined ? { temporalLayer } : {}) });
  }

  /** Plays a remote track in an element and reports its rendered size to the server. */
  attachVideo(consumerId: string, element: HTMLVideoElement | HTMLAudioElement): void {
    const entry = this.#consumers.get(consumerId);
    if (!entry) throw new Error('unknown consumer');
    element.srcObject = new MediaStream([entry.info.track]);
    void element.play().catch(() => undefined);
    if (element instanceof HTMLVideoElement && typeof ResizeObserver !== 'undefined') {
      this.#renderObservers.get(consumerId)?.disconnect();
      const observer = new ResizeObserver(() => {
        const dpr = globalThis.devicePixelRatio || 1;
        this.#renderedSizes.set(consumerId, { width: Math.round(element.clientWidth * dpr), height: Math.round(element.clientHeight * dpr) });
      });
      observer.observe(element);
      this.#renderObservers.set(consumerId, observer);
    }
  }

  /** Reports a rendered size directly (when the app renders remote video itself). */
  setRenderedSize(consumerId: string, width: number, height: number): void {
    this.#renderedSizes.set(consumerId, { width, height });
  }

  /** Restarts ICE on both transports (called automatically on a network change or a failed connection). */
  async restartIce(): Promise<void> {
    for (const t of [this.#send, this.#recv]) {
      if (!t || t.closed) continue;
      const { iceParameters } = await this.#request('sfu:restart-ice', { transportId: t.id });
      await t.restartIce({ iceParameters: iceParameters as unknown as msc.IceParameters });
    }
  }

  /** getStats() of every consumer, by consumer id (for diagnostics and tests). */
  async consumerStats(): Promise<Map<string, { info: RemoteTrack; stats: RTCStatsReport }>> {
    const out = new Map<string, { info: RemoteTrack; stats: RTCStatsReport }>();
    for (const [id, c] of this.#consumers) if (!c.consumer.closed) out.set(id, { info: c.info, stats: await c.consumer.getStats() });
    return out;
  }

  /** outbound-rtp stats of the local producers (one entry per simulcast layer), for diagnostics. */
  async senderStats(): Promise<Array<Record<string, unknown>>> {
    const out: Array<Record<string, unknown>> = [];
    for (const [source, producer] of this.#producers) {
      if (producer.closed) continue;
      (await producer.getStats()).forEach((s: Record<string, unknown>) => {
        if (s.type === 'outbound-rtp') {
          out.push({
            source,
            rid: s.rid,
            bytesSent: s.bytesSent,
            framesEncoded: s.framesEncoded,
            frameWidth: s.frameWidth,
            frameHeight: s.frameHeight,
            active: s.active,
            qualityLimitationReason: s.qualityLimitationReason,
            targetBitrate: s.targetBitrate,
          });
        }
      });
    }
    return out;
  }

  /** The local candidate type (host, srflx, prflx, relay) of each transport's selected pair: 'relay' means TURN. */
  async selectedCandidateTypes(): Promise<string[]> {
    const types: string[] = [];
    for (const t of [this.#send, this.#recv]) {
      if (!t || t.closed) continue;
      const stats = await t.getStats();
      const byId = new Map<string, Record<string, unknown>>();
      stats.forEach((s: Record<string, unknown>) => byId.set(String(s.id), s));
      // the pair the transport stats name as selected; else a nominated, succeeded pair
      const selectedIds = new Set<string>();
      stats.forEach((s: Record<string, unknown>) => {
        if (s.type === 'transport' && typeof s.selectedCandidatePairId === 'string') selectedIds.add(s.selectedCandidatePairId);
      });
      stats.forEach((s: Record<string, unknown>) => {
        if (s.type !== 'candidate-pair') return;
        const selected = selectedIds.size ? selectedIds.has(String(s.id)) : s.state === 'succeeded' && s.nominated === true;
        if (!selected) return;
        const local = byId.get(String(s.localCandidateId));
        if (local) types.push(String(local.candidateType));
      });
    }
    return types;
  }

  /** The last status computed (null before the first stats tick). */
  get connection(): CallConnectionStatus | null {
    return this.#lastStatus;
  }

  /** Whether a remote producer is paused by its owner (camera off or muted). */
  isProducerPaused(producerId: string): boolean {
    return this.#pausedProducers.has(producerId);
  }

  /** Computes the connection status now (also done, and emitted as 'connection', at every stats tick). */
  async connectionStatus(): Promise<CallConnectionStatus> {
    const transports: CallTransportStatus[] = [];
    for (const [direction, t] of [
      ['send', this.#send],
      ['recv', this.#recv],
    ] as const) {
      if (!t || t.closed) continue;
      const entry: CallTransportStatus = { direction, connectionState: t.connectionState };
      const stats = await t.getStats().catch(() => null);
      if (stats) {
        const byId = new Map<string, Record<string, unknown>>();
        stats.forEach((r: Record<string, unknown>) => byId.set(String(r.id), r));
        // The selected pair: the transport entry's selectedCandidatePairId, else a nominated succeeded pair.
        let selected: string | undefined;
        stats.forEach((r: Record<string, unknown>) => {
          // eslint-disable-next-line @typescript-eslint/no-base-to-string -- runtime input: WebRTC stats entries are untyped; String() of whatever the browser reports, as before
          if (r.type === 'transport' && r.selectedCandidatePairId) selected = String(r.selectedCandidatePairId);
        });
        stats.forEach((r: Record<string, unknown>) => {
          if (r.type !== 'candidate-pair') return;
          if (selected ? r.id !== selected : r.state !== 'succeeded' || !r.nominated) return;
          const local = byId.get(String(r.localCandidateId));
          const remote = byId.get(String(r.remoteCandidateId));
          // eslint-disable-next-line @typescript-eslint/no-base-to-string -- runtime input: WebRTC stats entries are untyped; String() of whatever the browser reports, as before
          if (local?.candidateType) entry.localCandidateType = String(local.candidateType);
          // eslint-disable-next-line @typescript-eslint/no-base-to-string -- runtime input: WebRTC stats entries are untyped; String() of whatever the browser reports, as before
          if (local?.protocol) entry.protocol = String(local.protocol);
          // eslint-disable-next-line @typescript-eslint/no-base-to-string -- runtime input: WebRTC stats entries are untyped; String() of whatever the browser reports, as before
          if (local?.relayProtocol) entry.relayProtocol = String(local.relayProtocol);
          // eslint-disable-next-line @typescript-eslint/no-base-to-string -- runtime input: WebRTC stats entries are untyped; String() of whatever the browser reports, as before
          if (remote?.address) entry.remoteAddress = String(remote.address);
        });
      }
      transports.push(entry);
    }
    const counters = { audioBytes: 0, videoBytes: 0, videoFrames: 0, received: 0, lost: 0 };
    let expectingAudio = false;
    let expectingVideo = false;
    for (const c of this.#consumers.values()) {
      if (c.consumer.closed) continue;
      const ownerPaused = this.#pausedProducers.has(c.info.producerId);
      if (c.info.kind === 'audio' && !ownerPaused) expectingAudio = true;
      if (c.info.kind === 'video' && !ownerPaused && !this.#selfAudioOnly) expectingVideo = true;
      const report = await c.consumer.getStats().catch(() => null);
      report?.forEach((r: Record<string, unknown>) => {
        if (r.type !== 'inbound-rtp') return;
        if (c.info.kind === 'audio') counters.audioBytes += Number(r.bytesReceived ?? 0);
        else {
          counters.videoBytes += Number(r.bytesReceived ?? 0);
          counters.videoFrames += Number(r.framesDecoded ?? 0);
        }
        counters.received += Number(r.packetsReceived ?? 0);
        counters.lost += Math.max(0, Number(r.packetsLost ?? 0));
      });
    }
    const prev = this.#lastInbound;
    this.#lastInbound = counters;
    const audioFlowing = !!prev && counters.audioBytes > prev.audioBytes;
    const videoFlowing = !!prev && counters.videoBytes > prev.videoBytes && counters.videoFrames > prev.videoFrames;
    const dReceived = prev ? counters.received - prev.received : 0;
    const dLost = prev ? counters.lost - prev.lost : 0;
    const lossFraction = dReceived + dLost > 0 ? Math.max(0, dLost) / (dReceived + dLost) : 0;
    const iceDown = transports.some((t) => t.connectionState === 'disconnected' || t.connectionState === 'failed');
    const iceUp = transports.length > 0 && transports.every((t) => t.connectionState === 'connected');
    let quality: CallQuality;
    if (this.#state === 'reconnecting' || iceDown) quality = 'reconnecting';
    else if (this.#state !== 'joined' || !iceUp) quality = 'connecting';
    else if (!expectingAudio && !expectingVideo) quality = 'waiting';
    else if (!prev) quality = 'connecting';
    else if (expectingAudio && !audioFlowing) quality = 'no-media';
    else if (this.#selfAudioOnly) quality = 'audio-only';
    else if ((expectingVideo && !videoFlowing) || lossFraction >= 0.05) quality = 'poor';
    else quality = 'good';
    const status: CallConnectionStatus = {
      quality,
      state: this.#state,
      audioOnly: this.#selfAudioOnly,
      transports,
      inbound: { audioFlowing, videoFlowing, expectingVideo, lossFraction },
    };
    this.#lastStatus = status;
    return status;
  }

  /** Sends a stats report now (also sent every statsIntervalMs). */
  async reportStats(): Promise<{ audioOnly: boolean; estimatedKbps: number | null }> {
    const report: ClientCallStats = {};
    const downlink = this.#options.downlinkKbps ? this.#options.downlinkKbps() : networkInformationKbps();
    if (downlink !== undefined && Number.isFinite(downlink) && downlink > 0) report.downlinkKbps = downlink;
    const out = await candidatePairBitrate(this.#send, 'availableOutgoingBitrate');
    if (out !== undefined) report.availableOutgoingBitrate = out;
    const inc = await candidatePairBitrate(this.#recv, 'availableIncomingBitrate');
    if (inc !== undefined) report.availableIncomingBitrate = inc;
    const sizes = [...this.#renderedSizes].filter(([id]) => this.#consumers.has(id)).map(([consumerId, s]) => ({ consumerId, ...s }));
    if (sizes.length) report.renderedSizes = sizes;
    const res = await this.#request('sfu:stats', report);
    this.#lastEstimateKbps = res.estimatedKbps;
    return { audioOnly: res.audioOnly, estimatedKbps: res.estimatedKbps };
  }

  /** Leaves the call, closes transports and stops local tracks. Idempotent. */
  async leave(): Promise<void> {
    if (this.#state === 'closed') return;
    const wasJoined = this.#join !== null;
    this.#setState('closed');
    if (this.#statsTimer) clearInterval(this.#statsTimer);
    if (wasJoined && this.#socket.connected) await this.#request('sfu:leave', {}).catch(() => undefined);
    this.#teardownMedia();
    for (const t of Object.values(this.#localTracks)) t.stop();
    for (const off of this.#offSocket.splice(0)) off();
    if (this.#ownsSocket) this.#socket.disconnect();
  }

  // ---- internals ----

  #emit<K extends keyof ConsultCallEvents>(event: K, payload: ConsultCallEvents[K]): void {
    for (const l of this.#listeners.get(event) ?? []) {
      try {
        (l as Listener<ConsultCallEvents[K]>)(payload);
      } catch (err) {
        console.error('ConsultCall listener failed', err);
      }
    }
  }

  #setState(state: CallState, reason?: string): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#emit('state', { state, ...(reason ? { reason } : {}) });
  }

  async #connectSocket(): Promise<void> {
    if (this.#socket.connected) return;
    await new Promise<void>((resolve, reject) => {
      const ok = () => {
        this.#socket.off('connect_error', fail);
        resolve();
      };
      const fail = (err: Error) => {
        this.#socket.off('connect', ok);
        reject(new Error(`cannot connect: ${err.message}`));
      };
      this.#socket.once('connect', ok);
      this.#socket.once('connect_error', fail);
      this.#socket.connect();
    });
  }

  #wireSocket(): void {
    const s = this.#socket;
    const on = <E extends keyof ServerToClientEvents>(event: E, listener: ServerToClientEvents[E]) => {
      (s.on as (e: string, l: unknown) => void)(event, listener);
      this.#offSocket.push(() => (s.off as (e: string, l: unknown) => void)(event, listener));
    };
    on('sfu:peer-joined', (peer) => {
      this.#peers.set(peer.peerId, peer);
      this.#emit('peer-joined', peer);
    });
    on('sfu:peer-left', (info) => {
      for (const [id, p] of this.#pendingProducers) if (p.peerId === info.peerId) this.#pendingProducers.delete(id);
      if (!this.#peers.delete(info.peerId)) return;
      for (const [id, c] of this.#consumers) if (c.info.peerId === info.peerId) this.#closeConsumer(id);
      this.#emit('peer-left', info);
    });
    on(
      'sfu:new-producer',
      (p) => void this.#consume(p).catch((err: unknown) => this.#emit('error', { message: `consume failed: ${String(err)}`, cause: err })),
    );
    on('sfu:producer-closed', ({ producerId }) => {
      this.#pendingProducers.delete(producerId);
      for (const [id, c] of this.#consumers) if (c.info.producerId === producerId) this.#closeConsumer(id);
    });
    on('sfu:consumer-closed', ({ consumerId }) => this.#closeConsumer(consumerId));
    on('sfu:producer-paused', (info) => {
      if (info.paused) this.#pausedProducers.add(info.producerId);
      else this.#pausedProducers.delete(info.producerId);
      this.#emit('producer-paused', info);
    });
    on('sfu:active-speaker', ({ peerId }) => this.#emit('active-speaker', { peerId }));
    on('sfu:audio-only', (info) => {
      const self = info.peerId === this.#join?.peerId;
      if (self) this.#selfAudioOnly = info.audioOnly;
      const peer = this.#peers.get(info.peerId);
      if (peer) peer.audioOnly = info.audioOnly;
      this.#emit('audio-only', { ...info, self });
    });
    on('sfu:rejoin', ({ reason, peerId }) => {
      if (peerId !== this.#join?.peerId) return; // about a session this client already left
      if (reason === 'session-replaced') {
        // This user joined from elsewhere (another tab or device): this session ends here.
        this.#teardownMedia();
        this.#join = null;
        this.#setState('replaced', reason);
        return;
      }
      void this.#rejoin(reason);
    });
    const onReconnect = () => {
      if (this.#join && this.#state !== 'closed' && this.#state !== 'replaced') void this.#reattachOrRejoin();
    };
    const onDisconnect = () => {
      if (this.#state === 'joined') this.#setState('reconnecting', 'socket-disconnected');
    };
    s.on('connect', onReconnect);
    s.on('disconnect', onDisconnect);
    this.#offSocket.push(
      () => s.off('connect', onReconnect),
      () => s.off('disconnect', onDisconnect),
    );
    const onNetworkChange = () => {
      if (this.#state === 'joined') void this.restartIce().catch(() => undefined);
    };
    if (typeof window !== 'undefined') {
      window.addEventListener('online', onNetworkChange);
      this.#offSocket.push(() => window.removeEventListener('online', onNetworkChange));
    }
    const connection = (navigator as Navigator & { connection?: EventTarget }).connection;
    if (connection?.addEventListener) {
      connection.addEventListener('change', onNetworkChange);
      this.#offSocket.push(() => connection.removeEventListener('change', onNetworkChange));
    }
  }

  async #acquireMedia(): Promise<void> {
    const media = this.#options.media ?? { audio: true, video: true };
    const given = this.#options.tracks ?? {};
    if (given.audio) this.#localTracks.audio = given.audio;
    if (given.video) this.#localTracks.video = given.video;
    const wantAudio = !given.audio && media.audio !== false && media.audio !== undefined;
    const wantVideo = !given.video && media.video !== false && media.video !== undefined;
    if (!wantAudio && !wantVideo) return;
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: wantAudio ? (media.audio === true ? { echoCancellation: true, noiseSuppression: true } : media.audio) : false,
      video: wantVideo ? (media.video === true ? { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24 } } : media.video) : false,
    });
    if (wantAudio) this.#localTracks.audio = stream.getAudioTracks()[0];
    if (wantVideo) this.#localTracks.video = stream.getVideoTracks()[0];
  }

  async #joinAndPublish(): Promise<void> {
    this.#setState('connecting');
    const joined = await this.#request('sfu:join', { consultId: this.consultId });
    this.#join = joined;
    this.#peers.clear();
    for (const p of joined.peers) this.#peers.set(p.peerId, p);
    if (!this.#device) {
      this.#device = new Device();
      await this.#device.load({ routerRtpCapabilities: joined.routerRtpCapabilities });
    }
    this.#send = this.#makeTransport(await this.#request('sfu:create-transport', { direction: 'send' }));
    this.#recv = this.#makeTransport(await this.#request('sfu:create-transport', { direction: 'recv' }));
    if (this.#localTracks.audio) await this.#produce('mic', this.#localTracks.audio);
    if (this.#localTracks.video) await this.#produce('camera', this.#localTracks.video);
    if (this.#localTracks.screen) await this.#produce('screen', this.#localTracks.screen);
    this.#setState('joined');
    const toConsume = new Map<string, CallProducerInfo>(joined.producers.map((p) => [p.producerId, p]));
    for (const [id, p] of this.#pendingProducers) toConsume.set(id, p);
    this.#pendingProducers.clear();
    for (const p of toConsume.values())
      await this.#consume(p).catch((err: unknown) => this.#emit('error', { message: `consume failed: ${String(err)}`, cause: err }));
  }

  #requireDevice(): Device {
    if (!this.#device) throw new Error('the mediasoup device is not loaded yet');
    return this.#device;
  }

  #makeTransport(created: CreatedTransport): msc.Transport {
    const device = this.#requireDevice();
    const params = {
      id: created.transportId,
      iceParameters: created.iceParameters as unknown as msc.IceParameters,
      iceCandidates: created.iceCandidates as unknown as msc.IceCandidate[],
      dtlsParameters: created.dtlsParameters as unknown as msc.DtlsParameters,
      iceServers: created.iceServers as RTCIceServer[],
      ...(this.#options.iceTransportPolicy ? { iceTransportPolicy: this.#options.iceTransportPolicy } : {}),
    };
    const transport = created.direction === 'send' ? device.createSendTransport(params) : device.createRecvTransport(params);
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.#request('sfu:connect-transport', { transportId: transport.id, dtlsParameters: dtlsParameters }).then(() => callback(), errback);
    });
    if (created.direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
        const source = (appData as { source: MediaSource }).source;
        this.#request('sfu:produce', { transportId: transport.id, kind, rtpParameters: rtpParameters, source }).then(
          ({ producerId }) => callback({ id: producerId }),
          errback,
        );
      });
    }
    let restartTimer: ReturnType<typeof setTimeout> | null = null;
    transport.on('connectionstatechange', (state) => {
      if ((state === 'disconnected' || state === 'failed') && !restartTimer && this.#state === 'joined') {
        // Give ICE a moment to recover by itself on 'disconnected'; restart at once on 'failed'.
        restartTimer = setTimeout(
          () => {
            restartTimer = null;
            if (transport.closed || transport.connectionState === 'connected') return;
            void this.#request('sfu:restart-ice', { transportId: transport.id })
              .then(({ iceParameters }) => transport.restartIce({ iceParameters: iceParameters as unknown as msc.IceParameters }))
              .catch(() => undefined);
          },
          state === 'failed' ? 0 : 2000,
        );
      }
    });
    return transport;
  }

  async #produce(source: MediaSource, track: MediaStreamTrack): Promise<void> {
    const transport = this.#send;
    if (!transport) throw new Error('no send transport');
    const producer = await transport.produce({
      track,
      appData: { source },
      stopTracks: false,
      ...(source === 'camera' ? { encodings: this.#options.simulcast ?? DEFAULT_SIMULCAST, codecOptions: { videoGoogleStartBitrate: 600 } } : {}),
      ...(source === 'mic' ? { codecOptions: { opusStereo: false, opusDtx: true, opusFec: true } } : {}),
    });
    this.#producers.set(source, producer);
  }

  async #consume(p: CallProducerInfo): Promise<void> {
    if (p.peerId === this.#join?.peerId) return;
    if (!this.#recv || !this.#device || this.#state !== 'joined') {
      this.#pendingProducers.set(p.producerId, p); // consumed once joined
      return;
    }
    if (this.#consuming.has(p.producerId)) return;
    for (const c of this.#consumers.values()) if (c.info.producerId === p.producerId) return;
    this.#consuming.add(p.producerId);
    try {
      await this.#consumeNow(p);
    } finally {
      this.#consuming.delete(p.producerId);
    }
  }

  async #consumeNow(p: CallProducerInfo): Promise<void> {
    const recv = this.#recv;
    const created = await this.#request('sfu:consume', { producerId: p.producerId, rtpCapabilities: this.#requireDevice().recvRtpCapabilities });
    if (!recv) throw new Error('no receive transport to consume on');
    const consumer = await recv.consume({
      id: created.consumerId,
      producerId: created.producerId,
      kind: created.kind,
      rtpParameters: created.rtpParameters as unknown as msc.RtpParameters,
      appData: { peerId: created.peerId, source: created.source },
    });
    if (created.producerPaused) this.#pausedProducers.add(created.producerId);
    else this.#pausedProducers.delete(created.producerId);
    const info: RemoteTrack = {
      consumerId: consumer.id,
      producerId: created.producerId,
      peerId: created.peerId,
      kind: created.kind,
      source: created.source,
      track: consumer.track,
    };
    this.#consumers.set(consumer.id, { consumer, info });
    await this.#request('sfu:resume', { type: 'consumer', id: consumer.id });
    this.#emit('track', info);
  }

  #closeConsumer(consumerId: string): void {
    const entry = this.#consumers.get(consumerId);
    if (!entry) return;
    this.#consumers.delete(consumerId);
    this.#renderObservers.get(consumerId)?.disconnect();
    this.#renderObservers.delete(consumerId);
    this.#renderedSizes.delete(consumerId);
    entry.consumer.close();
    this.#emit('track-ended', { consumerId, peerId: entry.info.peerId, kind: entry.info.kind, source: entry.info.source });
  }

  async #setProducerPaused(source: MediaSource, paused: boolean): Promise<void> {
    const producer = this.#producers.get(source);
    if (!producer) return;
    if (paused) producer.pause();
    else producer.resume();
    await this.#request(paused ? 'sfu:pause' : 'sfu:resume', { type: 'producer', id: producer.id });
  }

  /** Drops every transport, producer and consumer (local tracks are kept for a rejoin). */
  #teardownMedia(): void {
    this.#pendingProducers.clear();
    for (const id of [...this.#consumers.keys()]) this.#closeConsumer(id);
    for (const p of this.#producers.values()) p.close();
    this.#producers.clear();
    this.#send?.close();
    this.#recv?.close();
    this.#send = null;
    this.#recv = null;
    for (const peerId of [...this.#peers.keys()]) {
      const peer = this.#peers.get(peerId);
      if (!peer) continue;
      this.#peers.delete(peerId);
      this.#emit('peer-left', { peerId, userId: peer.userId, reason: 'disconnected' });
    }
  }

  /**
   * After a socket reconnect: the server keeps a dropped session (transports, producers,
   * consumers) for its grace period, so re-attach to it and keep the media running; only when the
   * session is gone (grace over, room closed) rebuild the call with a full rejoin.
   */
  async #reattachOrRejoin(): Promise<void> {
    if (this.#rejoining) return this.#rejoining;
    const peerId = this.#join?.peerId;
    const send = this.#send;
    const recv = this.#recv;
    if (peerId && send && recv && !send.closed && !recv.closed) {
      try {
        const res = await this.#request('sfu:resume-session', { consultId: this.consultId, peerId });
        if (this.#state === 'closed' || this.#state === 'replaced') return;
        this.#setState('joined');
        this.#reconcile(res);
        for (const t of [send, recv]) {
          if (t.connectionState === 'connected' || t.closed) continue;
          void this.#request('sfu:restart-ice', { transportId: t.id })
            .then(({ iceParameters }) => t.restartIce({ iceParameters: iceParameters as unknown as msc.IceParameters }))
            .catch(() => undefined);
        }
        return;
      } catch (err) {
        this.#emit('error', { message: `could not resume the call session, joining again: ${String(err)}`, cause: err });
      }
    }
    return this.#rejoin('socket-reconnected');
  }

  /** Brings peers, consumers and producers in line with what the server holds after a re-attach. */
  #reconcile(res: ResumeCallResult): void {
    this.#selfAudioOnly = res.audioOnly;
    const alive = new Set(res.consumerIds);
    for (const id of [...this.#consumers.keys()]) if (!alive.has(id)) this.#closeConsumer(id);
    const now = new Map(res.peers.map((p) => [p.peerId, p]));
    for (const [peerId, peer] of [...this.#peers]) {
      if (now.has(peerId)) continue;
      this.#peers.delete(peerId);
      for (const [id, c] of this.#consumers) if (c.info.peerId === peerId) this.#closeConsumer(id);
      this.#emit('peer-left', { peerId, userId: peer.userId, reason: 'disconnected' });
    }
    for (const [peerId, peer] of now) {
      const known = this.#peers.has(peerId);
      this.#peers.set(peerId, peer);
      if (!known) this.#emit('peer-joined', peer);
    }
    for (const p of res.producers) {
      if (p.paused) this.#pausedProducers.add(p.producerId);
      else this.#pausedProducers.delete(p.producerId);
      void this.#consume(p).catch((err: unknown) => this.#emit('error', { message: `consume failed: ${String(err)}`, cause: err }));
    }
  }

  async #rejoin(reason: string): Promise<void> {
    if (this.#rejoining) return this.#rejoining;
    this.#rejoining = (async () => {
      this.#setState('reconnecting', reason);
      this.#teardownMedia();
      for (let attempt = 0; this.#state === 'reconnecting'; attempt++) {
        try {
          await this.#connectSocket();
          await this.#joinAndPublish();
          return;
        } catch (err) {
          this.#emit('error', { message: `rejoin failed: ${String(err)}`, cause: err });
          this.#teardownMedia();
          this.#setState('reconnecting', reason);
          await new Promise((r) => setTimeout(r, Math.min(8000, 500 * 2 ** attempt)));
        }
      }
    })().finally(() => {
      this.#rejoining = null;
    });
    return this.#rejoining;
  }

  #startStats(): void {
    const every = this.#options.statsIntervalMs ?? 2000;
    this.#statsTimer = setInterval(() => {
      if (this.#state === 'joined' && this.#socket.connected) void this.reportStats().catch(() => undefined);
      if (this.#state !== 'closed' && this.#state !== 'replaced') {
        void this.connectionStatus()
          .then((status) => this.#emit('connection', status))
          .catch(() => undefined);
      }
    }, every);
  }

  #request<E extends keyof ClientToServerEvents & `sfu:${string}`>(
    event: E,
    payload: Parameters<ClientToServerEvents[E]>[0],
  ): Promise<AckResult<Parameters<ClientToServerEvents[E]>[1]>> {
    return new Promise((resolve, reject) => {
      (this.#socket.timeout(15_000).emit as (e: string, p: unknown, cb: (err: Error | null, res: { ok: true } | AckError) => void) => void)(
        event,
        payload,
        (err, res) => {
          if (err) {
            reject(new CallRequestError(event, 'no answer from the server'));
            return;
          }
          if (!res.ok) {
            reject(new CallRequestError(event, res.message, res.error));
            return;
          }
          resolve(res as AckResult<Parameters<ClientToServerEvents[E]>[1]>);
        },
      );
    });
  }
}

/** The success payload of an Ack<T> callback type. */
type AckResult<A> = A extends (response: infer R) => void ? Extract<R, { ok: true }> : never;

function networkInformationKbps(): number | undefined {
  const c = (navigator as Navigator & { connection?: { downlink?: number } }).connection;
  return typeof c?.downlink === 'number' && c.downlink > 0 ? c.downlink * 1000 : undefined;
}

async function candidatePairBitrate(
  transport: msc.Transport | null,
  field: 'availableOutgoingBitrate' | 'availableIncomingBitrate',
): Promise<number | undefined> {
  if (!transport || transport.closed) return undefined;
  const stats = await transport.getStats().catch(() => null);
  if (!stats) return undefined;
  let value: number | undefined;
  stats.forEach((s: { type: string; state?: string; nominated?: boolean; [k: string]: unknown }) => {
    if (s.type === 'candidate-pair' && s.state === 'succeeded' && s.nominated && typeof s[field] === 'number') value = s[field];
  });
  return value;
}

import { randomUUID } from 'node:crypto';
import type { types as ms } from 'mediasoup';
import type {
  ClientCallStats,
  CreatedConsumer,
  CreatedTransport,
  JoinCallResult,
  MediaKind,
  MediaSource,
  MediasoupJson,
  PeerLeftReason,
  ResumeCallResult,
  TransportDirection,
  CallPeerInfo,
  CallProducerInfo,
} from '../../contracts/sfu-api';
import type { SfuServerToClientEvents } from '../../contracts/sfu-events';
import { DomainError } from '../platform/errors';
import type { Logger } from '../observability/logger';
import type { BandwidthPolicy } from './bandwidth-policy';
import { CallPeer, type CallNotifier, type ConsumerState, type ProducerAppData } from './call-peer';
import type { SfuConfig } from './config';
import { iceServersFor } from './turn';

/**
 * Why a call request was refused: the code of its ack `{ok: false, error: code, message}`. Most are
 * states a well-behaved client meets in a race (its session just ended, an id just closed, still
 * waiting for the host): 409, which costs no strike. Protocol misuse (400) and admission refusals
 * (403) cost one from the socket's strike budget, as any other refused event does.
 */
const CALL_REFUSALS = {
  not_in_call: 409,
  waiting_for_host: 409,
  no_call: 409,
  gone: 409,
  busy: 409,
  unsupported: 409,
  invalid: 400,
  forbidden: 403,
  unavailable: 503,
} as const;
export type CallRefusal = keyof typeof CALL_REFUSALS;

/** A refused call request: a DomainError, so it acks (and counts) like every other refused event. */
export class CallError extends DomainError {
  constructor(message: string, code: CallRefusal = 'not_in_call') {
    super(CALL_REFUSALS[code], code, message);
  }
}

export const MEDIA_CODECS: ms.RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000, parameters: { 'x-google-start-bitrate': 600 } },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
  },
];

/** `consult-ended`: the consult was closed, declined or cancelled; nobody is asked to rejoin. */
export type RoomCloseReason = 'room-closed' | 'worker-died' | 'shutdown' | 'consult-ended';

/** A room nobody is in is closed after this long (its router freed). */
const EMPTY_ROOM_TTL_MS = 60_000;

/** After an audio-only switch, how long the server-side estimate is left out (it needs to settle). */
const AUDIO_ONLY_SETTLE_MS = 10_000;
/** A client report older than this is ignored by the bandwidth policy. */
const CLIENT_REPORT_MAX_AGE_MS = 10_000;

/** A participant whose session is on another media node: known here by its piped producers. */
interface RemotePeer {
  info: CallPeerInfo;
  /** The node whose pipe brought it here. */
  via: string;
  producers: Map<string, ms.Producer<ProducerAppData>>;
}

/** What a room tells its pipes to other media nodes (server/sfu/room-pipes.ts) when its own sessions change. */
export interface RoomLinks {
  peerJoined(peer: CallPeerInfo): void;
  peerLeft(peerId: string, userId: string, reason: PeerLeftReason): void;
  /** A local session's audio-only mode changed (the other nodes show it on that participant). */
  peerAudioOnly(change: AudioOnlyChange): void;
  /** A producer appeared: a local session's (`via` null) or one piped in from node `via`. */
  producerAdded(producer: ms.Producer<ProducerAppData>, via: string | null): void;
  /** The room must stay open without sessions of its own (it is the hub other nodes pipe to). */
  keepsRoom(): boolean;
}

/** What `sfu:audio-only` tells the call about one participant. */
export type AudioOnlyChange = Parameters<SfuServerToClientEvents['sfu:audio-only']>[0];

/** A producer piped in from another node, as its node describes it. */
export interface PipedProducer {
  producerId: string;
  kind: MediaKind;
  rtpParameters: MediasoupJson;
  paused: boolean;
  source: MediaSource;
  peer: CallPeerInfo;
}

export interface ConsultCallRoomOptions {
  consultId: string;
  worker: ms.Worker;
  workerIndex: number;
  config: SfuConfig;
  policy: BandwidthPolicy;
  logger: Logger;
}

/**
 * The live call of one consult: one mediasoup router (on one worker), its peers, an active-speaker
 * observer and the periodic bandwidth policy. Create with `ConsultCallRoom.create`, end with `close`.
 */
export class ConsultCallRoom {
  readonly consultId: string;
  readonly workerIndex: number;
  readonly #router: ms.Router;
  readonly #speakers: ms.ActiveSpeakerObserver;
  readonly #config: SfuConfig;
  readonly #policy: BandwidthPolicy;
  readonly #logger: Logger;
  readonly #peers = new Map<string, CallPeer>();
  /** Participants on other media nodes (empty in one process). */
  readonly #remote = new Map<string, RemotePeer>();
  #links: RoomLinks | null = null;
  readonly #policyTimer: NodeJS.Timeout;
  #policyRunning = false;
  #emptySince: number | null = Date.now();
  #dominantPeerId: string | null = null;
  #closed = false;
  #onClose: Array<(reason: RoomCloseReason) => void> = [];

  static async create(options: ConsultCallRoomOptions): Promise<ConsultCallRoom> {
    const router = await options.worker.createRouter({ mediaCodecs: MEDIA_CODECS, appData: { consultId: options.consultId } });
    try {
      const speakers = await router.createActiveSpeakerObserver({ interval: 300 });
      return new ConsultCallRoom(options, router, speakers);
    } catch (err) {
      router.close();
      throw err;
    }
  }

  private constructor(options: ConsultCallRoomOptions, router: ms.Router, speakers: ms.ActiveSpeakerObserver) {
    this.consultId = options.consultId;
    this.workerIndex = options.workerIndex;
    this.#router = router;
    this.#speakers = speakers;
    this.#config = options.config;
    this.#policy = options.policy;
    this.#logger = options.logger.child({ consultId: options.consultId });
    this.#speakers.on('dominantspeaker', ({ producer }) => {
      const appData = producer.appData as ProducerAppData;
      this.#dominantPeerId = appData.peerId;
      this.#broadcast(null, 'sfu:active-speaker', { peerId: appData.peerId, producerId: producer.id });
    });
    this.#router.on('workerclose', () => this.close('worker-died'));
    this.#router.observer.on('close', () => {
      // The worker died (or the router was closed under us): the service re-creates the room.
      if (!this.#closed) this.close('room-closed');
    });
    this.#policyTimer = setInterval(() => void this.applyBandwidthPolicy(), this.#config.policyIntervalMs);
    this.#policyTimer.unref();
  }

  get closed(): boolean {
    return this.#closed;
  }

  get peerCount(): number {
    return this.#peers.size;
  }

  /** Participants on other media nodes this room knows of. */
  get remotePeerCount(): number {
    return this.#remote.size;
  }

  get consumerCount(): number {
    let n = 0;
    for (const p of this.#peers.values()) n += p.consumers.size;
    return n;
  }

  get routerRtpCapabilities(): ms.RtpCapabilities {
    return this.#router.rtpCapabilities;
  }

  peers(): CallPeer[] {
    return [...this.#peers.values()];
  }

  peer(peerId: string): CallPeer | undefined {
    return this.#peers.get(peerId);
  }

  onClose(listener: (reason: RoomCloseReason) => void): void {
    this.#onClose.push(listener);
  }

  /** The room's pipes to other media nodes (set once, when the room is created on a node with Redis). */
  setLinks(links: RoomLinks): void {
    this.#links = links;
  }

  /**
   * Adds a participant. A session of the same user already in the room is replaced: its
   * transports are closed, others are told it left, its socket is told it was replaced.
   */
  join(user: { userId: string; displayName: string; host: boolean }, notify: CallNotifier): { peer: CallPeer; result: JoinCallResult } {
    this.#assertOpen();
    for (const old of this.#peers.values()) {
      if (old.userId === user.userId) {
        old.notify('sfu:rejoin', { consultId: this.consultId, reason: 'session-replaced', peerId: old.peerId });
        this.removePeer(old.peerId, 'replaced');
      }
    }
    // The same user's session on another node (e.g. the one its client left when that node died) is replaced too.
    for (const old of [...this.#remote.values()]) if (old.info.userId === user.userId) this.removeRemotePeer(old.info.peerId, 'replaced');
    const peer = new CallPeer({ peerId: randomUUID(), ...user, notify });
    const others = this.peers();
    this.#peers.set(peer.peerId, peer);
    this.#broadcast(peer.peerId, 'sfu:peer-joined', peer.info());
    this.#links?.peerJoined(peer.info());
    this.#logger.info({ peerId: peer.peerId, peers: this.#peers.size }, 'peer joined call');
    return {
      peer,
      result: {
        consultId: this.consultId,
        peerId: peer.peerId,
        host: peer.host,
        routerRtpCapabilities: this.#router.rtpCapabilities,
        peers: [...others.map((p) => p.info()), ...this.#remoteInfos()],
        producers: [...others.flatMap((p) => [...p.producers.values()].map((pr) => producerInfo(pr))), ...this.#remoteProducerInfos()],
        iceServers: iceServersFor(user.userId, this.#config.turn),
        audioOnlyBelowKbps: this.#policy.audioOnlyBelowKbps,
        audioOnlyRecoverAboveKbps: this.#policy.audioOnlyRecoverAboveKbps,
      },
    };
  }

  /**
   * A session whose signalling dropped re-attaches on a new socket (its transports, producers and
   * consumers stayed up): what it may have missed meanwhile, to reconcile.
   */
  resume(peer: CallPeer, notify: CallNotifier): ResumeCallResult {
    this.#assertOpen();
    if (this.#peers.get(peer.peerId) !== peer || peer.closed) throw new CallError('this call session has ended; join again');
    peer.rebind(notify);
    const others = this.peers().filter((p) => p !== peer);
    this.#logger.info({ peerId: peer.peerId }, 'peer re-attached after a signalling drop');
    return {
      peerId: peer.peerId,
      peers: [...others.map((p) => p.info()), ...this.#remoteInfos()],
      producers: [...others.flatMap((p) => [...p.producers.values()].map((pr) => producerInfo(pr))), ...this.#remoteProducerInfos()],
      consumerIds: [...peer.consumers.keys()],
      audioOnly: peer.audioOnly,
    };
  }

  /** Closes a peer's media and tells the others. Idempotent. */
  removePeer(peerId: string, reason: PeerLeftReason): void {
    const peer = this.#peers.get(peerId);
    if (!peer) return;
    this.#peers.delete(peerId);
    const producers = [...peer.producers.values()];
    peer.close();
    for (const pr of producers) this.#broadcast(null, 'sfu:producer-closed', { producerId: pr.id, peerId });
    this.#broadcast(null, 'sfu:peer-left', { peerId, userId: peer.userId, reason });
    this.#links?.peerLeft(peerId, peer.userId, reason);
    if (this.#dominantPeerId === peerId) {
      this.#dominantPeerId = null;
      this.#broadcast(null, 'sfu:active-speaker', { peerId: null, producerId: null });
    }
    this.#logger.info({ peerId, reason, peers: this.#peers.size }, 'peer left call');
  }

  /**
   * A participant on another node (told by that node, or seen with its first piped producer).
   * Their arrival replaces this node's session of the same user, as a second join here would.
   */
  addRemotePeer(info: CallPeerInfo, via: string): void {
    if (this.#closed) return;
    const known = this.#remote.get(info.peerId);
    if (known) {
      known.via = via;
      return;
    }
    for (const old of [...this.#peers.values()]) {
      if (old.userId === info.userId) {
        old.notify('sfu:rejoin', { consultId: this.consultId, reason: 'session-replaced', peerId: old.peerId });
        this.removePeer(old.peerId, 'replaced');
      }
    }
    for (const old of [...this.#remote.values()]) if (old.info.userId === info.userId) this.removeRemotePeer(old.info.peerId, 'replaced');
    this.#remote.set(info.peerId, { info, via, producers: new Map() });
    this.#broadcast(null, 'sfu:peer-joined', info);
    this.#logger.info({ peerId: info.peerId, via }, 'peer on another media node joined call');
  }

  /** A participant on another node left (or its node is gone): its piped producers close. Idempotent. */
  removeRemotePeer(peerId: string, reason: PeerLeftReason): void {
    const remote = this.#remote.get(peerId);
    if (!remote) return;
    this.#remote.delete(peerId);
    for (const producer of [...remote.producers.values()]) {
      producer.close();
      this.#broadcast(null, 'sfu:producer-closed', { producerId: producer.id, peerId });
    }
    remote.producers.clear();
    this.#broadcast(null, 'sfu:peer-left', { peerId, userId: remote.info.userId, reason });
    if (this.#dominantPeerId === peerId) {
      this.#dominantPeerId = null;
      this.#broadcast(null, 'sfu:active-speaker', { peerId: null, producerId: null });
    }
    this.#logger.info({ peerId, reason }, 'peer on another media node left call');
  }

  /** A participant on another node switched to or from audio-only there: shown here as on their node. */
  setRemoteAudioOnly(change: AudioOnlyChange): void {
    const remote = this.#remote.get(change.peerId);
    if (!remote || this.#closed || remote.info.audioOnly === change.audioOnly) return;
    remote.info = { ...remote.info, audioOnly: change.audioOnly };
    this.#broadcast(null, 'sfu:audio-only', change);
  }

  /** Every participant that came through node `via`'s pipe (that pipe is gone). */
  removeRemotePeersVia(via: string, reason: PeerLeftReason): void {
    for (const r of [...this.#remote.values()]) if (r.via === via) this.removeRemotePeer(r.info.peerId, reason);
  }

  /** Who is in the call, here and on other nodes, with the node each came through (null: this one). */
  participants(): Array<{ info: CallPeerInfo; via: string | null }> {
    return [...this.peers().map((p) => ({ info: p.info(), via: null })), ...[...this.#remote.values()].map((r) => ({ info: r.info, via: r.via }))];
  }

  /** Every producer in the call, with the node it was piped in from (null: a session here). */
  producers(): Array<{ producer: ms.Producer<ProducerAppData>; peer: CallPeerInfo; via: string | null }> {
    return [
      ...this.peers().flatMap((p) => [...p.producers.values()].map((producer) => ({ producer, peer: p.info(), via: null }))),
      ...[...this.#remote.values()].flatMap((r) => [...r.producers.values()].map((producer) => ({ producer, peer: r.info, via: r.via }))),
    ];
  }

  /**
   * A pipe transport to another media node's router of this call: on the SFU's listen address,
   * announcing the address other nodes reach this one at, SRTP-protected (the link may cross
   * networks), with NACK/RTX so a lossy link between nodes is repaired.
   */
  async createPipeTransport(): Promise<ms.PipeTransport> {
    this.#assertOpen();
    return this.#router.createPipeTransport({
      listenInfo: {
        protocol: 'udp',
        ip: this.#config.listenIp,
        announcedAddress: this.#config.announcedAddress,
        portRange: { min: this.#config.rtcMinPort, max: this.#config.rtcMaxPort },
      },
      enableSrtp: true,
      enableRtx: true,
    });
  }

  /** Produces, on a pipe transport from node `via`, the producer that node piped (same id); this node's sessions can consume it. */
  async addPipedProducer(transport: ms.PipeTransport, via: string, piped: PipedProducer): Promise<void> {
    this.#assertOpen();
    this.addRemotePeer(piped.peer, via);
    const remote = this.#remote.get(piped.peer.peerId);
    if (!remote || remote.producers.has(piped.producerId)) return;
    const producer = await transport.produce<ProducerAppData>({
      id: piped.producerId,
      kind: piped.kind,
      rtpParameters: piped.rtpParameters as unknown as ms.RtpParameters,
      paused: piped.paused,
      appData: { peerId: piped.peer.peerId, userId: piped.peer.userId, source: piped.source },
    });
    // The peer left, or the room closed, while the producer was being created.
    if (this.#closed || this.#remote.get(piped.peer.peerId) !== remote) {
      producer.close();
      return;
    }
    remote.producers.set(producer.id, producer);
    producer.observer.on('close', () => remote.producers.delete(producer.id));
    if (producer.kind === 'audio') await this.#speakers.addProducer({ producerId: producer.id }).catch(() => undefined);
    this.#broadcast(null, 'sfu:new-producer', producerInfo(producer));
    this.#links?.producerAdded(producer, via);
  }

  /** A piped producer's source closed on its node. */
  closePipedProducer(producerId: string): void {
    for (const r of this.#remote.values()) {
      const producer = r.producers.get(producerId);
      if (!producer) continue;
      producer.close();
      r.producers.delete(producerId);
      this.#broadcast(null, 'sfu:producer-closed', { producerId, peerId: r.info.peerId });
      return;
    }
  }

  /** A piped producer's source was paused or resumed on its node (consumers here are told by mediasoup). */
  async setPipedProducerPaused(producerId: string, paused: boolean): Promise<void> {
    for (const r of this.#remote.values()) {
      const producer = r.producers.get(producerId);
      if (!producer) continue;
      if (paused) await producer.pause();
      else await producer.resume();
      return;
    }
  }

  #remoteInfos(): CallPeerInfo[] {
    return [...this.#remote.values()].map((r) => r.info);
  }

  #remoteProducerInfos(): CallProducerInfo[] {
    return [...this.#remote.values()].flatMap((r) => [...r.producers.values()].map((pr) => producerInfo(pr)));
  }

  async createTransport(peer: CallPeer, direction: TransportDirection): Promise<CreatedTransport> {
    this.#assertMember(peer);
    const existing = peer.transportOf(direction);
    if (existing) {
      // A client that re-negotiates from scratch: replace its transport of that direction.
      existing.close();
      peer.transports.delete(existing.id);
    }
    const listen = (protocol: 'udp' | 'tcp'): ms.TransportListenInfo => ({
      protocol,
      ip: this.#config.listenIp,
      announcedAddress: this.#config.announcedAddress,
      portRange: { min: this.#config.rtcMinPort, max: this.#config.rtcMaxPort },
    });
    const transport = await this.#router.createWebRtcTransport({
      listenInfos: [listen('udp'), listen('tcp')],
      enableUdp: true,
      enableTcp: true,
      preferUdp: true,
      initialAvailableOutgoingBitrate: this.#config.initialAvailableOutgoingBitrate,
      appData: { peerId: peer.peerId, direction },
    });
    if (peer.closed || this.#closed) {
      transport.close();
      throw new CallError('left the call');
    }
    if (direction === 'send') {
      await transport.setMaxIncomingBitrate(this.#config.maxIncomingBitrate).catch(() => undefined);
    } else if (this.#config.maxOutgoingKbps) {
      await transport.setMaxOutgoingBitrate(this.#config.maxOutgoingKbps * 1000);
    }
    peer.transports.set(transport.id, { transport, direction });
    transport.observer.on('close', () => peer.transports.delete(transport.id));
    transport.on('dtlsstatechange', (state) => {
      if (state === 'failed' || state === 'closed') this.#logger.warn({ peerId: peer.peerId, direction, state }, 'transport DTLS state');
    });
    return {
      transportId: transport.id,
      direction,
      iceParameters: transport.iceParameters as unknown as MediasoupJson,
      iceCandidates: transport.iceCandidates as unknown as MediasoupJson[],
      dtlsParameters: transport.dtlsParameters as unknown as MediasoupJson,
      iceServers: iceServersFor(peer.userId, this.#config.turn),
    };
  }

  async connectTransport(peer: CallPeer, transportId: string, dtlsParameters: MediasoupJson): Promise<void> {
    const { transport } = this.#transport(peer, transportId);
    await transport.connect({ dtlsParameters: dtlsParameters as unknown as ms.DtlsParameters });
  }

  async restartIce(peer: CallPeer, transportId: string): Promise<MediasoupJson> {
    const { transport } = this.#transport(peer, transportId);
    return await transport.restartIce();
  }

  async produce(peer: CallPeer, req: { transportId: string; kind: MediaKind; rtpParameters: MediasoupJson; source: MediaSource }): Promise<string> {
    const { transport, direction } = this.#transport(peer, req.transportId);
    if (direction !== 'send') throw new CallError('produce needs a send transport', 'invalid');
    if ((req.source === 'mic') !== (req.kind === 'audio')) throw new CallError(`source ${req.source} does not carry ${req.kind}`, 'invalid');
    for (const p of peer.producers.values()) {
      if (p.appData.source === req.source) throw new CallError(`already producing ${req.source}; close that producer first`, 'busy');
    }
    const producer = await transport.produce<ProducerAppData>({
      kind: req.kind,
      rtpParameters: req.rtpParameters as unknown as ms.RtpParameters,
      appData: { peerId: peer.peerId, userId: peer.userId, source: req.source },
    });
    if (peer.closed) {
      producer.close();
      throw new CallError('left the call');
    }
    peer.producers.set(producer.id, producer);
    producer.observer.on('close', () => peer.producers.delete(producer.id));
    if (producer.kind === 'audio') await this.#speakers.addProducer({ producerId: producer.id }).catch(() => undefined);
    this.#broadcast(peer.peerId, 'sfu:new-producer', producerInfo(producer));
    this.#links?.producerAdded(producer, null);
    return producer.id;
  }

  closeProducer(peer: CallPeer, producerId: string): void {
    const producer = peer.producers.get(producerId);
    if (!producer) throw new CallError('unknown producer', 'gone');
    producer.close();
    peer.producers.delete(producerId);
    this.#broadcast(null, 'sfu:producer-closed', { producerId, peerId: peer.peerId });
  }

  async consume(peer: CallPeer, producerId: string, rtpCapabilities: MediasoupJson): Promise<CreatedConsumer> {
    this.#assertMember(peer);
    const owner = this.#ownerOf(producerId);
    if (!owner) throw new CallError('unknown producer', 'gone');
    if (owner.peerId === peer.peerId) throw new CallError('cannot consume your own producer', 'invalid');
    const caps = rtpCapabilities as unknown as ms.RtpCapabilities;
    if (!this.#router.canConsume({ producerId, rtpCapabilities: caps })) throw new CallError('your device cannot receive this producer', 'unsupported');
    const transport = peer.transportOf('recv');
    if (!transport) throw new CallError('create a recv transport first', 'invalid');
    for (const c of peer.consumers.values()) if (c.consumer.producerId === producerId) throw new CallError('already consuming this producer', 'busy');
    const source = owner.producer.appData.source;
    const consumer = await transport.consume({ producerId, rtpCapabilities: caps, paused: true, appData: { peerId: peer.peerId, source } });
    if (peer.closed) {
      consumer.close();
      throw new CallError('left the call');
    }
    const state: ConsumerState = { consumer, producerPeerId: owner.peerId, source, clientPaused: true };
    peer.consumers.set(consumer.id, state);
    const forget = () => peer.consumers.delete(consumer.id);
    consumer.on('transportclose', forget);
    consumer.on('producerclose', () => {
      forget();
      peer.notify('sfu:consumer-closed', { consumerId: consumer.id, producerId });
    });
    consumer.on('producerpause', () => peer.notify('sfu:producer-paused', { producerId, peerId: owner.peerId, paused: true }));
    consumer.on('producerresume', () => peer.notify('sfu:producer-paused', { producerId, peerId: owner.peerId, paused: false }));
    if (consumer.kind === 'video' && consumer.type === 'simulcast') await this.#applyLayers(peer, state);
    return {
      consumerId: consumer.id,
      producerId,
      peerId: owner.peerId,
      kind: consumer.kind,
      source,
      rtpParameters: consumer.rtpParameters as unknown as MediasoupJson,
      paused: true,
      producerPaused: consumer.producerPaused,
      audioOnly: consumer.kind === 'video' && peer.audioOnly,
    };
  }

  async setPaused(peer: CallPeer, type: 'producer' | 'consumer', id: string, paused: boolean): Promise<void> {
    if (type === 'producer') {
      const producer = peer.producers.get(id);
      if (!producer) throw new CallError('unknown producer', 'gone');
      if (paused) await producer.pause();
      else await producer.resume();
      this.#broadcast(peer.peerId, 'sfu:producer-paused', { producerId: id, peerId: peer.peerId, paused });
      return;
    }
    const state = peer.consumers.get(id);
    if (!state) throw new CallError('unknown consumer', 'gone');
    state.clientPaused = paused;
    await this.#syncConsumerPaused(peer, state);
  }

  async setPreferredLayers(peer: CallPeer, consumerId: string, spatialLayer: number, temporalLayer?: number): Promise<void> {
    const state = peer.consumers.get(consumerId);
    if (!state) throw new CallError('unknown consumer', 'gone');
    if (state.consumer.kind !== 'video') throw new CallError('layers apply to video consumers', 'invalid');
    state.clientMaxSpatial = spatialLayer;
    state.clientTemporal = temporalLayer;
    state.appliedSpatial = undefined;
    await this.#applyLayers(peer, state);
  }

  /** A client's bandwidth and render-size report; applied at once. */
  async reportStats(peer: CallPeer, stats: ClientCallStats): Promise<{ audioOnly: boolean; estimatedKbps: number | null }> {
    this.#assertMember(peer);
    const reported = [stats.downlinkKbps, stats.availableIncomingBitrate !== undefined ? stats.availableIncomingBitrate / 1000 : undefined].filter(
      (v): v is number => typeof v === 'number' && v > 0,
    );
    if (reported.length) peer.reportClientKbps(Math.min(...reported));
    for (const r of stats.renderedSizes ?? []) {
      const state = peer.consumers.get(r.consumerId);
      if (state) state.renderedHeight = r.height;
    }
    await this.#sampleDownlinkDelay(peer); // with the periodic pass: a queue shows within about a second
    const estimatedKbps = await this.#applyPolicyTo(peer);
    return { audioOnly: peer.audioOnly, estimatedKbps };
  }

  /** One pass of the bandwidth policy over every peer (also runs on a timer). */
  async applyBandwidthPolicy(): Promise<void> {
    if (this.#policyRunning || this.#closed) return;
    if (this.#peers.size === 0) {
      // A hub keeps its router for the nodes piped to it; any other room without sessions of its own closes.
      if (this.#links?.keepsRoom()) {
        this.#emptySince = null;
        return;
      }
      this.#emptySince ??= Date.now();
      if (Date.now() - this.#emptySince > EMPTY_ROOM_TTL_MS) this.close('shutdown');
      return;
    }
    this.#emptySince = null;
    this.#policyRunning = true;
    try {
      for (const peer of this.peers()) {
        const recv = peer.transportOf('recv');
        if (recv && !recv.closed) {
          const stats = await recv.getStats().catch(() => []);
          const bps = stats[0]?.availableOutgoingBitrate;
          peer.serverKbps = typeof bps === 'number' && bps > 0 ? bps / 1000 : undefined;
        }
        await this.#sampleDownlinkDelay(peer);
        if (!peer.closed) await this.#applyPolicyTo(peer);
      }
    } catch (err) {
      this.#logger.warn({ err }, 'bandwidth policy pass failed');
    } finally {
      this.#policyRunning = false;
    }
  }

  /**
   * A plain RTP transport on this room's router, for tools rather than browsers (the capacity
   * bench's synthetic producers and consumers; a future recorder). Closed with the room.
   */
  async createPlainTransport(options: ms.PlainTransportOptions): Promise<ms.PlainTransport> {
    this.#assertOpen();
    return this.#router.createPlainTransport(options);
  }

  /** Room state for tests and metrics. */
  snapshot(): {
    consultId: string;
    workerIndex: number;
    peers: Array<{ peerId: string; userId: string; audioOnly: boolean; transports: number; producers: number; consumers: number }>;
  } {
    return {
      consultId: this.consultId,
      workerIndex: this.workerIndex,
      peers: this.peers().map((p) => ({
        peerId: p.peerId,
        userId: p.userId,
        audioOnly: p.audioOnly,
        transports: p.transports.size,
        producers: p.producers.size,
        consumers: p.consumers.size,
      })),
    };
  }

  /**
   * Ends the call: every peer is told to rejoin (`room-closed` when the router went away under
   * us, e.g. a dead worker) or simply that it ended, then the router is closed. Idempotent.
   */
  close(reason: RoomCloseReason = 'shutdown'): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#policyTimer);
    for (const peer of this.#peers.values()) {
      if (reason === 'room-closed' || reason === 'worker-died') peer.notify('sfu:rejoin', { consultId: this.consultId, reason, peerId: peer.peerId });
      else peer.notify('sfu:peer-left', { peerId: peer.peerId, userId: peer.userId, reason: 'room-closed' });
      peer.close();
    }
    this.#peers.clear();
    this.#remote.clear();
    if (!this.#router.closed) this.#router.close();
    for (const l of this.#onClose.splice(0)) l(reason);
  }

  /**
   * The receiver's downlink estimate. Right after an audio-only switch the server's send-side
   * estimate reflects the old traffic (video paused: nothing to probe with; video resumed: still
   * ramping up), so for AUDIO_ONLY_SETTLE_MS only the client's report counts (no flapping).
   */
  #estimateFor(peer: CallPeer): number | null {
    const settling = Date.now() - peer.audioOnlyChangedAt < AUDIO_ONLY_SETTLE_MS;
    return this.#policy.estimate(
      {
        clientKbps: peer.clientKbps(CLIENT_REPORT_MAX_AGE_MS),
        serverKbps: settling ? undefined : peer.serverKbps,
        ...(settling ? {} : { videoScore: this.#videoScoreOf(peer) }),
      },
      peer.audioOnly,
    );
  }

  /**
   * The receiver's worst forwarded video, from its own RTCP receiver reports (mediasoup consumer
   * score), and whether it is already on the lowest layer. Undefined without unpaused video.
   */
  #videoScoreOf(peer: CallPeer): { score: number; atLowestLayer: boolean } | undefined {
    let worst: { score: number; atLowestLayer: boolean } | undefined;
    for (const s of peer.consumers.values()) {
      const c = s.consumer;
      if (c.closed || c.kind !== 'video' || c.paused || c.producerPaused) continue;
      const atLowestLayer = c.type !== 'simulcast' || (c.currentLayers?.spatialLayer ?? s.appliedSpatial ?? 0) === 0;
      if (!worst || c.score.score < worst.score) worst = { score: c.score.score, atLowestLayer };
    }
    return worst;
  }

  /**
   * One round-trip sample of what this room forwards to `peer` (mediasoup's figure from the
   * receiver's RTCP reports), from a flowing consumer, audio first: audio keeps flowing while the
   * receiver is audio only, and a paused stream's figure is stale.
   */
  async #sampleDownlinkDelay(peer: CallPeer): Promise<void> {
    const flowing = [...peer.consumers.values()]
      .map((s) => s.consumer)
      .filter((c) => !c.closed && !c.paused && !c.producerPaused)
      .sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'audio' ? -1 : 1));
    for (const consumer of flowing) {
      const stats = await consumer.getStats().catch(() => []);
      const rtt = stats.find((s) => s.type === 'outbound-rtp')?.roundTripTime;
      if (typeof rtt === 'number' && rtt > 0) {
        peer.downlinkDelay.record(rtt);
        return;
      }
    }
  }

  /** Whether `peer`'s downlink holds a standing queue, from the samples of about the last two policy passes. */
  #downlinkQueueing(peer: CallPeer, now = Date.now()): boolean | undefined {
    return peer.downlinkDelay.queueing(2.5 * this.#config.policyIntervalMs, now);
  }

  async #applyPolicyTo(peer: CallPeer): Promise<number | null> {
    const estimatedKbps = this.#estimateFor(peer);
    let next = this.#policy.nextAudioOnly(peer.audioOnly, estimatedKbps);
    if (next && !peer.audioOnly) {
      const client = peer.clientKbps(CLIENT_REPORT_MAX_AGE_MS);
      const clientBelow = client !== undefined && client < this.#policy.audioOnlyBelowKbps;
      const now = Date.now();
      if (!clientBelow) peer.serverLowSince ??= now;
      const video = this.#videoScoreOf(peer);
      next = this.#policy.switchToAudioOnly({
        estimatedKbps,
        clientBelow,
        ...(video ? { videoScore: video } : {}),
        queueing: this.#downlinkQueueing(peer, now),
        serverLowForMs: peer.serverLowSince === null ? 0 : now - peer.serverLowSince,
        ...(this.#config.maxOutgoingKbps !== undefined ? { capKbps: this.#config.maxOutgoingKbps } : {}),
      });
    } else if (!peer.audioOnly) {
      peer.serverLowSince = null;
    }
    if (next) peer.serverLowSince = null;
    if (next && peer.audioOnly) await this.#stepVideoTrial(peer);
    if (next !== peer.audioOnly) {
      peer.audioOnly = next;
      this.#logger.info(
        { peerId: peer.peerId, audioOnly: next, estimatedKbps, serverKbps: peer.serverKbps, videoScore: this.#videoScoreOf(peer) },
        'audio-only switch',
      );
      for (const state of peer.consumers.values()) if (state.consumer.kind === 'video') await this.#syncConsumerPaused(peer, state);
      const change: AudioOnlyChange = {
        peerId: peer.peerId,
        audioOnly: next,
        reason: next ? 'low-bandwidth' : 'recovered',
        estimatedKbps: Math.round(estimatedKbps ?? 0),
      };
      this.#broadcast(null, 'sfu:audio-only', change);
      this.#links?.peerAudioOnly(change);
    }
    if (!peer.audioOnly) {
      for (const state of peer.consumers.values()) {
        if (state.consumer.kind === 'video' && state.consumer.type === 'simulcast') await this.#applyLayers(peer, state, estimatedKbps);
      }
    }
    return estimatedKbps;
  }

  async #applyLayers(peer: CallPeer, state: ConsumerState, estimatedKbps?: number | null): Promise<void> {
    const consumer = state.consumer;
    if (consumer.closed || consumer.kind !== 'video') return;
    const estimate = estimatedKbps !== undefined ? estimatedKbps : this.#estimateFor(peer);
    let videoConsumers = 0;
    let audioConsumers = 0;
    for (const s of peer.consumers.values()) {
      if (s.consumer.kind === 'video' && !s.consumer.paused) videoConsumers++;
      else if (s.consumer.kind === 'audio') audioConsumers++;
    }
    const availableLayers = consumer.type === 'simulcast' ? consumer.rtpParameters.encodings?.[0]?.scalabilityMode?.match(/^[LS](\d+)/)?.[1] : undefined;
    const spatial = this.#policy.spatialLayerFor({
      estimatedKbps: estimate,
      videoConsumers: Math.max(1, videoConsumers),
      audioConsumers,
      renderedHeight: state.renderedHeight,
      clientMaxSpatial: state.clientMaxSpatial,
      availableLayers: availableLayers ? Number(availableLayers) : 3,
    });
    if (spatial === state.appliedSpatial) return;
    state.appliedSpatial = spatial;
    await consumer
      .setPreferredLayers({ spatialLayer: spatial, ...(state.clientTemporal !== undefined ? { temporalLayer: state.clientTemporal } : {}) })
      .catch(() => undefined);
  }

  /** A video trial while `peer` stays audio only (VideoTrial): the lowest layer resumed, or paused again. */
  async #stepVideoTrial(peer: CallPeer): Promise<void> {
    const cap = this.#config.maxOutgoingKbps;
    if (cap !== undefined && cap < this.#policy.audioOnlyRecoverAboveKbps) return; // the server's own cap: no trial can recover
    const video = this.#videoScoreOf(peer);
    const step = peer.videoTrial.step({
      queueing: this.#downlinkQueueing(peer),
      lowestLayerLost: this.#policy.scoreCeilingKbps(video) !== undefined,
    });
    if (!step) return;
    this.#logger.info({ peerId: peer.peerId, step, serverKbps: peer.serverKbps, videoScore: video }, 'audio-only video trial');
    for (const state of peer.consumers.values()) {
      if (state.consumer.kind !== 'video' || state.consumer.closed) continue;
      if (step === 'start' && state.consumer.type === 'simulcast') {
        state.appliedSpatial = 0;
        await state.consumer.setPreferredLayers({ spatialLayer: 0 }).catch(() => undefined);
      }
      await this.#syncConsumerPaused(peer, state);
    }
  }

  async #syncConsumerPaused(peer: CallPeer, state: ConsumerState): Promise<void> {
    const shouldPause = state.clientPaused || (state.consumer.kind === 'video' && peer.audioOnly && !peer.videoTrial.active);
    if (state.consumer.closed) return;
    if (shouldPause && !state.consumer.paused) await state.consumer.pause();
    else if (!shouldPause && state.consumer.paused) {
      await state.consumer.resume();
      if (state.consumer.kind === 'video') await state.consumer.requestKeyFrame().catch(() => undefined);
    }
  }

  #ownerOf(producerId: string): { peerId: string; producer: ms.Producer<ProducerAppData> } | undefined {
    for (const peer of this.#peers.values()) {
      const producer = peer.producers.get(producerId);
      if (producer) return { peerId: peer.peerId, producer };
    }
    for (const r of this.#remote.values()) {
      const producer = r.producers.get(producerId);
      if (producer) return { peerId: r.info.peerId, producer };
    }
    return undefined;
  }

  #transport(peer: CallPeer, transportId: string): { transport: ms.WebRtcTransport; direction: TransportDirection } {
    this.#assertMember(peer);
    const t = peer.transports.get(transportId);
    if (!t) throw new CallError('unknown transport', 'gone');
    return t;
  }

  #assertOpen(): void {
    if (this.#closed) throw new CallError('this call has ended; join again');
  }

  #assertMember(peer: CallPeer): void {
    this.#assertOpen();
    if (peer.closed || this.#peers.get(peer.peerId) !== peer) throw new CallError('not in this call; join again');
  }

  #broadcast<E extends Parameters<CallNotifier>[0]>(exceptPeerId: string | null, event: E, ...args: Parameters<SfuServerToClientEvents[E]>): void {
    for (const peer of this.#peers.values()) {
      if (peer.peerId === exceptPeerId) continue;
      try {
        (peer.notify as (e: E, ...a: typeof args) => void)(event, ...args);
      } catch (err) {
        this.#logger.warn({ err, peerId: peer.peerId, event }, 'notify failed');
      }
    }
  }
}

function producerInfo(producer: ms.Producer<ProducerAppData>): CallProducerInfo {
  return {
    producerId: producer.id,
    peerId: producer.appData.peerId,
    userId: producer.appData.userId,
    kind: producer.kind,
    source: producer.appData.source,
    paused: producer.paused,
  };
}

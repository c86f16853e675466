/**
 * Shared types of the live consult call (server/sfu and the browser module client/src/call).
 * mediasoup's own parameter objects travel as opaque JSON here (`MediasoupJson`): the server and
 * mediasoup-client each cast them to their library's types; the server validates their shape.
 */

/** An opaque mediasoup parameter object (RTP capabilities, RTP parameters, DTLS/ICE parameters, candidates). */
export type MediasoupJson = Record<string, unknown>;

export type MediaKind = 'audio' | 'video';
/** What a producer carries: the microphone, the camera, or a shared screen (a second video producer). */
export type MediaSource = 'mic' | 'camera' | 'screen';
export type TransportDirection = 'send' | 'recv';

/** An RTCIceServer as the browser takes it. TURN entries carry time-limited HMAC credentials. */
export interface IceServerInfo {
  urls: string[];
  username?: string;
  credential?: string;
}

export interface CallPeerInfo {
  peerId: string;
  userId: string;
  displayName: string;
  host: boolean;
  /** The peer's own video is not forwarded to them (their downlink is too thin). */
  audioOnly: boolean;
}

export interface CallProducerInfo {
  producerId: string;
  peerId: string;
  userId: string;
  kind: MediaKind;
  source: MediaSource;
  paused: boolean;
}

export interface JoinCallResult {
  consultId: string;
  /** This session's peer id (a new one on every join; a rejoin replaces the old session). */
  peerId: string;
  host: boolean;
  routerRtpCapabilities: MediasoupJson;
  /** Peers already in the call (not including the caller). */
  peers: CallPeerInfo[];
  /** Producers already in the call (not including the caller's own). */
  producers: CallProducerInfo[];
  iceServers: IceServerInfo[];
  /** The audio-only thresholds in force, for display. */
  audioOnlyBelowKbps: number;
  audioOnlyRecoverAboveKbps: number;
}

/** Answer to `sfu:resume-session`: the session kept its media; what changed while signalling was down. */
export interface ResumeCallResult {
  peerId: string;
  /** Peers in the call now (not including the caller). */
  peers: CallPeerInfo[];
  /** Other participants' producers now. */
  producers: CallProducerInfo[];
  /** The caller's consumers the server still holds (others were closed meanwhile). */
  consumerIds: string[];
  audioOnly: boolean;
}

export interface CreatedTransport {
  transportId: string;
  direction: TransportDirection;
  iceParameters: MediasoupJson;
  iceCandidates: MediasoupJson[];
  dtlsParameters: MediasoupJson;
  iceServers: IceServerInfo[];
}

export interface CreatedConsumer {
  consumerId: string;
  producerId: string;
  peerId: string;
  kind: MediaKind;
  source: MediaSource;
  rtpParameters: MediasoupJson;
  /** Always true: the server creates consumers paused; the client resumes once its track is wired. */
  paused: boolean;
  /** The sender has paused this producer (camera off, microphone muted). */
  producerPaused: boolean;
  /** Video paused server-side because this receiver is in audio-only mode. */
  audioOnly: boolean;
}

/** What the client reports every few seconds (`sfu:stats`). */
export interface ClientCallStats {
  /** The client's downlink estimate in kbps (e.g. navigator.connection.downlink, or a measured value). */
  downlinkKbps?: number;
  /** RTCIceCandidatePairStats.availableOutgoingBitrate of the send transport (bps): the uplink estimate. */
  availableOutgoingBitrate?: number;
  /** RTCIceCandidatePairStats.availableIncomingBitrate of the recv transport (bps), where the browser gives it. */
  availableIncomingBitrate?: number;
  /** Size at which each remote video is rendered, CSS pixels × devicePixelRatio. */
  renderedSizes?: Array<{ consumerId: string; width: number; height: number }>;
}

export type AudioOnlyReason = 'low-bandwidth' | 'recovered';
export type PeerLeftReason = 'left' | 'disconnected' | 'replaced' | 'removed' | 'room-closed';

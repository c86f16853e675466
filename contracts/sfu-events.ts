/**
 * socket.io events of the live consult call (owned by server/sfu). Every client → server event
 * takes a payload and an acknowledgement; payloads are validated on the server (a client sending
 * invalid payloads beyond a small budget is disconnected).
 *
 * Flow: `sfu:join` → load the device with `routerRtpCapabilities` → `sfu:create-transport` (send,
 * recv) → `sfu:connect-transport` on the transport's `connect` → `sfu:produce` → for each producer
 * (`producers` of the join result and every `sfu:new-producer`) `sfu:consume`, then
 * `sfu:resume {type: 'consumer'}` once the track is attached. Report `sfu:stats` every few seconds.
 */
import type { Ack } from './events';
import type {
  AudioOnlyReason,
  CallPeerInfo,
  CallProducerInfo,
  ClientCallStats,
  CreatedConsumer,
  ResumeCallResult,
  CreatedTransport,
  JoinCallResult,
  MediaKind,
  MediaSource,
  MediasoupJson,
  PeerLeftReason,
  TransportDirection,
} from './sfu-api';

export interface SfuServerToClientEvents {
  /** Another peer started producing; consume it with `sfu:consume`. */
  'sfu:new-producer': (info: CallProducerInfo) => void;
  'sfu:producer-closed': (info: { producerId: string; peerId: string }) => void;
  /** A consumer of this client was closed by the server (its producer left, or the peer was replaced). */
  'sfu:consumer-closed': (info: { consumerId: string; producerId: string }) => void;
  'sfu:producer-paused': (info: { producerId: string; peerId: string; paused: boolean }) => void;
  'sfu:peer-joined': (peer: CallPeerInfo) => void;
  'sfu:peer-left': (info: { peerId: string; userId: string; reason: PeerLeftReason }) => void;
  /** The dominant speaker changed (null when the room went quiet or the speaker left). */
  'sfu:active-speaker': (info: { peerId: string | null; producerId: string | null }) => void;
  /** A peer's video forwarding was switched off (audio keeps flowing) or back on. Shown to everybody. */
  'sfu:audio-only': (info: { peerId: string; audioOnly: boolean; reason: AudioOnlyReason; estimatedKbps: number }) => void;
  /**
   * The media server of this call restarted (`worker-died`, `room-closed`): join again. Or this
   * session (`peerId`) was replaced by a newer join of the same user (`session-replaced`): end it.
   */
  'sfu:rejoin': (info: { consultId: string; peerId: string; reason: 'worker-died' | 'session-replaced' | 'room-closed' }) => void;
}

export interface SfuClientToServerEvents {
  'sfu:join': (req: { consultId: string }, ack: Ack<JoinCallResult>) => void;
  'sfu:create-transport': (req: { direction: TransportDirection }, ack: Ack<CreatedTransport>) => void;
  'sfu:connect-transport': (req: { transportId: string; dtlsParameters: MediasoupJson }, ack: Ack) => void;
  'sfu:produce': (req: { transportId: string; kind: MediaKind; rtpParameters: MediasoupJson; source: MediaSource }, ack: Ack<{ producerId: string }>) => void;
  'sfu:close-producer': (req: { producerId: string }, ack: Ack) => void;
  'sfu:consume': (req: { producerId: string; rtpCapabilities: MediasoupJson }, ack: Ack<CreatedConsumer>) => void;
  'sfu:pause': (req: { type: 'producer' | 'consumer'; id: string }, ack: Ack) => void;
  'sfu:resume': (req: { type: 'producer' | 'consumer'; id: string }, ack: Ack) => void;
  /** An upper bound on the layers the server may pick for this consumer (the server may pick lower). */
  'sfu:set-preferred-layers': (req: { consumerId: string; spatialLayer: number; temporalLayer?: number }, ack: Ack) => void;
  'sfu:restart-ice': (req: { transportId: string }, ack: Ack<{ iceParameters: MediasoupJson }>) => void;
  'sfu:stats': (req: ClientCallStats, ack: Ack<{ audioOnly: boolean; estimatedKbps: number | null }>) => void;
  'sfu:leave': (req: Record<string, never>, ack: Ack) => void;
  /** Re-attach to a session kept through a signalling drop (within SFU_RECONNECT_GRACE_S), instead of rejoining. */
  'sfu:resume-session': (req: { consultId: string; peerId: string }, ack: Ack<ResumeCallResult>) => void;
}

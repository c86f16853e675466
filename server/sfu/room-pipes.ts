/**
 * One consult call's pipes between media nodes, as mediasoup's own `pipeToRouter` does it within
 * one process, but across processes: a PipeTransport on each side, their addresses and SRTP keys
 * exchanged over Redis (MediaNodes), each producer consumed on the source side's pipe transport
 * and produced with the same id on the destination's, its close and pause followed.
 *
 * The call's owning node (SET NX in Redis) is the hub: every other node with participants of the
 * call pipes to it alone; the hub pipes each producer to every node but the one it came from.
 * Participants are admitted only by the node that holds their socket (SfuService.join: the consult
 * directory's one decision, audited); a pipe carries media and who is in the call, no admission.
 */
import type { types as ms } from 'mediasoup';
import { z } from 'zod';
import type { CallPeerInfo, PeerLeftReason } from '../../contracts/sfu-api';
import type { Logger } from '../observability/logger';
import type { ProducerAppData } from './call-peer';
import type { AudioOnlyChange, ConsultCallRoom, RoomCloseReason, RoomLinks } from './consult-call-room';
import { NODE_HEARTBEAT_MS, type MediaNodes } from './media-nodes';

const peerInfo = z.object({ peerId: z.string(), userId: z.string(), displayName: z.string(), host: z.boolean(), audioOnly: z.boolean() });
const pipeEnd = z.object({
  address: z.string(),
  port: z.number().int().min(1).max(65535),
  srtp: z.object({
    cryptoSuite: z.enum(['AEAD_AES_256_GCM', 'AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32']),
    keyBase64: z.string(),
  }),
});
const peerLeftReason = z.enum(['left', 'disconnected', 'replaced', 'removed', 'room-closed']);

/** What nodes send each other about one call (every message names it: `consultId`). */
export const pipeMessages = {
  attach: pipeEnd.extend({ consultId: z.string(), participants: z.array(peerInfo) }),
  'peer-joined': z.object({ consultId: z.string(), peer: peerInfo }),
  'peer-left': z.object({ consultId: z.string(), peerId: z.string(), userId: z.string(), reason: peerLeftReason }),
  'peer-audio-only': z.object({
    consultId: z.string(),
    peerId: z.string(),
    audioOnly: z.boolean(),
    reason: z.enum(['low-bandwidth', 'recovered']),
    estimatedKbps: z.number().int().min(0),
  }),
  produce: z.object({
    consultId: z.string(),
    producerId: z.string(),
    kind: z.enum(['audio', 'video']),
    rtpParameters: z.record(z.string(), z.unknown()),
    paused: z.boolean(),
    source: z.enum(['mic', 'camera', 'screen']),
    peer: peerInfo,
  }),
  'producer-closed': z.object({ consultId: z.string(), producerId: z.string() }),
  'producer-paused': z.object({ consultId: z.string(), producerId: z.string(), paused: z.boolean() }),
  detach: z.object({ consultId: z.string(), reason: z.string() }),
} as const;
export type PipeMethod = keyof typeof pipeMessages;
const attachAnswer = pipeEnd.extend({ participants: z.array(peerInfo) });

interface Link {
  node: string;
  transport: ms.PipeTransport;
  /** Pipe consumers of this node's producers, by producer id. */
  out: Map<string, ms.Consumer>;
}

export class RoomPipes implements RoomLinks {
  readonly #room: ConsultCallRoom;
  readonly #nodes: MediaNodes;
  readonly #logger: Logger;
  readonly #links = new Map<string, Link>();
  /** This node owns the call: the others pipe to it. */
  #hub = false;
  /** The owner this node pipes to (when it is not the hub). */
  #upstream: string | null = null;
  /** Incoming messages and this side's own changes of role, one at a time, in order. */
  #queue: Promise<unknown> = Promise.resolve();
  readonly #timer: NodeJS.Timeout;
  #closed = false;
  /** Settles once this node has found its place in the call (hub, or piped to it), or failed to for now. */
  readonly ready: Promise<void>;

  constructor(room: ConsultCallRoom, nodes: MediaNodes, logger: Logger) {
    this.#room = room;
    this.#nodes = nodes;
    this.#logger = logger.child({ part: 'room-pipes', consultId: room.consultId });
    room.setLinks(this);
    this.ready = this.#serially(() => this.#settle());
    this.#timer = setInterval(() => void this.#serially(() => this.#tick()), NODE_HEARTBEAT_MS);
    this.#timer.unref();
  }

  get consultId(): string {
    return this.#room.consultId;
  }

  /** For tests and the logs: this node's role and the nodes it pipes with. */
  state(): { hub: boolean; upstream: string | null; links: string[] } {
    return { hub: this.#hub, upstream: this.#upstream, links: [...this.#links.keys()] };
  }

  /** A message from another node about this call. */
  handle(from: string, method: PipeMethod, body: unknown): Promise<unknown> {
    return this.#serially(async () => {
      if (this.#closed || this.#room.closed) throw new Error('this call is not on this node');
      switch (method) {
        case 'attach':
          return this.#onAttach(from, pipeMessages.attach.parse(body));
        case 'peer-joined': {
          const m = pipeMessages['peer-joined'].parse(body);
          if (!this.#links.has(from)) return null;
          this.#room.addRemotePeer(m.peer, from);
          this.#forward(from, 'peer-joined', m);
          return null;
        }
        case 'peer-left': {
          const m = pipeMessages['peer-left'].parse(body);
          if (!this.#links.has(from)) return null;
          this.#room.removeRemotePeer(m.peerId, m.reason);
          this.#forward(from, 'peer-left', m);
          return null;
        }
        case 'peer-audio-only': {
          const { consultId: _, ...change } = pipeMessages['peer-audio-only'].parse(body);
          if (!this.#links.has(from)) return null;
          this.#room.setRemoteAudioOnly(change);
          this.#forward(from, 'peer-audio-only', body);
          return null;
        }
        case 'produce': {
          const m = pipeMessages.produce.parse(body);
          const link = this.#links.get(from);
          if (!link) return null;
          await this.#room.addPipedProducer(link.transport, from, m);
          return null;
        }
        case 'producer-closed':
          this.#room.closePipedProducer(pipeMessages['producer-closed'].parse(body).producerId);
          return null;
        case 'producer-paused': {
          const m = pipeMessages['producer-paused'].parse(body);
          await this.#room.setPipedProducerPaused(m.producerId, m.paused);
          return null;
        }
        case 'detach': {
          const m = pipeMessages.detach.parse(body);
          this.#drop(from, 'disconnected');
          if (m.reason === 'consult-ended') this.#room.close('consult-ended');
          else if (from === this.#upstream) await this.#settle();
          return null;
        }
      }
    });
  }

  // RoomLinks: this node's own sessions changed; tell the nodes it pipes with.
  peerJoined(peer: CallPeerInfo): void {
    for (const node of this.#links.keys()) this.#nodes.send(node, 'peer-joined', { consultId: this.consultId, peer });
  }
  peerLeft(peerId: string, userId: string, reason: PeerLeftReason): void {
    for (const node of this.#links.keys()) this.#nodes.send(node, 'peer-left', { consultId: this.consultId, peerId, userId, reason });
  }
  peerAudioOnly(change: AudioOnlyChange): void {
    for (const node of this.#links.keys()) this.#nodes.send(node, 'peer-audio-only', { consultId: this.consultId, ...change });
  }
  producerAdded(producer: ms.Producer<ProducerAppData>, via: string | null): void {
    for (const link of this.#links.values()) if (link.node !== via) void this.#push(link, producer);
  }
  keepsRoom(): boolean {
    return this.#hub && this.#links.size > 0;
  }

  /** The room closed here: the other nodes drop their pipe to this one (and end their call too when the consult ended). */
  async close(reason: RoomCloseReason): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    for (const link of this.#links.values()) {
      this.#nodes.send(link.node, 'detach', { consultId: this.consultId, reason });
      link.transport.close();
    }
    this.#links.clear();
    if (this.#hub) await this.#nodes.releaseOwner(this.consultId).catch(() => undefined);
  }

  #serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch((err: unknown) => this.#logger.warn({ err }, 'call pipe step failed'));
    return run;
  }

  /** Finds this node's place: the call's owner (hub), or piped to the owner. */
  async #settle(): Promise<void> {
    if (this.#closed) return;
    let owner = await this.#nodes.claimOwner(this.consultId);
    if (owner && owner !== this.#nodes.nodeId && !(await this.#nodes.isAlive(owner))) {
      // The owner died without releasing the call: free it and take it.
      await this.#nodes.releaseDeadOwner(this.consultId, owner);
      owner = await this.#nodes.claimOwner(this.consultId);
    }
    if (!owner) return; // contended: the next tick settles it
    if (owner === this.#nodes.nodeId) {
      if (this.#upstream) this.#drop(this.#upstream, 'disconnected');
      this.#upstream = null;
      if (!this.#hub) this.#logger.info('this media node owns the call (hub)');
      this.#hub = true;
      return;
    }
    if (this.#hub) {
      // Ownership lost (e.g. Redis was away longer than the key's life): the new owner is the hub.
      for (const node of [...this.#links.keys()]) {
        this.#nodes.send(node, 'detach', { consultId: this.consultId, reason: 'owner-changed' });
        this.#drop(node, 'disconnected');
      }
      this.#hub = false;
    }
    if (this.#upstream === owner && this.#links.has(owner)) return;
    if (this.#upstream) this.#drop(this.#upstream, 'disconnected');
    await this.#attach(owner);
  }

  async #tick(): Promise<void> {
    if (this.#closed) return;
    if (this.#hub) {
      if (!(await this.#nodes.renewOwner(this.consultId))) {
        this.#hub = false;
        await this.#settle();
        return;
      }
      for (const node of [...this.#links.keys()]) if (!(await this.#nodes.isAlive(node))) this.#drop(node, 'disconnected');
      return;
    }
    const owner = await this.#nodes.owner(this.consultId);
    if (!owner || owner !== this.#upstream || !this.#links.has(owner) || !(await this.#nodes.isAlive(owner))) await this.#settle();
  }

  /** Pipes this node's router to the owner's: both pipe transports connected, this node's participants and producers sent. */
  async #attach(owner: string): Promise<void> {
    const transport = await this.#room.createPipeTransport();
    try {
      const answer = attachAnswer.parse(
        await this.#nodes.request(owner, 'attach', {
          consultId: this.consultId,
          ...this.#endOf(transport),
          participants: this.#room
            .participants()
            .filter((p) => p.via === null)
            .map((p) => p.info),
        }),
      );
      await transport.connect({ ip: answer.address, port: answer.port, srtpParameters: answer.srtp });
      if (this.#closed) throw new Error('room closed meanwhile');
      const link: Link = { node: owner, transport, out: new Map() };
      this.#links.set(owner, link);
      this.#upstream = owner;
      for (const p of answer.participants) this.#room.addRemotePeer(p, owner);
      for (const { producer, via } of this.#room.producers()) if (via === null) await this.#push(link, producer);
      this.#logger.info({ owner, participants: answer.participants.length }, 'call piped to its owning media node');
    } catch (err) {
      transport.close();
      this.#logger.warn({ err, owner }, 'piping the call to its owning media node failed (retried)');
    }
  }

  /** The hub's side of an attach: a pipe transport for the node, connected to it; everyone else's participants and producers sent. */
  async #onAttach(from: string, m: z.infer<(typeof pipeMessages)['attach']>): Promise<z.infer<typeof attachAnswer>> {
    if (!this.#hub) await this.#settle();
    if (!this.#hub) throw new Error('this node does not own the call');
    if (this.#links.has(from)) this.#drop(from, 'disconnected'); // the node re-attaches: start over
    const transport = await this.#room.createPipeTransport();
    try {
      await transport.connect({ ip: m.address, port: m.port, srtpParameters: m.srtp });
    } catch (err) {
      transport.close();
      throw err;
    }
    const link: Link = { node: from, transport, out: new Map() };
    this.#links.set(from, link);
    for (const p of m.participants) this.#room.addRemotePeer(p, from);
    const answer = {
      ...this.#endOf(transport),
      participants: this.#room
        .participants()
        .filter((p) => p.via !== from)
        .map((p) => p.info),
    };
    for (const p of m.participants) this.#forward(from, 'peer-joined', { consultId: this.consultId, peer: p });
    for (const { producer, via } of this.#room.producers()) if (via !== from) await this.#push(link, producer);
    this.#logger.info({ node: from, participants: m.participants.length }, 'a media node piped into this call');
    return answer;
  }

  #endOf(transport: ms.PipeTransport): z.infer<typeof pipeEnd> {
    // localAddress is the announced address (the SFU config always has one), else the listen IP.
    const srtp = transport.srtpParameters;
    if (!srtp) throw new Error('pipe transport without SRTP');
    return { address: transport.tuple.localAddress, port: transport.tuple.localPort, srtp };
  }

  /** The hub passes what one node told it on to the others. */
  #forward(from: string, method: 'peer-joined' | 'peer-left' | 'peer-audio-only', body: unknown): void {
    if (!this.#hub) return;
    for (const node of this.#links.keys()) if (node !== from) this.#nodes.send(node, method, body);
  }

  /** Consumes the producer on the link's pipe transport and has the other node produce it with the same id. */
  async #push(link: Link, producer: ms.Producer<ProducerAppData>): Promise<void> {
    if (link.out.has(producer.id) || producer.closed) return;
    let consumer: ms.Consumer;
    try {
      consumer = await link.transport.consume({ producerId: producer.id });
    } catch (err) {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the producer can close during the await above; the narrowing does not see that
      if (!producer.closed && !link.transport.closed) this.#logger.warn({ err, producerId: producer.id, node: link.node }, 'pipe consume failed');
      return;
    }
    // The producer closed, or the link was dropped, while the consumer was being made.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- it can close during the await above; the narrowing does not see that
    if (producer.closed || consumer.closed || this.#links.get(link.node) !== link) {
      consumer.close();
      return;
    }
    const peer = this.#room.participants().find((p) => p.info.peerId === producer.appData.peerId)?.info;
    if (!peer) {
      consumer.close();
      return;
    }
    link.out.set(producer.id, consumer);
    const consultId = this.consultId;
    consumer.observer.on('close', () => link.out.delete(producer.id));
    consumer.on('producerclose', () => this.#nodes.send(link.node, 'producer-closed', { consultId, producerId: producer.id }));
    consumer.on('producerpause', () => this.#nodes.send(link.node, 'producer-paused', { consultId, producerId: producer.id, paused: true }));
    consumer.on('producerresume', () => this.#nodes.send(link.node, 'producer-paused', { consultId, producerId: producer.id, paused: false }));
    this.#nodes.send(link.node, 'produce', {
      consultId,
      producerId: producer.id,
      kind: consumer.kind,
      rtpParameters: consumer.rtpParameters,
      paused: consumer.producerPaused,
      source: producer.appData.source,
      peer,
    });
  }

  /** Closes the pipe with a node: the participants that came through it leave this node's call. */
  #drop(node: string, reason: PeerLeftReason): void {
    const link = this.#links.get(node);
    if (link) {
      this.#links.delete(node);
      link.transport.close();
    }
    this.#room.removeRemotePeersVia(node, reason);
    if (node === this.#upstream) this.#upstream = null;
  }
}

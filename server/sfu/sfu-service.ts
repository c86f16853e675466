import type { types as ms } from 'mediasoup';
import type { JoinCallResult } from '../../contracts/sfu-api';
import type { Logger } from '../observability/logger';
import { BandwidthPolicy } from './bandwidth-policy';
import type { CallNotifier, CallPeer } from './call-peer';
import type { SfuConfig } from './config';
import { CallError, ConsultCallRoom } from './consult-call-room';
import type { MediaNodeLoad, MediaNodes } from './media-nodes';
import { pipeMessages, RoomPipes, type PipeMethod } from './room-pipes';

type Mediasoup = typeof import('mediasoup');

/** Who may enter a consult's call (ConsultDirectory.callAdmission in production). */
export type CallAdmission = (
  userId: string,
  consultId: string,
) => Promise<{ participant: boolean; admitted: boolean; host: boolean; displayName: string; status: string } | null>;

interface WorkerSlot {
  index: number;
  worker: ms.Worker | null;
  rooms: Set<ConsultCallRoom>;
  /** Consults whose room died with this slot's worker, re-created once it is respawned. */
  orphans: Set<string>;
  respawns: number;
}

export interface SfuServiceOptions {
  config: SfuConfig;
  logger: Logger;
  /** The loaded mediasoup module (see loadMediasoup: MEDIASOUP_WORKER_BIN must be set first). */
  mediasoup: Mediasoup;
  admission: CallAdmission;
  workerBin?: string;
  /** With Redis: this process as one media node among others; a call's participants on other nodes are piped in. */
  nodes?: MediaNodes | null;
}

/** How long a join waits for a new room to find its place among the media nodes before it goes on (the pipe follows). */
const PIPE_READY_WAIT_MS = 2_000;

/**
 * The media plane: `config.workers` mediasoup workers, one ConsultCallRoom (router) per consult
 * call placed on the least-loaded worker (routers + consumers). A worker that dies is respawned;
 * its rooms are re-created and their peers told `sfu:rejoin`.
 */
export class SfuService {
  readonly #options: SfuServiceOptions;
  readonly #logger: Logger;
  readonly #policy: BandwidthPolicy;
  readonly #slots: WorkerSlot[] = [];
  readonly #rooms = new Map<string, ConsultCallRoom>();
  readonly #creating = new Map<string, Promise<ConsultCallRoom>>();
  readonly #pipes = new Map<string, RoomPipes>();
  #closed = false;
  /** Worker respawns since start (for tests and metrics). */
  respawnCount = 0;

  static async create(options: SfuServiceOptions): Promise<SfuService> {
    const service = new SfuService(options);
    try {
      for (let i = 0; i < options.config.workers; i++) {
        const slot: WorkerSlot = { index: i, worker: null, rooms: new Set(), orphans: new Set(), respawns: 0 };
        service.#slots.push(slot);
        slot.worker = await service.#spawn(slot);
      }
    } catch (err) {
      await service.close();
      throw err;
    }
    return service;
  }

  private constructor(options: SfuServiceOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ part: 'sfu' });
    this.#policy = new BandwidthPolicy({
      audioOnlyBelowKbps: options.config.audioOnlyBelowKbps,
      audioOnlyRecoverAboveKbps: options.config.audioOnlyRecoverAboveKbps,
    });
  }

  get policy(): BandwidthPolicy {
    return this.#policy;
  }

  /** Checks admission, then adds the user to the consult's call (creating the room if needed). */
  async join(userId: string, consultId: string, notify: CallNotifier): Promise<{ room: ConsultCallRoom; peer: CallPeer; result: JoinCallResult }> {
    const admission = await this.admit(userId, consultId);
    const room = await this.#room(consultId);
    const { peer, result } = room.join({ userId, displayName: admission.displayName, host: admission.host }, notify);
    return { room, peer, result };
  }

  /** The consult directory's decision (call state, admission, record access; audited), or a CallError naming the refusal. */
  async admit(userId: string, consultId: string): Promise<NonNullable<Awaited<ReturnType<CallAdmission>>>> {
    if (this.#closed) throw new CallError('the media server is shutting down', 'unavailable');
    const admission = await this.#options.admission(userId, consultId);
    if (!admission || !admission.participant) throw new CallError('not a participant of this consult', 'forbidden');
    if (!admission.admitted) throw new CallError('waiting for the host to admit you', 'waiting_for_host');
    return admission;
  }

  /** The consult ended: its call ends for everyone in it (told `sfu:peer-left`, reason room-closed). */
  endCall(consultId: string): boolean {
    const room = this.#rooms.get(consultId);
    if (!room) return false;
    room.close('consult-ended');
    return true;
  }

  room(consultId: string): ConsultCallRoom | undefined {
    return this.#rooms.get(consultId);
  }

  rooms(): ConsultCallRoom[] {
    return [...this.#rooms.values()];
  }

  /** The call's pipes to other media nodes (with Redis). */
  pipes(consultId: string): RoomPipes | undefined {
    return this.#pipes.get(consultId);
  }

  /** This node's load as registered for the other nodes. */
  nodeLoad(): MediaNodeLoad {
    let peers = 0;
    for (const r of this.#rooms.values()) peers += r.peerCount;
    const loads = this.workerLoads();
    return { routers: loads.reduce((n, l) => n + l.routers, 0), consumers: loads.reduce((n, l) => n + l.consumers, 0), peers };
  }

  /**
   * A message from another media node about one call. An `attach` for a call this node owns but
   * holds no room for (its own participants all left) creates the room: the hub of the call.
   */
  readonly onNodeMessage = async (from: string, method: string, body: unknown): Promise<unknown> => {
    if (!(method in pipeMessages)) throw new Error(`unknown media node method ${method}`);
    const { consultId } = pipeMessages.detach.pick({ consultId: true }).parse(body);
    let pipes = this.#pipes.get(consultId);
    if (!pipes && method === 'attach' && !this.#closed && (await this.#options.nodes?.owner(consultId)) === this.#options.nodes?.nodeId) {
      await this.#room(consultId);
      pipes = this.#pipes.get(consultId);
    }
    if (!pipes) {
      if (method === 'attach') throw new Error('this node holds no room for the call');
      return null;
    }
    return pipes.handle(from, method as PipeMethod, body);
  };

  /** Load per worker: routers and consumers (the placement metric). */
  workerLoads(): Array<{ index: number; pid: number | undefined; routers: number; consumers: number; alive: boolean }> {
    return this.#slots.map((s) => ({
      index: s.index,
      pid: s.worker?.pid,
      routers: s.rooms.size,
      consumers: [...s.rooms].reduce((n, r) => n + r.consumerCount, 0),
      alive: !!s.worker && !s.worker.closed,
    }));
  }

  /** For tests: the worker process of a slot. */
  workerPid(index: number): number | undefined {
    return this.#slots[index]?.worker?.pid;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#creating.values()]);
    for (const room of this.#rooms.values()) room.close('shutdown');
    this.#rooms.clear();
    for (const slot of this.#slots) {
      const w = slot.worker;
      slot.worker = null;
      if (w && !w.closed) w.close();
    }
  }

  async #room(consultId: string): Promise<ConsultCallRoom> {
    const existing = this.#rooms.get(consultId);
    if (existing && !existing.closed) return existing;
    const pending = this.#creating.get(consultId);
    if (pending) return pending;
    const creation = (async () => {
      const slot = this.#leastLoaded();
      if (!slot.worker) throw new Error(`mediasoup worker ${slot.index} is not running`);
      const room = await ConsultCallRoom.create({
        consultId,
        worker: slot.worker,
        workerIndex: slot.index,
        config: this.#options.config,
        policy: this.#policy,
        logger: this.#logger,
      });
      slot.rooms.add(room);
      this.#rooms.set(consultId, room);
      const nodes = this.#options.nodes;
      const pipes = nodes ? new RoomPipes(room, nodes, this.#logger) : null;
      if (pipes) this.#pipes.set(consultId, pipes);
      room.onClose((reason) => {
        slot.rooms.delete(room);
        if (reason === 'worker-died') slot.orphans.add(consultId);
        if (this.#rooms.get(consultId) === room) this.#rooms.delete(consultId);
        if (pipes) {
          if (this.#pipes.get(consultId) === pipes) this.#pipes.delete(consultId);
          void pipes.close(reason);
        }
      });
      if (pipes) await Promise.race([pipes.ready.catch(() => undefined), new Promise((r) => setTimeout(r, PIPE_READY_WAIT_MS).unref())]);
      return room;
    })();
    this.#creating.set(consultId, creation);
    try {
      return await creation;
    } finally {
      this.#creating.delete(consultId);
    }
  }

  #leastLoaded(): WorkerSlot {
    let best: WorkerSlot | undefined;
    let bestLoad = Infinity;
    for (const slot of this.#slots) {
      if (!slot.worker || slot.worker.closed) continue;
      let load = slot.rooms.size;
      for (const r of slot.rooms) load += r.consumerCount;
      if (load < bestLoad) {
        best = slot;
        bestLoad = load;
      }
    }
    if (!best) throw new CallError('no media worker is available; try again shortly', 'unavailable');
    return best;
  }

  async #spawn(slot: WorkerSlot): Promise<ms.Worker> {
    const c = this.#options.config;
    const worker = await this.#options.mediasoup.createWorker({
      logLevel: c.workerLogLevel,
      // eslint-disable-next-line @typescript-eslint/no-deprecated -- mediasoup's portRange replacement needs a listen-info rewrite; kept until that is done and tested
      rtcMinPort: c.rtcMinPort,
      // eslint-disable-next-line @typescript-eslint/no-deprecated -- mediasoup's portRange replacement needs a listen-info rewrite; kept until that is done and tested
      rtcMaxPort: c.rtcMaxPort,
      ...(this.#options.workerBin ? { workerBin: this.#options.workerBin } : {}),
      appData: { slot: slot.index },
    });
    worker.on('died', (err) => this.#onWorkerDied(slot, worker, err));
    this.#logger.info({ slot: slot.index, pid: worker.pid }, 'mediasoup worker started');
    return worker;
  }

  #onWorkerDied(slot: WorkerSlot, worker: ms.Worker, err: Error): void {
    if (this.#closed || slot.worker !== worker) return;
    this.#logger.error({ err, slot: slot.index, pid: worker.pid, rooms: slot.rooms.size }, 'mediasoup worker died; respawning');
    slot.worker = null;
    // Its routers are gone: each room has told its peers to rejoin and closed (on the routers'
    // workerclose, which mediasoup emits before 'died'); close any left, remember them all.
    for (const room of [...slot.rooms]) room.close('worker-died');
    slot.rooms.clear();
    const orphaned = [...slot.orphans];
    slot.orphans.clear();
    const respawn = async (attempt: number): Promise<void> => {
      if (this.#closed) return;
      try {
        slot.worker = await this.#spawn(slot);
        slot.respawns++;
        this.respawnCount++;
        // Re-create the rooms eagerly, so the rejoining peers find their router ready.
        for (const consultId of orphaned) await this.#room(consultId).catch((e: unknown) => this.#logger.warn({ err: e, consultId }, 'room re-create failed'));
      } catch (e) {
        const delay = Math.min(10_000, 250 * 2 ** attempt);
        this.#logger.error({ err: e, slot: slot.index, attempt, delay }, 'mediasoup worker respawn failed');
        setTimeout(() => void respawn(attempt + 1), delay).unref();
      }
    };
    void respawn(0);
  }
}

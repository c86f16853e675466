import type { types as ms } from 'mediasoup';
import type { JoinCallResult } from '../../contracts/sfu-api';
import type { Logger } from '../observability/logger';
import { BandwidthPolicy } from './bandwidth-policy';
import type { CallNotifier, CallPeer } from './call-peer';
import type { SfuConfig } from './config';
import { CallError, ConsultCallRoom } from './consult-call-room';

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
}

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
      room.onClose((reason) => {
        slot.rooms.delete(room);
        if (reason === 'worker-died') slot.orphans.add(consultId);
        if (this.#rooms.get(consultId) === room) this.#rooms.delete(consultId);
      });
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

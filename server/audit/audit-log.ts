import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Connection, Model, mongo } from 'mongoose';
import type { HoichanConfig } from '../config';
import { secretFromConfigOrDataDir } from '../auth/secrets';
import {
  auditAnchorModel,
  auditCheckpointModel,
  auditEntryModel,
  type AuditAnchor,
  type AuditCheckpoint,
  type AuditEntry,
  type StoredAuditEntry,
} from '../../models/audit-entry';
import { canonicalJson } from '../integrity/canonical-json';
import {
  anchorIdOf,
  CHAIN_SPAN,
  chainBase,
  checkpointMac,
  GENESIS_HASH,
  hashOf,
  HOICHAN_KIND_EXT,
  isDuplicateKey,
  OBJECT_ROLE,
  REGISTER_ID,
  registerMac,
} from './trail-format';
import { verifyTrail, type ChainVerification } from './verify-trail';

export { checkpointMac, GENESIS_HASH } from './trail-format';
export type { ChainVerification } from './verify-trail';

export type AuditKind = 'login' | 'logout' | 'token-refresh' | 'patient-record' | 'break-glass' | 'consult' | 'imaging' | 'admin' | 'access-denied';

/** FHIR AuditEvent.action: Create, Read, Update, Delete, Execute. */
export type AuditAction = 'C' | 'R' | 'U' | 'D' | 'E';

export interface AuditAgent {
  userId?: string;
  role?: string;
  facilityId?: string;
  /** For failed logins: the account name that was tried (a staff login, never patient data). */
  login?: string;
  ip?: string;
}

export interface AuditRecordInput {
  kind: AuditKind;
  action: AuditAction;
  success: boolean;
  /** Short, non-clinical description of what happened or why it was refused. */
  outcomeDesc?: string;
  agent: AuditAgent;
  patientId?: string;
  /** References of what was touched, e.g. "Patient/abc", "ConsultRequest/xyz". */
  entities?: string[];
  breakGlassReason?: string;
  requestId?: string;
}

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const EVENT_TYPES: Record<AuditKind, { system: string; code: string; display: string }> = {
  login: { system: DCM, code: '110114', display: 'User Authentication' },
  logout: { system: DCM, code: '110114', display: 'User Authentication' },
  'token-refresh': { system: DCM, code: '110114', display: 'User Authentication' },
  'patient-record': { system: DCM, code: '110110', display: 'Patient Record' },
  'break-glass': { system: DCM, code: '110113', display: 'Security Alert' },
  consult: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' },
  imaging: { system: DCM, code: '110103', display: 'DICOM Instances Accessed' },
  admin: { system: DCM, code: '110136', display: 'Security Roles Changed' },
  'access-denied': { system: DCM, code: '110113', display: 'Security Alert' },
};

/** The audit options from configuration: HOICHAN_AUDIT_KEY, or a key generated once into the data folder. */
export function auditOptionsFrom(config: HoichanConfig): AuditLogOptions {
  return {
    checkpointKey: secretFromConfigOrDataDir(config.audit.checkpointKey, config.dataDir, 'audit-checkpoint-key'),
    checkpointIntervalMs: config.audit.checkpointIntervalMs,
  };
}

export interface AuditLogOptions {
  /** Key of the checkpoints (HMAC-SHA256). Must not live in the database: config or the data folder. */
  checkpointKey: string;
  /** How often the head is kept as a checkpoint while entries are written (ms). Default 10 s. */
  checkpointIntervalMs?: number;
  /** Most entries in one write. Default and maximum 100. */
  maxBatch?: number;
  /** How long a batch waits for more entries before it is written (ms). Default 2. */
  lingerMs?: number;
  /**
   * Least time between the starts of two batches while entries keep coming (ms). Default 20. Each
   * write costs FerretDB and PostgreSQL about 1–1.5 ms of CPU whatever its size, and Node about
   * 0.5 ms more: at 500 audited reads/s this lets about 10 entries share it (10 ms gave 5 per
   * write and about 1 ms of CPU per entry; 20 ms about 0.8, at a p50 of about 17 ms).
   */
  batchIntervalMs?: number;
  /**
   * While fewer entries than this are queued, and the process writes 120 or more a second (measured
   * over its last batch), a batch waits for more, up to `maxBatchIntervalMs` after the previous batch
   * started. Default 10.
   * With several server processes each one writes its share of the load: at 250 entries/s each (two
   * processes at 500/s) batches every 20 ms held 5 entries and cost 1.2 ms of CPU per entry; waiting
   * for 10 keeps the single process's cost per entry.
   */
  batchTarget?: number;
  /**
   * Default 60 ms; never below `batchIntervalMs`. At 500 entries/s over three processes 40 ms gave 6.5
   * entries per batch and 1.1–1.2 ms of CPU per entry, 60 ms 9.3 and 0.94 (p99 69 ms). A lone entry
   * after a quiet spell still goes out after `lingerMs`.
   */
  maxBatchIntervalMs?: number;
  /** The head anchor moves at most this often (ms), this long after the batch that first needs it at the latest. Default 100. */
  anchorIntervalMs?: number;
}

/** At this many entries a second a process is busy, and its batches wait for `batchTarget` entries. */
const BUSY_PER_S = 120;

interface Pending {
  event: Record<string, unknown>;
  /** The event's canonical JSON: what is stored and hashed (made once, whatever the retries). */
  eventJson: string;
  input: AuditRecordInput;
  recorded: string;
  resolve: (e: AuditEntry) => void;
  reject: (err: unknown) => void;
}

/**
 * The append-only, hash-chained audit trail. Each entry is a FHIR AuditEvent plus the previous
 * entry's hash. Every writer (server process) registers a chain of its own when it first writes
 * (`trail-format.ts`): its entries are numbered in its own id range and linked to each other only,
 * so two processes never compete for a number and never wait for each other. The verifier walks
 * every registered chain (`verify-trail.ts`).
 *
 * Group commit: `record()` queues the entry; while one batch is being written the next ones
 * gather (a batch starts at most every `batchIntervalMs`, 20 ms), and each batch is one `insertMany`. A
 * `record()` resolves when its batch is stored. Requests never wait for each other's entries one
 * by one. The chain's head anchor (with its keyed checkpoint) moves at most every `anchorIntervalMs`
 * (100 ms: a move costs the database as much as an insert), at once after a quiet spell, else on a
 * timer; batches are acknowledged without waiting for it, and `flush()` waits for it. The verifier
 * checks the entries past an anchor as far as they follow on from it, so a lagging anchor never
 * raises an alarm; it bounds how many of the newest entries could be cut off unnoticed.
 */
export class AuditLog {
  #queue: Pending[] = [];
  #writing: Promise<void> | null = null;
  /** This process's chain, registered at the first write; null before, or after it was lost to another writer. */
  #chain: number | null = null;
  /** The newest entry of this process's chain known stored. */
  #head: { seq: number; hash: string } | null = null;
  /** What this process last moved its anchor to, and when (performance.now()). */
  #anchoredSeq = 0;
  #anchorMovedAt = -Infinity;
  /** A move due later (at most `anchorIntervalMs` after the last one), and the move in progress. */
  #anchorTimer: NodeJS.Timeout | null = null;
  #anchorMove: Promise<void> | null = null;
  #lastBatchAt = -Infinity;
  /** The last batch's size and the time since the batch before it: the entries a second this process writes. */
  #lastBatchSize = 0;
  #lastBatchGapMs = Infinity;
  /** Wakes a batch that waits for `batchTarget` entries. */
  #batchFull: (() => void) | null = null;
  #lastCheckpointSeq = 0;
  #checkpointTimer: NodeJS.Timeout | null = null;
  #closed = false;
  #batches = 0;
  #written = 0;
  #chainsRegistered = 0;
  #chainsLost = 0;
  #anchorMoves = 0;
  #anchorFailures = 0;
  readonly #key: string;
  readonly #maxBatch: number;
  readonly #lingerMs: number;
  readonly #batchIntervalMs: number;
  readonly #batchTarget: number;
  readonly #maxBatchIntervalMs: number;
  readonly #anchorIntervalMs: number;
  /** Who holds a chain, kept on its anchor for an administrator reading the trail (not part of any MAC). */
  readonly #writer = `${hostname()}/${process.pid}`;

  private constructor(
    private readonly entries: Model<AuditEntry>,
    private readonly anchors: Model<AuditAnchor>,
    private readonly checkpoints: Model<AuditCheckpoint>,
    opts: AuditLogOptions,
  ) {
    if (!opts.checkpointKey || opts.checkpointKey.length < 32) throw new Error('audit: the checkpoint key must be at least 32 characters');
    this.#key = opts.checkpointKey;
    // FerretDB v1 honours `ordered` only within one internal batch of 100 documents: past that a
    // failed write could leave a gap before entries it stored, so a batch never exceeds 100.
    this.#maxBatch = Math.min(opts.maxBatch ?? 100, 100);
    this.#lingerMs = opts.lingerMs ?? 2;
    this.#batchIntervalMs = opts.batchIntervalMs ?? 20;
    this.#batchTarget = Math.min(opts.batchTarget ?? 10, this.#maxBatch);
    this.#maxBatchIntervalMs = Math.max(opts.maxBatchIntervalMs ?? 60, this.#batchIntervalMs);
    this.#anchorIntervalMs = opts.anchorIntervalMs ?? 100;
    const every = opts.checkpointIntervalMs ?? 10_000;
    if (every > 0) {
      this.#checkpointTimer = setInterval(() => void this.checkpoint().catch(() => undefined), every);
      this.#checkpointTimer.unref();
    }
  }

  /** The driver's collection under the entries model, in the stored shape: appends use it as stored. */
  get #rows(): mongo.Collection<StoredAuditEntry> {
    return this.entries.collection as unknown as mongo.Collection<StoredAuditEntry>;
  }

  static create(conn: Connection, opts: AuditLogOptions): AuditLog {
    return new AuditLog(auditEntryModel(conn), auditAnchorModel(conn), auditCheckpointModel(conn), opts);
  }

  /** Appends one entry. Resolves once it is stored (acknowledged by the database). */
  record(input: AuditRecordInput): Promise<AuditEntry> {
    const recorded = new Date().toISOString();
    const event = toAuditEvent(input, recorded);
    return new Promise<AuditEntry>((resolve, reject) => {
      this.#queue.push({ event, eventJson: canonicalJson(event), input, recorded, resolve, reject });
      if (this.#queue.length >= this.#batchTarget) this.#batchFull?.();
      this.#kick();
    });
  }

  #kick(): void {
    if (this.#writing || !this.#queue.length) return;
    this.#writing = this.#writeBatches().finally(() => {
      this.#writing = null;
      this.#kick();
    });
  }

  async #writeBatches(): Promise<void> {
    while (this.#queue.length) {
      // Let the entries of the next few milliseconds join this batch (group commit): fewer, larger writes.
      if (this.#queue.length < this.#maxBatch) {
        const wait = Math.max(this.#lingerMs, this.#lastBatchAt + this.#batchIntervalMs - performance.now());
        await new Promise<void>((r) => (wait > 0 ? setTimeout(r, wait) : setImmediate(r)));
        // Busy (the last batch held entries of at least `BUSY_PER_S` a second) but fewer than
        // `batchTarget` queued: this process has a share of a high load that several processes write.
        // Wait for them, up to `maxBatchIntervalMs` after the last batch. Under a light load the entries
        // go as before: their requests wait on them, and a few more writes a second cost little.
        const until = this.#lastBatchAt + this.#maxBatchIntervalMs;
        if (this.#lastBatchSize * 1000 >= BUSY_PER_S * this.#lastBatchGapMs && this.#queue.length < this.#batchTarget && performance.now() < until) {
          await new Promise<void>((r) => {
            const timer = setTimeout(() => {
              this.#batchFull = null;
              r();
            }, until - performance.now());
            this.#batchFull = () => {
              clearTimeout(timer);
              this.#batchFull = null;
              r();
            };
          });
        }
      }
      const startedAt = performance.now();
      this.#lastBatchGapMs = startedAt - this.#lastBatchAt;
      this.#lastBatchAt = startedAt;
      const batch = this.#queue.splice(0, this.#maxBatch);
      this.#lastBatchSize = batch.length;
      let docs: AuditEntry[] = [];
      let failure: unknown = null;
      try {
        docs = await this.#append(batch);
      } catch (err) {
        // What was stored before the failure is acknowledged; only the rest fails.
        docs = err instanceof AppendError ? err.stored : [];
        failure = err instanceof AppendError ? err.cause : err;
      }
      batch.forEach((p, i) => (i < docs.length ? p.resolve(docs[i] as AuditEntry) : p.reject(failure)));
      this.#scheduleAnchor();
    }
  }

  /**
   * Registers a chain for this process: the next number after the register's, taken by creating its
   * anchor (a unique `_id`, so two processes starting together get two chains), and only then the
   * register moves forward to it. The register exists before any chain does: the verifier reads it
   * first and counts a chain it names without an anchor, or chains without a register, as removed.
   */
  async #registerChain(): Promise<void> {
    let register = await this.anchors.findById(REGISTER_ID).lean();
    if (!register) {
      await this.anchors.create({ _id: REGISTER_ID, seq: 0, hash: GENESIS_HASH, mac: registerMac(this.#key, 0) }).catch((err: unknown) => {
        if (!isDuplicateKey(err)) throw err; // another process created it
      });
      register = await this.anchors.findById(REGISTER_ID).lean();
    }
    let chain = Math.max((register?.seq ?? 0) + 1, (this.#chain ?? 0) + 1);
    const registeredAt = new Date().toISOString();
    for (;;) {
      const seq = chainBase(chain);
      try {
        await this.anchors.create({
          _id: anchorIdOf(chain),
          seq,
          hash: GENESIS_HASH,
          mac: checkpointMac(this.#key, seq, GENESIS_HASH),
          writer: this.#writer,
          registeredAt,
        });
        break;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        chain += 1; // another process took it meanwhile
      }
    }
    await this.anchors.updateOne({ _id: REGISTER_ID, seq: { $lt: chain } }, { $set: { seq: chain, mac: registerMac(this.#key, chain) } });
    this.#chain = chain;
    this.#head = { seq: chainBase(chain), hash: GENESIS_HASH };
    this.#anchoredSeq = chainBase(chain);
    this.#chainsRegistered += 1;
  }

  /**
   * Writes one batch after this process's head. The chain is this process's alone, so there is no
   * race to lose; a duplicate id means another writer holds the chain too (a copy of this process's
   * data restored, a register edited): the chain is left where this process's entries end and the
   * rest goes to a new chain.
   */
  async #append(batch: Pending[]): Promise<AuditEntry[]> {
    const stored: AuditEntry[] = [];
    let rest = batch;
    for (let attempt = 0; rest.length && attempt < 2; attempt++) {
      if (this.#chain === null || !this.#head || this.#head.seq + rest.length >= chainBase(this.#chain + 1)) await this.#registerChain();
      let { seq, hash: prevHash } = this.#head as { seq: number; hash: string };
      const docs: AuditEntry[] = [];
      const rows: StoredAuditEntry[] = [];
      for (const p of rest) {
        seq += 1;
        const row: StoredAuditEntry = {
          _id: seq,
          prevHash,
          hash: hashOf(seq, prevHash, p.eventJson),
          eventJson: p.eventJson,
          recorded: p.recorded,
          action: p.input.action,
          kind: p.input.kind,
          breakGlass: p.input.kind === 'break-glass',
          success: p.input.success,
        };
        if (p.input.agent.userId) row.agentUserId = p.input.agent.userId;
        if (p.input.patientId) row.patientId = p.input.patientId;
        rows.push(row);
        const { eventJson: _text, ...view } = row;
        docs.push({ ...view, event: p.event });
        prevHash = row.hash;
      }
      try {
        // Straight to the driver: the rows are already what is stored (no casting, no documents built).
        await this.#rows.insertMany(rows, { ordered: true });
        stored.push(...docs);
        rest = [];
      } catch (err) {
        // Ordered insert: a prefix may be stored. Keep exactly the entries whose stored hash is ours
        // (point reads by id: the one query shape every backend answers from its primary key).
        let kept = 0;
        try {
          for (const d of docs) {
            if ((await this.entries.findById(d._id, { hash: 1 }).lean())?.hash !== d.hash) break;
            kept += 1;
          }
        } catch {
          // What is known stored stays this process's head (an entry after it may be stored too: then
          // the next write finds its number taken and moves to a new chain).
          const known = docs[kept - 1];
          if (known) this.#head = { seq: known._id, hash: known.hash };
          throw stored.length || kept ? new AppendError([...stored, ...docs.slice(0, kept)], err) : err;
        }
        stored.push(...docs.slice(0, kept));
        rest = rest.slice(kept);
        const lastKept = docs[kept - 1];
        if (lastKept) this.#head = { seq: lastKept._id, hash: lastKept.hash };
        if (!isDuplicateKey(err) || !rest.length) {
          if (lastKept) await this.#moveAnchorInTurn();
          if (rest.length) throw new AppendError(stored, err);
          continue;
        }
        // Another writer holds this chain: anchor what is this process's and go on in a new one.
        await this.#moveAnchorInTurn();
        this.#chainsLost += 1;
        this.#chain = null;
        this.#head = null;
      }
    }
    if (rest.length) throw new AppendError(stored, new Error('audit: the new chain was taken by another writer too'));
    this.#batches += 1;
    this.#written += stored.length;
    const last = stored[stored.length - 1];
    if (last) this.#head = { seq: last._id, hash: last.hash };
    return stored;
  }

  /** The anchor moves now if its interval has passed since the last move, else once it has (one timer at a time). */
  #scheduleAnchor(): void {
    if (this.#anchorTimer) return;
    const due = this.#anchorMovedAt + this.#anchorIntervalMs - performance.now();
    if (due <= 0) {
      void this.#moveAnchorInTurn();
      return;
    }
    this.#anchorTimer = setTimeout(() => {
      this.#anchorTimer = null;
      void this.#moveAnchorInTurn();
    }, due);
    this.#anchorTimer.unref();
  }

  /** One anchor move at a time, each after the one before. */
  #moveAnchorInTurn(): Promise<void> {
    const move = (this.#anchorMove ?? Promise.resolve()).then(() => this.#anchorHead());
    this.#anchorMove = move;
    void move.finally(() => {
      if (this.#anchorMove === move) this.#anchorMove = null;
    });
    return move;
  }

  /** Moves this process's anchor to its head, if further; a failure is left to the next move (the entries are stored). */
  async #anchorHead(): Promise<void> {
    const head = this.#head;
    this.#anchorMovedAt = performance.now();
    if (this.#chain === null || !head || head.seq <= this.#anchoredSeq) return;
    try {
      // only forward; with the head's keyed checkpoint
      await this.anchors.updateOne(
        { _id: anchorIdOf(this.#chain), seq: { $lt: head.seq } },
        { $set: { seq: head.seq, hash: head.hash, mac: checkpointMac(this.#key, head.seq, head.hash) } },
      );
      this.#anchoredSeq = head.seq;
      this.#anchorMoves += 1;
    } catch {
      this.#anchorFailures += 1;
    }
  }

  /** Keeps this process's head as a keyed checkpoint (done every few seconds and at shutdown). */
  async checkpoint(): Promise<void> {
    const head = this.#head;
    if (!head || head.seq % CHAIN_SPAN === 0 || head.seq <= this.#lastCheckpointSeq) return;
    await this.checkpoints
      .create({ _id: head.seq, hash: head.hash, at: new Date().toISOString(), mac: checkpointMac(this.#key, head.seq, head.hash) })
      .catch((err: unknown) => {
        if (!isDuplicateKey(err)) throw err;
      });
    this.#lastCheckpointSeq = head.seq;
  }

  /**
   * Verifies every chain up to its head anchor (a consistent point, whatever the writers do
   * meanwhile): the first entry altered or removed, a removed or truncated chain, a rewrite.
   */
  verify(): Promise<ChainVerification> {
    return verifyTrail({ entries: this.entries, anchors: this.anchors, checkpoints: this.checkpoints }, this.#key);
  }

  /** Newest entries first (by time: the chains of several writers interleave), for the admin review screens. */
  async list(filter: { breakGlass?: boolean; patientId?: string; agentUserId?: string }, limit = 100): Promise<AuditEntry[]> {
    const q: Record<string, unknown> = {};
    if (filter.breakGlass !== undefined) q.breakGlass = filter.breakGlass;
    if (filter.patientId) q.patientId = filter.patientId;
    if (filter.agentUserId) q.agentUserId = filter.agentUserId;
    return this.entries.find(q).sort({ recorded: -1, _id: -1 }).limit(Math.min(limit, 1000)).lean();
  }

  /** Batches and entries this process wrote (for benches and metrics). */
  get stats(): { batches: number; entries: number; chainsRegistered: number; chainsLost: number; anchorMoves: number; anchorFailures: number; queued: number } {
    return {
      batches: this.#batches,
      entries: this.#written,
      chainsRegistered: this.#chainsRegistered,
      chainsLost: this.#chainsLost,
      anchorMoves: this.#anchorMoves,
      anchorFailures: this.#anchorFailures,
      queued: this.#queue.length,
    };
  }

  /** Waits until every record() call made so far has been stored (or has failed), and is under the anchor. */
  async flush(): Promise<void> {
    while (this.#writing || this.#queue.length) {
      this.#kick();
      await this.#writing;
    }
    // ... and until the anchor (with its keyed checkpoint) covers them.
    if (this.#anchorTimer) {
      clearTimeout(this.#anchorTimer);
      this.#anchorTimer = null;
      await this.#moveAnchorInTurn();
    } else if (this.#anchorMove) {
      await this.#anchorMove;
    }
  }

  /** Stores what is queued, keeps a last checkpoint and stops the checkpoint timer. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#checkpointTimer) clearInterval(this.#checkpointTimer);
    await this.flush();
    await this.checkpoint().catch(() => undefined);
  }
}

class AppendError extends Error {
  constructor(
    readonly stored: AuditEntry[],
    override readonly cause: unknown,
  ) {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: anything can be thrown
    super((cause as Error)?.message ?? String(cause));
  }
}

function toAuditEvent(input: AuditRecordInput, recorded: string): Record<string, unknown> {
  const type = EVENT_TYPES[input.kind];
  const agentWho = input.agent.userId
    ? { reference: `Practitioner/${input.agent.userId}` }
    : { display: input.agent.login ? `unauthenticated login as ${input.agent.login}` : 'unauthenticated' };
  const entity: Record<string, unknown>[] = [];
  if (input.patientId) {
    entity.push({
      what: { reference: `Patient/${input.patientId}` },
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1', display: 'Person' },
      role: { system: OBJECT_ROLE, code: '1', display: 'Patient' },
    });
  }
  for (const ref of input.entities ?? []) entity.push({ what: { reference: ref } });
  return {
    resourceType: 'AuditEvent',
    id: randomUUID(),
    extension: [{ url: HOICHAN_KIND_EXT, valueString: input.kind }],
    type,
    ...(input.kind === 'logout' ? { subtype: [{ system: DCM, code: '110123', display: 'Logout' }] } : {}),
    ...(input.kind === 'login' ? { subtype: [{ system: DCM, code: '110122', display: 'Login' }] } : {}),
    action: input.action,
    recorded,
    outcome: input.success ? '0' : '4',
    ...(input.outcomeDesc ? { outcomeDesc: input.outcomeDesc } : {}),
    ...(input.breakGlassReason
      ? {
          purposeOfEvent: [
            {
              coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'BTG', display: 'break the glass' }],
              text: input.breakGlassReason,
            },
          ],
        }
      : {}),
    agent: [
      {
        who: agentWho,
        requestor: true,
        ...(input.agent.role ? { role: [{ text: input.agent.role }] } : {}),
        ...(input.agent.ip ? { network: { address: input.agent.ip, type: '2' } } : {}),
      },
      // The user's facility: its own agent (R4's agent.location may only point at a Location).
      ...(input.agent.facilityId
        ? [{ type: { text: 'facility of the requesting user' }, who: { reference: `Organization/${input.agent.facilityId}` }, requestor: false }]
        : []),
    ],
    source: {
      observer: { display: 'hoichan' },
      type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }],
    },
    ...(entity.length ? { entity } : {}),
    ...(input.requestId ? { meta: { tag: [{ system: 'http://hoichan.vn/request-id', code: input.requestId }] } } : {}),
  };
}

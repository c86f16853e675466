import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
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
import { canonicalJson, sha256Hex } from '../integrity/canonical-json';

export const GENESIS_HASH = '0'.repeat(64);
const APPEND_RETRY_MS = 10_000;
/** How long a lost race counts as another writer being active. */
const CONTENDED_MS = 5000;

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

export interface ChainVerification {
  ok: boolean;
  entries: number;
  /** First sequence number found altered, removed or out of chain. */
  firstBadSeq?: number;
  problem?: 'altered' | 'removed' | 'chain-broken' | 'truncated' | 'rewritten';
  message: string;
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

/**
 * SHA-256 over canonical JSON of {seq, prevHash, event}, given the event's canonical JSON text: RFC 8785
 * orders the members event, prevHash, seq, so this is byte for byte `canonicalJson({ seq, prevHash, event })`
 * without canonicalising the event a second time (stored entries keep exactly that text).
 */
function hashOf(seq: number, prevHash: string, eventJson: string): string {
  return sha256Hex(`{"event":${eventJson},"prevHash":${canonicalJson(prevHash)},"seq":${canonicalJson(seq)}}`);
}

/** The keyed checkpoint of a head: HMAC-SHA256(key, "hoichan-audit-head|seq|hash"). */
export function checkpointMac(key: string, seq: number, hash: string): string {
  return createHmac('sha256', key).update(`hoichan-audit-head|${seq}|${hash}`).digest('hex');
}

function macMatches(key: string, seq: number, hash: string, mac: string | undefined): boolean {
  if (typeof mac !== 'string' || mac.length !== 64) return false;
  return timingSafeEqual(Buffer.from(checkpointMac(key, seq, hash), 'hex'), Buffer.from(mac, 'hex'));
}

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
  /** While entries keep coming, the head anchor moves at most this often (ms); when the queue runs empty, at once. Default 100. */
  anchorIntervalMs?: number;
}

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
 * entry's hash; the sequence number is the document id, so two writers (even on two servers)
 * cannot both take one number: the loser retries on the new head.
 *
 * Group commit: `record()` queues the entry; while one batch is being written the next ones
 * gather (a batch starts at most every `batchIntervalMs`, 20 ms), and each batch is one `insertMany`. A
 * `record()` resolves when its batch is stored. Requests never wait for each other's entries one
 * by one. The head anchor moves after a batch when nothing else is queued (so a caller that verifies
 * next finds its entries under the anchor), while entries keep coming at most every
 * `anchorIntervalMs` (100 ms: a move costs the database as much as an insert), and after every
 * batch while another process writes too (see `#contendedUntil`).
 */
export class AuditLog {
  #queue: Pending[] = [];
  #writing: Promise<void> | null = null;
  /** The newest entry this process knows of; re-read from the database after a lost race or an error. */
  #head: { seq: number; hash: string } | null = null;
  /** An entry known stored, where re-reading the head starts after a lost race or an error. */
  #lastKnown: { seq: number; hash: string } | null = null;
  /** What this process last moved the anchor to, and when (performance.now()). */
  #anchoredSeq = 0;
  #anchorMovedAt = 0;
  /**
   * Until when (Date.now()) another writer counts as active: this process lost a race, or another one
   * did and flagged it on the anchor (read back with every anchor move). Meanwhile the anchor moves
   * after every batch, so the loser of a race finds the head with one read instead of a walk, and
   * batches start a random moment later, so the two writers' batches drift apart and the loser gets
   * a turn; without it, the writer that knows the head wins every race.
   */
  #contendedUntil = 0;
  #lastBatchAt = -Infinity;
  #lastCheckpointSeq = 0;
  #checkpointTimer: NodeJS.Timeout | null = null;
  #closed = false;
  #batches = 0;
  #written = 0;
  #conflicts = 0;
  #anchorMoves = 0;
  #anchorFailures = 0;
  readonly #key: string;
  readonly #maxBatch: number;
  readonly #lingerMs: number;
  readonly #batchIntervalMs: number;
  readonly #anchorIntervalMs: number;

  private constructor(
    private readonly entries: Model<AuditEntry>,
    private readonly anchors: Model<AuditAnchor>,
    private readonly checkpoints: Model<AuditCheckpoint>,
    opts: AuditLogOptions,
  ) {
    if (!opts.checkpointKey || opts.checkpointKey.length < 32) throw new Error('audit: the checkpoint key must be at least 32 characters');
    this.#key = opts.checkpointKey;
    // FerretDB v1 honours `ordered` only within one internal batch of 100 documents: past that a
    // duplicate-key loser would keep writing after the conflict, so a batch never exceeds 100.
    this.#maxBatch = Math.min(opts.maxBatch ?? 100, 100);
    this.#lingerMs = opts.lingerMs ?? 2;
    this.#batchIntervalMs = opts.batchIntervalMs ?? 20;
    this.#anchorIntervalMs = opts.anchorIntervalMs ?? 100;
    const every = opts.checkpointIntervalMs ?? 10_000;
    if (every > 0) {
      this.#checkpointTimer = setInterval(() => void this.checkpoint().catch(() => undefined), every);
      this.#checkpointTimer.unref();
    }
  }

  /** The driver's collection under the entries model, in the stored shape: appends and the verifier use it as stored. */
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
        // While another process writes too, a random part more: the two writers' batches drift apart,
        // leaving the loser of a race a moment to read the head and write.
        const jitter = Date.now() < this.#contendedUntil ? Math.random() * this.#batchIntervalMs : 0;
        const wait = Math.max(this.#lingerMs, this.#lastBatchAt + this.#batchIntervalMs - performance.now()) + jitter;
        await new Promise<void>((r) => (wait > 0 ? setTimeout(r, wait) : setImmediate(r)));
      }
      this.#lastBatchAt = performance.now();
      const batch = this.#queue.splice(0, this.#maxBatch);
      let docs: AuditEntry[] = [];
      let failure: unknown = null;
      try {
        docs = await this.#append(batch);
      } catch (err) {
        // What was stored before the failure is acknowledged; only the rest fails.
        docs = err instanceof AppendError ? err.stored : [];
        failure = err instanceof AppendError ? err.cause : err;
      }
      const now = performance.now();
      if (!this.#queue.length || now - this.#anchorMovedAt >= this.#anchorIntervalMs || Date.now() < this.#contendedUntil) await this.#anchorHead();
      batch.forEach((p, i) => (i < docs.length ? p.resolve(docs[i] as AuditEntry) : p.reject(failure)));
    }
  }

  /**
   * The newest stored entry: from the head anchor or the newest entry this process knows stored,
   * whichever is further, then forward (other writers may be batches ahead, and the anchor trails
   * the head by up to `anchorIntervalMs`), by point reads (`#forwardFrom`). Only `_id` equality:
   * an index lookup on PostgreSQL (the containment index on `_id`); FerretDB's SQLite backend pushes
   * down only string and ObjectId ids, so there each read of a numbered entry scans the trail, which
   * is why the usual case is a single read. Without either (a new trail) the newest by sort.
   */
  async #readHead(afterLostRace = false): Promise<{ seq: number; hash: string }> {
    const anchor = await this.anchors.findById('head').lean();
    let head: { seq: number; hash: string } | null = anchor ? { seq: anchor.seq, hash: anchor.hash } : null;
    const known = this.#lastKnown;
    // Right after a lost race the entry this process knows is fresh (no read to confirm it: every
    // round trip here is one the winner may use to write its next batch).
    if (known && known.seq > (head?.seq ?? 0) && (afterLostRace || (await this.#entryAt(known.seq))?.hash === known.hash)) head = known;
    if (!head) {
      const newest = await this.entries.findOne({}, { _id: 1, hash: 1 }).sort({ _id: -1 }).lean();
      return newest ? { seq: newest._id, hash: newest.hash } : { seq: 0, hash: GENESIS_HASH };
    }
    return this.#forwardFrom(head);
  }

  /**
   * The newest entry at or after `from` (a stored entry). Usually `from` is the head: one read of the
   * next number says so. Otherwise, entries being dense, the point reads go out together, one round
   * of 8 at a time: 1, 2, 4, … 128 ahead, then 8 points spread over the range between the last found
   * and the first missing, until they are neighbours: a head dozens of entries ahead costs two or
   * three round trips (reads that FerretDB's SQLite backend answers by a scan, so only one in the
   * usual case).
   */
  async #forwardFrom(from: { seq: number; hash: string }): Promise<{ seq: number; hash: string }> {
    const next = await this.#entryAt(from.seq + 1);
    if (!next) return from;
    let head = next;
    let missing = 0;
    while (!missing) {
      const base = head.seq;
      const found = await Promise.all([1, 2, 4, 8, 16, 32, 64, 128].map((d) => this.#entryAt(base + d)));
      const firstGap = found.findIndex((e) => !e);
      head = firstGap === 0 ? head : (found[firstGap < 0 ? found.length - 1 : firstGap - 1] ?? head);
      if (firstGap >= 0) missing = base + 2 ** firstGap;
    }
    while (missing - head.seq > 1) {
      const lo = head.seq;
      const step = (missing - lo) / 9;
      const seqs = [...new Set(Array.from({ length: 8 }, (_, i) => Math.round(lo + step * (i + 1))))].filter((q) => q > lo && q < missing);
      const found = await Promise.all(seqs.map((q) => this.#entryAt(q)));
      const firstGap = found.findIndex((e) => !e);
      if (firstGap !== 0) head = found[firstGap < 0 ? found.length - 1 : firstGap - 1] ?? head;
      if (firstGap >= 0) missing = seqs[firstGap] ?? missing;
    }
    return head;
  }

  async #entryAt(seq: number): Promise<{ seq: number; hash: string } | null> {
    const e = await this.entries.findById(seq, { _id: 1, hash: 1 }).lean();
    return e ? { seq: e._id, hash: e.hash } : null;
  }

  /** Writes one batch on the current head; on a lost race keeps what was stored and retries the rest. */
  async #append(batch: Pending[]): Promise<AuditEntry[]> {
    const stored: AuditEntry[] = [];
    let rest = batch;
    let lostRace = false;
    // Two writer processes on one trail can keep taking a number from each other; give up only after
    // seconds of trying (a lost race costs a few milliseconds), not after a fixed count.
    const giveUpAt = performance.now() + APPEND_RETRY_MS;
    for (let attempt = 0; rest.length && (attempt === 0 || performance.now() < giveUpAt); attempt++) {
      this.#head ??= await this.#readHead(attempt > 0 && lostRace);
      let { seq, hash: prevHash } = this.#head;
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
        this.#lastKnown = this.#head; // stored: read from the database or written by this process
        this.#head = null; // another writer (process) took a number, or the write failed: re-read
        // Ordered insert: a prefix may be stored. Keep exactly the entries whose stored hash is ours
        // (point reads by id: the one query shape every backend answers from its primary key).
        let kept = 0;
        try {
          while (kept < docs.length) {
            const d = docs[kept];
            if (!d) break;
            const found = await this.entries.findById(d._id, { hash: 1 }).lean();
            if (found?.hash !== d.hash) break;
            kept += 1;
          }
        } catch {
          throw kept ? new AppendError(docs.slice(0, kept), err) : err;
        }
        stored.push(...docs.slice(0, kept));
        rest = rest.slice(kept);
        const lastKept = kept > 0 ? docs[kept - 1] : undefined;
        if (lastKept) this.#lastKnown = { seq: lastKept._id, hash: lastKept.hash };
        if (!isDuplicateKey(err) && kept < docs.length) {
          const last = stored[stored.length - 1];
          if (last) await this.#moveAnchor(last._id, last.hash).catch(() => undefined);
          throw new AppendError(stored, err);
        }
        this.#conflicts += 1;
        lostRace = true;
        await this.#flagContention();
        // Lost a race with another process: step back a random moment so the two stop colliding.
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 * (attempt + 1))));
      }
    }
    if (rest.length) throw new AppendError(stored, new Error(`audit: could not append in ${APPEND_RETRY_MS / 1000} s of lost races`));
    const last = stored[stored.length - 1];
    this.#batches += 1;
    this.#written += stored.length;
    if (last) this.#head = { seq: last._id, hash: last.hash };
    return stored;
  }

  /** Moves the anchor to this process's head (after an error: the newest entry it knows stored), if further; a failure is left to the next move. */
  async #anchorHead(): Promise<void> {
    const head = this.#head ?? this.#lastKnown;
    this.#anchorMovedAt = performance.now();
    if (!head || head.seq <= this.#anchoredSeq) return;
    try {
      await this.#moveAnchor(head.seq, head.hash);
      this.#anchoredSeq = head.seq;
      this.#anchorMoves += 1;
    } catch {
      // stored is stored: the entries are there, the next move covers them
      this.#anchorFailures += 1;
    }
  }

  /** The head anchor only moves forward; with its keyed checkpoint. Learns whether another writer flagged contention. */
  async #moveAnchor(seq: number, hash: string): Promise<void> {
    const mac = checkpointMac(this.#key, seq, hash);
    const before = await this.anchors
      .findOneAndUpdate({ _id: 'head', seq: { $lt: seq } }, { $set: { seq, hash, mac } }) // no projection: FerretDB v1 takes none here
      .lean();
    if (before) {
      this.#contendedUntil = Math.max(this.#contendedUntil, before.contendedUntil ?? 0);
      return;
    }
    await this.anchors.create({ _id: 'head', seq, hash, mac }).catch((err: unknown) => {
      if (!isDuplicateKey(err)) throw err; // exists and is already further on (another process)
    });
  }

  /** After a lost race: contended here, and (at most every few seconds) flagged on the anchor for the other writers. */
  async #flagContention(): Promise<void> {
    const now = Date.now();
    const stale = this.#contendedUntil - now < CONTENDED_MS / 2;
    this.#contendedUntil = now + CONTENDED_MS;
    if (stale) await this.anchors.updateOne({ _id: 'head' }, { $set: { contendedUntil: this.#contendedUntil } }).catch(() => undefined);
  }

  /** Keeps the current head as a keyed checkpoint (done every few seconds and at shutdown). */
  async checkpoint(): Promise<void> {
    const head = this.#head;
    if (!head || head.seq === 0 || head.seq <= this.#lastCheckpointSeq) return;
    await this.checkpoints
      .create({ _id: head.seq, hash: head.hash, at: new Date().toISOString(), mac: checkpointMac(this.#key, head.seq, head.hash) })
      .catch((err: unknown) => {
        if (!isDuplicateKey(err)) throw err;
      });
    this.#lastCheckpointSeq = head.seq;
  }

  /**
   * Walks the chain up to the head anchor (a consistent point: every entry up to it is stored, while
   * later ones may still be arriving) and names the first entry that was altered or removed. The
   * keyed head and checkpoints catch a rewrite with recomputed hashes and say where it starts.
   */
  async verify(): Promise<ChainVerification> {
    const anchor = await this.anchors.findById('head').lean();
    const headSeq = anchor?.seq ?? 0;
    if (anchor && !macMatches(this.#key, anchor.seq, anchor.hash, anchor.mac)) {
      // Someone wrote the head without the key. Find where the chain stops agreeing with the checkpoints.
      const where = await this.#rewriteStart(Number.MAX_SAFE_INTEGER);
      return {
        ok: false,
        entries: 0,
        firstBadSeq: where.from,
        problem: 'rewritten',
        message: `The head of the audit trail (entry ${anchor.seq}) does not carry a valid keyed checkpoint: the trail was rewritten ${where.text}`,
      };
    }
    const checkpoints = new Map<number, AuditCheckpoint>();
    for (const c of await this.checkpoints.find({ _id: { $lte: headSeq } }).lean()) checkpoints.set(c._id, c);
    let lastGoodCheckpoint = 0;
    let expectedSeq = 1;
    let prevHash = GENESIS_HASH;
    let count = 0;
    // The stored shape, through the driver: the hash is checked over `eventJson` exactly as stored.
    const cursor = this.#rows.find({ _id: { $lte: headSeq } }, { sort: { _id: 1 }, batchSize: 1000 });
    for await (const entry of cursor) {
      count += 1;
      if (entry._id !== expectedSeq) {
        return {
          ok: false,
          entries: count,
          firstBadSeq: expectedSeq,
          problem: 'removed',
          message: `Audit entry ${expectedSeq} is missing (next present entry is ${entry._id})`,
        };
      }
      if (entry.prevHash !== prevHash) {
        return {
          ok: false,
          entries: count,
          firstBadSeq: entry._id,
          problem: 'chain-broken',
          message: `Audit entry ${entry._id} does not link to the entry before it`,
        };
      }
      if (!storedEntryIntact(entry)) {
        return { ok: false, entries: count, firstBadSeq: entry._id, problem: 'altered', message: `Audit entry ${entry._id} was altered after it was written` };
      }
      const cp = checkpoints.get(entry._id);
      if (cp) {
        if (!macMatches(this.#key, cp._id, cp.hash, cp.mac)) {
          return {
            ok: false,
            entries: count,
            firstBadSeq: cp._id,
            problem: 'rewritten',
            message: `The checkpoint at audit entry ${cp._id} was not written with the audit key`,
          };
        }
        if (cp.hash !== entry.hash) {
          return {
            ok: false,
            entries: count,
            firstBadSeq: lastGoodCheckpoint + 1,
            problem: 'rewritten',
            message: `The audit trail was rewritten: entries after ${lastGoodCheckpoint} (the last keyed checkpoint that agrees) up to ${cp._id} no longer match the checkpoint`,
          };
        }
        lastGoodCheckpoint = cp._id;
      }
      prevHash = entry.hash;
      expectedSeq += 1;
    }
    if (anchor && anchor.seq >= expectedSeq) {
      return {
        ok: false,
        entries: count,
        firstBadSeq: expectedSeq,
        problem: 'truncated',
        message: `Audit entries from ${expectedSeq} to ${anchor.seq} were removed from the end of the trail`,
      };
    }
    if (anchor && anchor.hash !== prevHash) {
      return {
        ok: false,
        entries: count,
        firstBadSeq: lastGoodCheckpoint + 1,
        problem: 'rewritten',
        message: `The audit trail was rewritten after entry ${lastGoodCheckpoint} (the last keyed checkpoint that agrees): entry ${anchor.seq} does not match the keyed head`,
      };
    }
    if (!anchor && count === 0) {
      const any = await this.entries.findOne({}, { _id: 1 }).lean();
      if (any)
        return { ok: false, entries: 0, firstBadSeq: 1, problem: 'rewritten', message: 'Audit entries exist but the keyed head of the trail is missing' };
    }
    return { ok: true, entries: count, message: `Audit trail intact: ${count} entries` };
  }

  /** The first entry after the newest checkpoint that still agrees with the stored chain. */
  async #rewriteStart(upTo: number): Promise<{ from: number; text: string }> {
    const cps = await this.checkpoints
      .find({ _id: { $lte: upTo } })
      .sort({ _id: -1 })
      .lean();
    for (const cp of cps) {
      if (!macMatches(this.#key, cp._id, cp.hash, cp.mac)) continue;
      const e = await this.entries.findById(cp._id, { hash: 1 }).lean();
      if (e && e.hash === cp.hash) return { from: cp._id + 1, text: `after entry ${cp._id} (the newest keyed checkpoint that still agrees)` };
    }
    return { from: 1, text: 'from its first entry (no keyed checkpoint agrees)' };
  }

  /** Newest entries first, for the admin review screens. */
  async list(filter: { breakGlass?: boolean; patientId?: string; agentUserId?: string }, limit = 100): Promise<AuditEntry[]> {
    const q: Record<string, unknown> = {};
    if (filter.breakGlass !== undefined) q.breakGlass = filter.breakGlass;
    if (filter.patientId) q.patientId = filter.patientId;
    if (filter.agentUserId) q.agentUserId = filter.agentUserId;
    return this.entries.find(q).sort({ _id: -1 }).limit(Math.min(limit, 1000)).lean();
  }

  /** Batches and entries this process wrote (for benches and metrics). */
  get stats(): { batches: number; entries: number; conflicts: number; anchorMoves: number; anchorFailures: number; queued: number } {
    return {
      batches: this.#batches,
      entries: this.#written,
      conflicts: this.#conflicts,
      anchorMoves: this.#anchorMoves,
      anchorFailures: this.#anchorFailures,
      queued: this.#queue.length,
    };
  }

  /** Waits until every record() call made so far has been stored (or has failed). */
  async flush(): Promise<void> {
    while (this.#writing || this.#queue.length) {
      this.#kick();
      await this.#writing;
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

function isDuplicateKey(err: unknown): boolean {
  const e = err as { code?: number; writeErrors?: { code?: number }[] };
  return e.code === 11000 || (Array.isArray(e.writeErrors) && e.writeErrors.some((w) => w.code === 11000));
}

/**
 * The stored entry still hashes to its `hash`, and its flat query fields say what the hashed event
 * says (else someone edited the text, the nested event or a field the admin filters use). Both
 * shapes: `eventJson` (hashed as stored) and the nested `event` of entries written before it.
 */
function storedEntryIntact(entry: StoredAuditEntry): boolean {
  let event: unknown;
  if (typeof entry.eventJson === 'string') {
    if (hashOf(entry._id, entry.prevHash, entry.eventJson) !== entry.hash) return false;
    try {
      event = JSON.parse(entry.eventJson);
    } catch {
      return false;
    }
  } else {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stored data: a field may have been edited into anything
    if (typeof entry.event !== 'object' || entry.event === null) return false;
    if (hashOf(entry._id, entry.prevHash, canonicalJson(entry.event)) !== entry.hash) return false;
    event = entry.event;
  }
  return typeof event === 'object' && event !== null && flatFieldsAgree(entry, event);
}

interface AuditEventFacts {
  action?: string;
  recorded?: string;
  outcome?: string;
  extension?: { url?: string; valueString?: string }[];
  agent?: { who?: { reference?: string } }[];
  entity?: { what?: { reference?: string }; role?: { system?: string; code?: string } }[];
}

/** The flat query fields must say what the hashed event says, or the entry was edited. */
function flatFieldsAgree(entry: StoredAuditEntry, ev: AuditEventFacts): boolean {
  const kind = ev.extension?.find((e) => e.url === HOICHAN_KIND_EXT)?.valueString;
  const who = ev.agent?.[0]?.who?.reference;
  const patient = ev.entity?.find((e) => e.role?.system === OBJECT_ROLE && e.role.code === '1')?.what?.reference;
  return (
    ev.action === entry.action &&
    ev.recorded === entry.recorded &&
    kind === entry.kind &&
    entry.breakGlass === (kind === 'break-glass') &&
    entry.success === (ev.outcome === '0') &&
    // an empty id was never written into the event (see toAuditEvent)
    (entry.agentUserId || undefined) === (who?.startsWith('Practitioner/') ? who.slice('Practitioner/'.length) : undefined) &&
    (entry.patientId || undefined) === (patient?.startsWith('Patient/') ? patient.slice('Patient/'.length) : undefined)
  );
}

const HOICHAN_KIND_EXT = 'http://hoichan.vn/fhir/StructureDefinition/audit-kind';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';

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

import { randomUUID } from 'node:crypto';
import type { Connection, Model } from 'mongoose';
import { auditAnchorModel, auditEntryModel, type AuditAnchor, type AuditEntry } from '../../models/audit-entry';
import { canonicalJson, sha256Hex } from '../integrity/canonical-json';

export const GENESIS_HASH = '0'.repeat(64);

export type AuditKind =
  | 'login'
  | 'logout'
  | 'token-refresh'
  | 'patient-record'
  | 'break-glass'
  | 'consult'
  | 'imaging'
  | 'admin'
  | 'access-denied';

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
  problem?: 'altered' | 'removed' | 'chain-broken' | 'truncated';
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

function hashOf(seq: number, prevHash: string, event: Record<string, unknown>): string {
  return sha256Hex(canonicalJson({ seq, prevHash, event }));
}

/**
 * The append-only, hash-chained audit trail. Each entry is a FHIR AuditEvent plus the previous
 * entry's hash; the sequence number is the document id, so two writers (even on two servers)
 * cannot both take one number: the loser retries on the new head.
 */
export class AuditLog {
  #tail: Promise<unknown> = Promise.resolve();
  /** The newest entry this process knows of; re-read from the database after a lost race or an error. */
  #head: { seq: number; hash: string } | null = null;

  private constructor(
    private readonly entries: Model<AuditEntry>,
    private readonly anchors: Model<AuditAnchor>,
  ) {}

  static create(conn: Connection): AuditLog {
    return new AuditLog(auditEntryModel(conn), auditAnchorModel(conn));
  }

  /** Appends one entry. Resolves once it is stored (acknowledged by the database). */
  record(input: AuditRecordInput): Promise<AuditEntry> {
    const next = this.#tail.then(() => this.#append(input));
    this.#tail = next.catch(() => undefined);
    return next;
  }

  async #append(input: AuditRecordInput): Promise<AuditEntry> {
    const recorded = new Date().toISOString();
    const event = toAuditEvent(input, recorded);
    for (let attempt = 0; attempt < 20; attempt++) {
      if (!this.#head) {
        const newest = await this.entries.findOne({}, { _id: 1, hash: 1 }).sort({ _id: -1 }).lean();
        this.#head = newest ? { seq: newest._id, hash: newest.hash } : { seq: 0, hash: GENESIS_HASH };
      }
      const seq = this.#head.seq + 1;
      const prevHash = this.#head.hash;
      const doc: AuditEntry = {
        _id: seq,
        prevHash,
        hash: hashOf(seq, prevHash, event),
        event,
        recorded,
        action: input.action,
        kind: input.kind,
        agentUserId: input.agent.userId,
        patientId: input.patientId,
        breakGlass: input.kind === 'break-glass',
        success: input.success,
      };
      try {
        await this.entries.create(doc);
      } catch (err) {
        this.#head = null; // another writer (process) took this number, or the write failed: re-read
        if ((err as { code?: number }).code === 11000) continue;
        throw err;
      }
      this.#head = { seq, hash: doc.hash };
      await this.anchors.updateOne({ _id: 'head', seq: { $lt: seq } }, { $set: { seq, hash: doc.hash } }).then(async (r) => {
        if (r.matchedCount === 0) await this.anchors.updateOne({ _id: 'head' }, { $setOnInsert: { seq, hash: doc.hash } }, { upsert: true }).catch(() => undefined);
      });
      return doc;
    }
    throw new Error('audit: could not append after 20 attempts');
  }

  /** Walks the whole chain and names the first entry that was altered or removed. */
  async verify(): Promise<ChainVerification> {
    let expectedSeq = 1;
    let prevHash = GENESIS_HASH;
    let count = 0;
    const cursor = this.entries.find({}).sort({ _id: 1 }).lean().cursor({ batchSize: 500 });
    for await (const entry of cursor) {
      count += 1;
      if (entry._id !== expectedSeq) {
        return { ok: false, entries: count, firstBadSeq: expectedSeq, problem: 'removed', message: `Audit entry ${expectedSeq} is missing (next present entry is ${entry._id})` };
      }
      if (entry.prevHash !== prevHash) {
        return { ok: false, entries: count, firstBadSeq: entry._id, problem: 'chain-broken', message: `Audit entry ${entry._id} does not link to the entry before it` };
      }
      if (hashOf(entry._id, entry.prevHash, entry.event) !== entry.hash || !flatFieldsAgree(entry)) {
        return { ok: false, entries: count, firstBadSeq: entry._id, problem: 'altered', message: `Audit entry ${entry._id} was altered after it was written` };
      }
      prevHash = entry.hash;
      expectedSeq += 1;
    }
    const anchor = await this.anchors.findById('head').lean();
    if (anchor && anchor.seq >= expectedSeq) {
      return { ok: false, entries: count, firstBadSeq: expectedSeq, problem: 'truncated', message: `Audit entries from ${expectedSeq} to ${anchor.seq} were removed from the end of the trail` };
    }
    if (anchor && anchor.seq === expectedSeq - 1 && anchor.hash !== prevHash) {
      return { ok: false, entries: count, firstBadSeq: anchor.seq, problem: 'altered', message: `Audit entry ${anchor.seq} does not match the recorded head of the trail` };
    }
    return { ok: true, entries: count, message: `Audit trail intact: ${count} entries` };
  }

  /** Newest entries first, for the admin review screens. */
  async list(filter: { breakGlass?: boolean; patientId?: string; agentUserId?: string }, limit = 100): Promise<AuditEntry[]> {
    const q: Record<string, unknown> = {};
    if (filter.breakGlass !== undefined) q.breakGlass = filter.breakGlass;
    if (filter.patientId) q.patientId = filter.patientId;
    if (filter.agentUserId) q.agentUserId = filter.agentUserId;
    return this.entries.find(q).sort({ _id: -1 }).limit(Math.min(limit, 1000)).lean();
  }

  /** Waits until every record() call made so far has been stored. */
  async flush(): Promise<void> {
    await this.#tail;
  }
}

/** The flat query fields must say what the hashed event says, or the entry was edited. */
function flatFieldsAgree(entry: AuditEntry): boolean {
  const ev = entry.event as { action?: string; recorded?: string; extension?: { url: string; valueString?: string }[] };
  const kind = ev.extension?.find((e) => e.url === HOICHAN_KIND_EXT)?.valueString;
  return ev.action === entry.action && ev.recorded === entry.recorded && kind === entry.kind;
}

const HOICHAN_KIND_EXT = 'http://hoichan.vn/fhir/StructureDefinition/audit-kind';

function toAuditEvent(input: AuditRecordInput, recorded: string): Record<string, unknown> {
  const type = EVENT_TYPES[input.kind];
  const agentWho = input.agent.userId
    ? { reference: `Practitioner/${input.agent.userId}` }
    : { display: input.agent.login ? `unauthenticated login as ${input.agent.login}` : 'unauthenticated' };
  const entity: Record<string, unknown>[] = [];
  if (input.patientId) {
    entity.push({ what: { reference: `Patient/${input.patientId}` }, type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1', display: 'Person' }, role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' } });
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
      ? { purposeOfEvent: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'BTG', display: 'break the glass' }], text: input.breakGlassReason }] }
      : {}),
    agent: [
      {
        who: agentWho,
        requestor: true,
        ...(input.agent.role ? { role: [{ text: input.agent.role }] } : {}),
        ...(input.agent.facilityId ? { location: { reference: `Organization/${input.agent.facilityId}` } } : {}),
        ...(input.agent.ip ? { network: { address: input.agent.ip, type: '2' } } : {}),
      },
    ],
    source: { observer: { display: 'hoichan' }, type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }] },
    ...(entity.length ? { entity } : {}),
    ...(input.requestId ? { meta: { tag: [{ system: 'http://hoichan.vn/request-id', code: input.requestId }] } } : {}),
  };
}

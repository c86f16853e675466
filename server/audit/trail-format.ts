import { createHmac, timingSafeEqual } from 'node:crypto';
import type { StoredAuditEntry } from '../../models/audit-entry';
import { canonicalJson, sha256Hex } from '../integrity/canonical-json';

/**
 * The stored format of the audit trail, shared by the writer (`audit-log.ts`) and the verifier
 * (`verify-trail.ts`).
 *
 * The trail is a set of hash chains, one per writer process: each process registers a chain of its
 * own when it first writes, so two processes never compete for a sequence number. Chain n owns the
 * entry ids n × CHAIN_SPAN + 1, + 2, … (a number, as before: the admin lists and the FHIR output see
 * the same `_id`); its head anchor is `chain-n`. Chain 0 is the single trail written before chains
 * existed (entry ids 1, 2, …, anchor `head`): it stays readable and verifiable as it is.
 */
export const GENESIS_HASH = '0'.repeat(64);

/** Ids per chain: 10^10 entries (over 200 days of 500 entries/s in one process; a writer moves to a new chain before the end). */
export const CHAIN_SPAN = 10_000_000_000;

/** The anchor document that lists how many chains were registered (its `seq`), keyed. */
export const REGISTER_ID = 'chains';

export const chainOf = (id: number): number => Math.floor(id / CHAIN_SPAN);
/** The id before a chain's first entry: what its anchor says while it is empty. */
export const chainBase = (chain: number): number => chain * CHAIN_SPAN;
export const anchorIdOf = (chain: number): string => (chain === 0 ? 'head' : `chain-${chain}`);

/** Where an entry id sits: its chain, and its place in that chain (1, 2, …). */
export function placeOf(id: number): { chain: number; entryInChain: number } {
  const chain = chainOf(id);
  return { chain, entryInChain: id - chainBase(chain) };
}

/** How an entry is named to an administrator: its id (the `seq` the admin list shows), and its chain's own number. */
export function entryName(id: number): string {
  const { chain, entryInChain } = placeOf(id);
  return chain === 0 ? `${id}` : `${id} (chain ${chain}, entry ${entryInChain})`;
}

/**
 * SHA-256 over canonical JSON of {seq, prevHash, event}, given the event's canonical JSON text: RFC 8785
 * orders the members event, prevHash, seq, so this is byte for byte `canonicalJson({ seq, prevHash, event })`
 * without canonicalising the event a second time (stored entries keep exactly that text). `seq` is the
 * entry id, so the hash binds an entry to its chain and place.
 */
export function hashOf(seq: number, prevHash: string, eventJson: string): string {
  return sha256Hex(`{"event":${eventJson},"prevHash":${canonicalJson(prevHash)},"seq":${canonicalJson(seq)}}`);
}

/** The keyed checkpoint of a head: HMAC-SHA256(key, "hoichan-audit-head|seq|hash"); `seq` is the entry id, so it names the chain too. */
export function checkpointMac(key: string, seq: number, hash: string): string {
  return createHmac('sha256', key).update(`hoichan-audit-head|${seq}|${hash}`).digest('hex');
}

/** The keyed count of registered chains: HMAC-SHA256(key, "hoichan-audit-chains|count"). */
export function registerMac(key: string, count: number): string {
  return createHmac('sha256', key).update(`hoichan-audit-chains|${count}`).digest('hex');
}

function sameMac(expected: string, mac: string | undefined): boolean {
  if (typeof mac !== 'string' || mac.length !== 64) return false;
  return timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(mac, 'hex'));
}

export const macMatches = (key: string, seq: number, hash: string, mac: string | undefined): boolean => sameMac(checkpointMac(key, seq, hash), mac);
export const registerMacMatches = (key: string, count: number, mac: string | undefined): boolean => sameMac(registerMac(key, count), mac);

export function isDuplicateKey(err: unknown): boolean {
  const e = err as { code?: number; writeErrors?: { code?: number }[] };
  return e.code === 11000 || (Array.isArray(e.writeErrors) && e.writeErrors.some((w) => w.code === 11000));
}

export const HOICHAN_KIND_EXT = 'http://hoichan.vn/fhir/StructureDefinition/audit-kind';
export const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';

/**
 * The stored entry still hashes to its `hash`, and its flat query fields say what the hashed event
 * says (else someone edited the text, the nested event or a field the admin filters use). Both
 * shapes: `eventJson` (hashed as stored) and the nested `event` of entries written before it.
 */
export function storedEntryIntact(entry: StoredAuditEntry): boolean {
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

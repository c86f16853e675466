/**
 * The patient record's operations on behalf of a caller: validate, resolve references, apply the
 * access policy, write (versioned), refresh the care team, audit and announce. Used by the FHIR
 * routes, Bundle processing, $summary/$everything and the PatientRecords API of other features.
 */
import type { Connection } from 'mongoose';
import type { FhirResource } from '../../contracts/fhir';
import type { AuditAction } from '../audit/audit-log';
import { ForbiddenError, InvalidInputError } from '../http/errors';
import type { Caller, RequestContext } from '../http/request-context';
import type { DomainEvents } from '../platform/domain-events';
import { RecordAccess } from './record-access';
import { summaryMembers } from './summary';
import { findReferences, ReferenceResolver } from './references';
import { newId, refKey, ResourceStore, type WritePlan, type WriteResult } from './resource-store';
import { extractKeys } from './search-params';
import { validateResource } from './validation';

/** A caller: a signed-in user, or the platform itself (AI triage results and the like). */
export type Actor = { kind: 'user'; caller: Caller } | { kind: 'system'; reason: string };

/** The $summary members of a compartment (the whole compartment when its Patient is missing). */
function summaryOf(patientId: string, resources: FhirResource[]): FhirResource[] {
  const self = resources.find((r) => r.resourceType === 'Patient' && r.id === patientId);
  return self ? summaryMembers(self, resources) : [...resources];
}

const ACTION: Record<WritePlan['method'], AuditAction> = { POST: 'C', PUT: 'U', DELETE: 'D' };

/** Compartments kept in memory (patients), newest use last; every write through commit() invalidates. */
const COMPARTMENT_CACHE_SIZE = 200;

export class RecordService {
  readonly refs: ReferenceResolver;
  /**
   * Patient compartments read for $summary/$everything. FerretDB v1 scans the collection for
   * non-_id filters, so the compartment is cached; all writes go through commit(), which drops the
   * touched patients' entries (this process is the only writer of fhir_resources).
   */
  readonly #compartments = new Map<string, { version: number; resources: FhirResource[] }>();

  constructor(
    readonly store: ResourceStore,
    readonly access: RecordAccess,
    conn: Connection,
    private readonly events: DomainEvents,
    private readonly audit: import('../audit/audit-log').AuditLog,
    /** Patients whose compartment is kept in memory; 0 = none (right with several server processes). */
    private readonly compartmentCacheSize = COMPARTMENT_CACHE_SIZE,
  ) {
    this.refs = new ReferenceResolver(store, conn);
  }

  /** Structural validation; throws 400 with each offending path. */
  validate(resource: unknown, base?: string): asserts resource is FhirResource {
    const issues = validateResource(resource, base);
    if (issues.length) throw new InvalidInputError(issues.map((i) => i.message).join('; '), issues.map((i) => i.expression));
  }

  /** Reads one current resource; patient data needs read access (audited). */
  async read(caller: Caller, type: string, id: string, ctx?: RequestContext): Promise<FhirResource> {
    const doc = await this.store.read(type, id);
    if (doc.patientId) await this.access.enforce(caller, doc.patientId, 'R', ctx, [refKey(type, id)]);
    return doc.resource as FhirResource;
  }

  async vread(caller: Caller, type: string, id: string, versionId: number, ctx?: RequestContext): Promise<FhirResource> {
    const h = await this.store.vread(type, id, versionId);
    const current = await this.store.doc(type, id);
    const patientId = current?.patientId ?? h.patientId;
    if (patientId) await this.access.enforce(caller, patientId, 'R', ctx, [`${refKey(type, id)}/_history/${versionId}`]);
    return h.resource as FhirResource;
  }

  async history(caller: Caller, type: string, id: string, ctx?: RequestContext) {
    const current = await this.store.doc(type, id);
    const versions = await this.store.instanceHistory(type, id);
    if (!current && !versions.length) await this.store.read(type, id); // 404
    const patientIds = new Set([current?.patientId, ...versions.map((v) => v.patientId)].filter((p): p is string => !!p));
    for (const p of patientIds) await this.access.enforce(caller, p, 'R', ctx, [`${refKey(type, id)}/_history`]);
    return versions;
  }

  /**
   * Applies write plans all-or-nothing after checking references and access for every patient
   * compartment touched (before and after). `local` names keys created in the same request.
   */
  async commit(actor: Actor, plans: WritePlan[], ctx?: RequestContext, notes: Map<string, string> = new Map()): Promise<WriteResult[]> {
    const items = plans.filter((p) => p.resource).map((p) => ({ resource: p.resource as FhirResource, base: (p as WritePlan & { base?: string }).base ?? p.type }));
    const local = new Set(plans.filter((p) => p.method !== 'DELETE').map((p) => refKey(p.type, p.id)));
    const problems = await this.refs.check(items, local);
    if (problems.length) throw new InvalidInputError(problems.map((p) => `${p.path}: ${p.message}`).join('; '), problems.map((p) => p.path), 422);

    // Which patient compartments are touched, and which of them are new patients.
    const prevDocs = new Map<string, { patientId?: string }>();
    const updateKeys = plans.filter((p) => p.method !== 'POST').map((p) => refKey(p.type, p.id));
    if (updateKeys.length) {
      for (const d of await this.store.docsByKeys<{ _id: string; patientId?: string }>(updateKeys, { patientId: 1 }, { currentOnly: true })) prevDocs.set(d._id, d);
    }
    const newPatients = new Set(plans.filter((p) => p.type === 'Patient' && p.method !== 'DELETE' && !prevDocs.has(refKey('Patient', p.id))).map((p) => p.id));
    const touched = new Map<string, { actions: Set<AuditAction>; entities: string[] }>();
    const touch = (patientId: string | undefined, plan: WritePlan) => {
      if (!patientId) return;
      const t = touched.get(patientId) ?? { actions: new Set(), entities: [] };
      t.actions.add(ACTION[plan.method]);
      t.entities.push(refKey(plan.type, plan.id));
      touched.set(patientId, t);
    };
    for (const p of plans) {
      touch(prevDocs.get(refKey(p.type, p.id))?.patientId, p);
      if (p.resource) touch(extractKeys({ ...p.resource, id: p.id }).patientId, p);
    }
    for (const p of plans) if (p.type === 'Patient' && newPatients.has(p.id) && actor.kind === 'user') p.registeredByFacilityId = actor.caller.facilityId;

    const decisions = new Map<string, Awaited<ReturnType<RecordAccess['check']>>>();
    if (actor.kind === 'user') {
      if (actor.caller.role === 'admin' && touched.size) {
        const [patientId, t] = [...touched][0] as [string, { actions: Set<AuditAction>; entities: string[] }];
        const denial = { allow: false, reason: 'The admin role gives no clinical access to patient records' };
        await this.access.auditDecision(actor.caller, patientId, firstAction(t.actions), ctx, t.entities, denial);
        throw new ForbiddenError(denial.reason);
      }
      for (const [patientId, t] of touched) {
        if (newPatients.has(patientId)) {
          decisions.set(patientId, { allow: true, basis: 'care-team', reason: `registering a new patient at ${actor.caller.facilityId}` });
          continue;
        }
        const d = await this.access.check(actor.caller, patientId, 'write');
        if (!d.allow) {
          await this.access.auditDecision(actor.caller, patientId, firstAction(t.actions), ctx, t.entities, d);
          throw new ForbiddenError(d.reason);
        }
        decisions.set(patientId, d);
      }
    }

    let results: WriteResult[];
    try {
      results = await this.store.applyAll(plans);
    } finally {
      for (const patientId of touched.keys()) this.#compartments.delete(patientId);
    }

    for (const patientId of touched.keys()) await this.store.refreshCareTeam(patientId);
    for (const [patientId, t] of touched) {
      const action: AuditAction = t.actions.size === 1 ? firstAction(t.actions) : 'U';
      const note = notes.get(patientId);
      if (actor.kind === 'user') await this.access.auditDecision(actor.caller, patientId, action, ctx, t.entities, decisions.get(patientId) ?? { allow: true, reason: 'allowed' }, note);
      else await this.audit.record({ kind: 'patient-record', action, success: true, outcomeDesc: `system: ${actor.reason}`.slice(0, 300), agent: { role: 'system' }, patientId, entities: t.entities.slice(0, 50), requestId: ctx?.requestId });
    }
    const byUserId = actor.kind === 'user' ? actor.caller.userId : undefined;
    for (const r of results) {
      if (!r.patientId) continue;
      this.events.emit('record.changed', { patientId: r.patientId, resourceType: r.type, resourceId: r.id, change: r.deleted ? 'deleted' : r.created ? 'created' : 'updated', ...(byUserId ? { byUserId } : {}) });
    }
    return results;
  }

  async create(actor: Actor, body: unknown, ctx?: RequestContext, expectedType?: string): Promise<WriteResult> {
    this.validate(body);
    if (expectedType && body.resourceType !== expectedType) throw new InvalidInputError(`The body is a ${body.resourceType}, the URL names ${expectedType}`, ['resourceType']);
    const id = newId();
    const r = only(await this.commit(actor, [{ method: 'POST', type: body.resourceType, id, resource: { ...body, id } }], ctx));
    return r;
  }

  async update(actor: Actor, type: string, id: string, body: unknown, ifMatch: number | undefined, ctx?: RequestContext): Promise<WriteResult> {
    this.validate(body);
    if (body.resourceType !== type) throw new InvalidInputError(`The body is a ${body.resourceType}, the URL names ${type}`, ['resourceType']);
    if (body.id !== undefined && body.id !== id) throw new InvalidInputError(`The body's id (${String(body.id)}) differs from the URL's (${id})`, [`${type}.id`]);
    if (!/^[A-Za-z0-9\-.]{1,64}$/.test(id)) throw new InvalidInputError('Invalid id', [`${type}.id`]);
    const r = only(await this.commit(actor, [{ method: 'PUT', type, id, resource: { ...body, id }, expectedVersion: ifMatch }], ctx));
    return r;
  }

  async remove(actor: Actor, type: string, id: string, ifMatch: number | undefined, ctx?: RequestContext): Promise<WriteResult> {
    await this.store.read(type, id); // 404 / 410 first
    const r = only(await this.commit(actor, [{ method: 'DELETE', type, id, expectedVersion: ifMatch }], ctx));
    return r;
  }

  /** Every current resource of a patient's compartment (after read access, audited). */
  async compartment(caller: Caller | null, patientId: string, ctx?: RequestContext, what = '$everything'): Promise<FhirResource[]> {
    const patient = await this.store.read('Patient', patientId);
    if (caller) await this.access.enforce(caller, patientId, 'R', ctx, [`Patient/${patientId}/${what}`], patient.careTeamFacilityIds);
    // $summary: the members kept per patient (one read by id), valid for this compartment version.
    const version = patient.compartmentVersion ?? 0;
    if (what === '$summary') {
      const members = await this.store.summaryMembers(patientId, version);
      if (members) return members;
    }
    // the cache answers only for the compartment version the Patient document has now (another process may have written)
    const hit = this.compartmentCacheSize > 0 ? this.#compartments.get(patientId) : undefined;
    const cached = hit && hit.version === version ? hit.resources : undefined;
    if (cached) {
      this.#compartments.delete(patientId); // most recently used last
      this.#compartments.set(patientId, { version, resources: cached });
      return what === '$summary' ? summaryOf(patientId, cached) : [...cached];
    }
    const docs = await this.store.resources.find({ patientId, deleted: false }, { resource: 1, type: 1 }).lean<{ _id: string; resource: FhirResource; type: string }[]>();
    // Patient first, then by type and id.
    docs.sort((a, b) => (a.type === 'Patient' ? -1 : b.type === 'Patient' ? 1 : a._id < b._id ? -1 : a._id > b._id ? 1 : 0));
    const resources = docs.map((d) => d.resource);
    if (this.compartmentCacheSize > 0) this.#compartments.set(patientId, { version, resources });
    if (this.#compartments.size > this.compartmentCacheSize) {
      const oldest = this.#compartments.keys().next().value;
      if (oldest !== undefined) this.#compartments.delete(oldest);
    }
    if (what === '$summary') {
      const members = summaryOf(patientId, resources);
      await this.store.saveSummaryMembers(patientId, version, members).catch(() => undefined);
      return members;
    }
    return [...resources];
  }

  /** Non-patient resources the compartment refers to (Organization, Practitioner, Medication, ...), for a self-contained export. */
  async referencedOutside(resources: FhirResource[]): Promise<FhirResource[]> {
    const inside = new Set(resources.map((r) => refKey(r.resourceType, r.id ?? '')));
    const wanted = new Set<string>();
    for (const r of resources) for (const f of findReferences(r)) if (/^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(f.reference) && !inside.has(f.reference)) wanted.add(f.reference);
    if (!wanted.size) return [];
    const docs = (await this.store.docsByKeys<{ resource: FhirResource; patientId?: string }>([...wanted], { resource: 1, patientId: 1 }, { currentOnly: true })).filter((d) => d.patientId === undefined || d.patientId === null);
    return docs.map((d) => d.resource);
  }
}

function firstAction(actions: Set<AuditAction>): AuditAction {
  return actions.values().next().value ?? 'U';
}

function only<T>(list: T[]): T {
  const first = list[0];
  if (first === undefined) throw new Error('expected one write result');
  return first;
}

/**
 * The patient record's operations on behalf of a caller: validate, resolve references, apply the
 * access policy, write (versioned), refresh the care team, audit and announce. Used by the FHIR
 * routes, Bundle processing, $summary/$everything and the PatientRecords API of other features.
 */
import type { Connection } from 'mongoose';
import type { FhirResource } from '../../contracts/fhir';
import type { AuditAction } from '../audit/audit-log';
import type { FhirHistoryDoc } from '../../models/fhir-history';
import { userModel } from '../../models/user';
import { facilityModel } from '../../models/facility';
import { ForbiddenError, InvalidInputError, NotFoundError } from '../platform/errors';
import type { Caller, RequestContext } from '../platform/request-context';
import type { DomainEvents } from '../platform/domain-events';
import { RecordAccess } from './record-access';
import { agentOf } from './break-glass';
import { findReferences, parseLiteral, ReferenceResolver } from './references';
import type { CareTeam } from './care-team';
import { summaryMembers } from './summary';
import { GoneError, newId, refKey, ResourceStore, type WritePlan, type WriteResult } from './resource-store';
import { extractKeys } from './search-params';
import { validateResource } from './validation';

/** A caller: a signed-in user, or the platform itself (AI triage results and the like). */
export type Actor = { kind: 'user'; caller: Caller } | { kind: 'system'; reason: string };

/** The $summary members of a compartment (the whole compartment when its Patient is missing). */
function summaryOf(patientId: string, resources: FhirResource[]): FhirResource[] {
  const self = resources.find((r) => r.resourceType === 'Patient' && r.id === patientId);
  return self ? summaryMembers(self, resources) : [...resources];
}

/** A compartment's resources in the order its $summary and $everything are built from: Patient first, then by type and id. */
function compartmentOrder(docs: { _id: string; type: string; resource: FhirResource }[]): FhirResource[] {
  return [...docs].sort((a, b) => (a.type === 'Patient' ? -1 : b.type === 'Patient' ? 1 : a._id < b._id ? -1 : a._id > b._id ? 1 : 0)).map((d) => d.resource);
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
    readonly audit: import('../audit/audit-log').AuditLog,
    readonly careTeam: CareTeam,
    /** Patients whose compartment is kept in memory; 0 = none (right with several server processes). */
    private readonly compartmentCacheSize = COMPARTMENT_CACHE_SIZE,
  ) {
    this.refs = new ReferenceResolver(store, conn);
    this.#conn = conn;
  }

  readonly #conn: Connection;

  /** Structural validation; throws 400 with each offending path. */
  validate(resource: unknown, base?: string): asserts resource is FhirResource {
    const issues = validateResource(resource, base);
    if (issues.length)
      throw new InvalidInputError(
        issues.map((i) => i.message).join('; '),
        issues.map((i) => i.expression),
      );
  }

  /**
   * Reads one current resource; patient data needs read access (audited). A deleted resource answers
   * 410 only after the access check, so a stranger learns nothing about what was deleted.
   */
  async read(caller: Caller, type: string, id: string, ctx?: RequestContext): Promise<FhirResource> {
    const doc = await this.store.doc(type, id);
    if (!doc) throw new NotFoundError(`${type}/${id} is not known`);
    if (doc.patientId) await this.access.enforce(caller, doc.patientId, 'R', ctx, [refKey(type, id)]);
    if (doc.deleted || !doc.resource) throw new GoneError(`${type}/${id} was deleted`);
    return doc.resource;
  }

  /** One version, checked against the patient that version belonged to. */
  async vread(caller: Caller, type: string, id: string, versionId: number, ctx?: RequestContext): Promise<FhirResource> {
    const h = await this.store.history.findById(`${type}/${id}/_history/${versionId}`).lean<FhirHistoryDoc>();
    if (!h) throw new NotFoundError(`${type}/${id} has no version ${versionId}`);
    if (h.patientId) await this.access.enforce(caller, h.patientId, 'R', ctx, [`${refKey(type, id)}/_history/${versionId}`]);
    if (h.deleted || !h.resource) throw new GoneError(`${type}/${id} version ${versionId} is a deletion`);
    return h.resource;
  }

  /**
   * Instance history: each version is shown only when the caller may read the patient it belonged
   * to; each patient's decision is audited. Nothing readable at all: 403.
   */
  async history(caller: Caller, type: string, id: string, ctx?: RequestContext) {
    const current = await this.store.doc(type, id);
    const versions = await this.store.instanceHistory(type, id);
    if (!current && !versions.length) throw new NotFoundError(`${type}/${id} is not known`);
    const patientIds = [...new Set(versions.map((v) => v.patientId).filter((p): p is string => !!p))];
    const allowed = new Set<string>();
    let firstDenial: string | undefined;
    for (const p of patientIds) {
      const d = await this.access.check(caller, p, 'read');
      await this.access.auditDecision(caller, p, 'R', ctx, [`${refKey(type, id)}/_history`], d);
      if (d.allow) allowed.add(p);
      else firstDenial ??= d.reason;
    }
    const visible = versions.filter((v) => !v.patientId || allowed.has(v.patientId));
    if (!visible.length && firstDenial) throw new ForbiddenError(firstDenial);
    return visible;
  }

  /**
   * Applies write plans all-or-nothing after checking references and access for every patient
   * compartment touched (before and after), and the write rule of resources outside any
   * compartment (DIRECTORY_TYPES: admins; the rest: clinicians). `local` names keys created in the
   * same request. A deleted resource's id stays bound to its patient: writing it again is an update
   * of that patient's record and needs write access to it.
   */
  async commit(actor: Actor, plans: WritePlan[], ctx?: RequestContext, notes: Map<string, string> = new Map()): Promise<WriteResult[]> {
    await this.#bindSecurityContexts(actor, plans);

    // Which patient compartments are touched (deleted versions included), and which are new patients.
    const prevDocs = new Map<string, { patientId?: string; deleted?: boolean }>();
    const updateKeys = plans.filter((p) => p.method !== 'POST').map((p) => refKey(p.type, p.id));
    if (updateKeys.length) {
      for (const d of await this.store.docsByKeys<{ _id: string; patientId?: string; deleted?: boolean }>(updateKeys, { patientId: 1, deleted: 1 }))
        prevDocs.set(d._id, d);
    }
    const newPatients = new Set(plans.filter((p) => p.type === 'Patient' && p.method !== 'DELETE' && !prevDocs.has(refKey('Patient', p.id))).map((p) => p.id));
    const touched = new Map<string, { actions: Set<AuditAction>; entities: string[] }>();
    const touch = (patientId: string | undefined, plan: WritePlan) => {
      if (!patientId) return;
      const t = touched.get(patientId) ?? { actions: new Set(), entities: [] };
      t.actions.add(ACTION[plan.method]);
      if (!t.entities.includes(refKey(plan.type, plan.id))) t.entities.push(refKey(plan.type, plan.id));
      touched.set(patientId, t);
    };
    const outside: WritePlan[] = [];
    for (const p of plans) {
      const before = prevDocs.get(refKey(p.type, p.id))?.patientId;
      const after = p.resource ? (p.accessPatientId ?? extractKeys({ ...p.resource, id: p.id }).patientId) : undefined;
      touch(before, p);
      touch(after, p);
      if (!before && !after) outside.push(p);
    }
    for (const p of plans) if (p.type === 'Patient' && newPatients.has(p.id) && actor.kind === 'user') p.registeredByFacilityId = actor.caller.facilityId;

    const decisions = new Map<string, Awaited<ReturnType<RecordAccess['check']>>>();
    if (actor.kind === 'user') {
      await this.#checkOutsideWrites(actor.caller, outside, ctx);
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

    // References are resolved only after the access check, so "does not exist" (422) never tells a
    // stranger which patients exist: a reference to someone else's patient is a 403 like any other.
    const items = plans
      .filter((p) => p.resource)
      .map((p) => ({ resource: p.resource as FhirResource, base: (p as WritePlan & { base?: string }).base ?? p.type }));
    const local = new Set(plans.filter((p) => p.method !== 'DELETE').map((p) => refKey(p.type, p.id)));
    const problems = await this.refs.check(items, local);
    if (problems.length)
      throw new InvalidInputError(
        problems.map((p) => `${p.path}: ${p.message}`).join('; '),
        problems.map((p) => p.path),
        422,
      );

    let results: WriteResult[];
    try {
      results = await this.store.applyAll(plans);
    } finally {
      for (const patientId of touched.keys()) this.#compartments.delete(patientId);
    }

    // Care teams change only by registration (here) and explicit grants (care-team.ts), never by content.
    for (const patientId of newPatients) await this.careTeam.refresh(patientId);
    await this.#storeSummariesOfNewPatients(plans, results, newPatients);
    for (const [patientId, t] of touched) {
      const action: AuditAction = t.actions.size === 1 ? firstAction(t.actions) : 'U';
      const note = notes.get(patientId);
      if (actor.kind === 'user')
        await this.access.auditDecision(actor.caller, patientId, action, ctx, t.entities, decisions.get(patientId) ?? { allow: true, reason: 'allowed' }, note);
      else
        await this.audit.record({
          kind: 'patient-record',
          action,
          success: true,
          outcomeDesc: `system: ${actor.reason}`.slice(0, 300),
          agent: { role: 'system' },
          patientId,
          entities: t.entities.slice(0, 50),
          requestId: ctx?.requestId,
        });
    }
    for (const p of outside) {
      const agent = actor.kind === 'user' ? agentOf(actor.caller, ctx) : { role: 'system' };
      const why = actor.kind === 'user' ? outsideRule(p.type, p.method).who : `system: ${actor.reason}`;
      await this.audit.record({
        kind: DIRECTORY_TYPES.has(p.type) ? 'admin' : 'patient-record',
        action: ACTION[p.method],
        success: true,
        outcomeDesc: `shared resource outside any patient record (${why})`.slice(0, 300),
        agent,
        entities: [refKey(p.type, p.id)],
        requestId: ctx?.requestId,
      });
    }
    const byUserId = actor.kind === 'user' ? actor.caller.userId : undefined;
    for (const r of results) {
      if (!r.patientId) continue;
      this.events.emit('record.changed', {
        patientId: r.patientId,
        resourceType: r.type,
        resourceId: r.id,
        change: r.deleted ? 'deleted' : r.created ? 'created' : 'updated',
        ...(byUserId ? { byUserId } : {}),
      });
    }
    return results;
  }

  /**
   * A patient created by this request (server-assigned id: nobody else can have written to it yet)
   * has exactly the compartment this request wrote, at compartment version 1 (its first bump): its
   * $summary members are stored now, so the first read (after an import, after a restart, on any
   * process) is one read by id instead of rebuilding from the compartment.
   */
  async #storeSummariesOfNewPatients(plans: WritePlan[], results: WriteResult[], newPatients: Set<string>): Promise<void> {
    for (const patientId of newPatients) {
      if (!plans.some((p) => p.type === 'Patient' && p.id === patientId && p.method === 'POST')) continue;
      const resources = compartmentOrder(
        results
          .filter((r) => r.patientId === patientId && !r.deleted && r.resource)
          .map((r) => ({ _id: refKey(r.type, r.id), type: r.type, resource: r.resource as FhirResource })),
      );
      await this.store.saveSummaryMembers(patientId, 1, summaryOf(patientId, resources)).catch(() => undefined); // rebuilt on first read if this fails
    }
  }

  /**
   * Binary.securityContext decides who may read a Binary: the Patient it names, or the patient of
   * the resource it names (a DocumentReference, ...). A clinician's Binary must carry one.
   */
  async #bindSecurityContexts(actor: Actor, plans: WritePlan[]): Promise<void> {
    for (const p of plans) {
      if (p.type !== 'Binary' || !p.resource) continue;
      const sc = (p.resource as { securityContext?: { reference?: unknown } }).securityContext;
      const ref = typeof sc?.reference === 'string' ? parseLiteral(sc.reference) : null;
      if (!ref) {
        if (actor.kind === 'user')
          throw new InvalidInputError(
            'Binary.securityContext: a Binary needs a securityContext (Patient/<id> or a resource of the patient record) that decides who may read it',
            ['Binary.securityContext'],
          );
        continue;
      }
      if (ref.type === 'Patient') {
        p.accessPatientId = ref.id;
        continue;
      }
      const sameRequest = plans.find((q) => q.type === ref.type && q.id === ref.id && q.resource);
      const patientId = sameRequest?.resource
        ? extractKeys({ ...sameRequest.resource, id: sameRequest.id }).patientId
        : (await this.store.doc(ref.type, ref.id))?.patientId;
      if (patientId) p.accessPatientId = patientId;
    }
  }

  /** The write rule for resources outside every patient compartment; refusals are audited. */
  async #checkOutsideWrites(caller: Caller, outside: WritePlan[], ctx?: RequestContext): Promise<void> {
    for (const p of outside) {
      const rule = outsideRule(p.type, p.method);
      let refusal: string | null = rule.roles.includes(caller.role) ? null : `${p.type} is written by ${rule.who}`;
      if (!refusal && (p.type === 'Practitioner' || p.type === 'Organization') && p.method !== 'POST') {
        const platformOwned =
          p.type === 'Practitioner' ? await userModel(this.#conn).exists({ _id: p.id }) : await facilityModel(this.#conn).exists({ _id: p.id });
        if (platformOwned)
          refusal = `${p.type}/${p.id} is the platform's own ${p.type === 'Practitioner' ? 'user account' : 'facility'}; change it in /api/admin`;
      }
      if (refusal) {
        await this.audit.record({
          kind: 'access-denied',
          action: ACTION[p.method],
          success: false,
          outcomeDesc: refusal.slice(0, 300),
          agent: agentOf(caller, ctx),
          entities: [refKey(p.type, p.id)],
          requestId: ctx?.requestId,
        });
        throw new ForbiddenError(refusal);
      }
    }
  }

  async create(actor: Actor, body: unknown, ctx?: RequestContext, expectedType?: string): Promise<WriteResult> {
    this.validate(body);
    if (expectedType && body.resourceType !== expectedType)
      throw new InvalidInputError(`The body is a ${body.resourceType}, the URL names ${expectedType}`, ['resourceType']);
    const id = newId();
    const r = only(await this.commit(actor, [{ method: 'POST', type: body.resourceType, id, resource: { ...body, id } }], ctx));
    return r;
  }

  async update(actor: Actor, type: string, id: string, body: unknown, ifMatch: number | undefined, ctx?: RequestContext): Promise<WriteResult> {
    this.validate(body);
    if (body.resourceType !== type) throw new InvalidInputError(`The body is a ${body.resourceType}, the URL names ${type}`, ['resourceType']);
    if (body.id !== undefined && body.id !== id)
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion -- runtime input: the value comes from the request body/params and is not guaranteed a string
      throw new InvalidInputError(`The body's id (${String(body.id)}) differs from the URL's (${id})`, [`${type}.id`]);
    if (!/^[A-Za-z0-9\-.]{1,64}$/.test(id)) throw new InvalidInputError('Invalid id', [`${type}.id`]);
    const r = only(await this.commit(actor, [{ method: 'PUT', type, id, resource: { ...body, id }, expectedVersion: ifMatch }], ctx));
    return r;
  }

  async remove(actor: Actor, type: string, id: string, ifMatch: number | undefined, ctx?: RequestContext): Promise<WriteResult> {
    const doc = await this.store.doc(type, id);
    if (!doc) throw new NotFoundError(`${type}/${id} is not known`);
    if (actor.kind === 'user' && doc.patientId) {
      // 410 only after the access check
      const d = await this.access.check(actor.caller, doc.patientId, 'write');
      if (!d.allow || actor.caller.role === 'admin') {
        const denial = d.allow ? { allow: false, reason: 'The admin role gives no clinical access to patient records' } : d;
        await this.access.auditDecision(actor.caller, doc.patientId, 'D', ctx, [refKey(type, id)], denial);
        throw new ForbiddenError(denial.reason);
      }
    }
    if (doc.deleted) throw new GoneError(`${type}/${id} was deleted`);
    const r = only(await this.commit(actor, [{ method: 'DELETE', type, id, expectedVersion: ifMatch }], ctx));
    return r;
  }

  /** Every current resource of a patient's compartment (after read access, audited). */
  async compartment(caller: Caller | null, patientId: string, ctx?: RequestContext, what = '$everything'): Promise<FhirResource[]> {
    // what the access decision and the stored summary need, not the Patient resource (it is in the summary)
    const patient = await this.store.resources
      .findById(refKey('Patient', patientId), { deleted: 1, compartmentVersion: 1, registeredByFacilityId: 1 })
      .lean<{ deleted?: boolean; compartmentVersion?: number; registeredByFacilityId?: string }>();
    if (!patient) throw new NotFoundError(`Patient/${patientId} is not known`);
    const version = patient.compartmentVersion ?? 0;
    // $summary: the members kept per patient (one read by id), valid for this compartment version;
    // read while the access decision is audited, returned only once it is.
    const stored = what === '$summary' && !patient.deleted ? this.store.summaryMembers(patientId, version) : undefined;
    stored?.catch(() => undefined); // awaited below; a denial must not leave it unhandled
    if (caller) await this.access.enforce(caller, patientId, 'R', ctx, [`Patient/${patientId}/${what}`], undefined, patient);
    if (patient.deleted) throw new GoneError(`Patient/${patientId} was deleted`);
    if (stored) {
      const members = await stored;
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
    const docs = await this.store.resources
      .find({ patientId, deleted: false }, { resource: 1, type: 1 })
      .lean<{ _id: string; resource: FhirResource; type: string }[]>();
    const resources = compartmentOrder(docs);
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
    for (const r of resources)
      for (const f of findReferences(r)) if (/^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(f.reference) && !inside.has(f.reference)) wanted.add(f.reference);
    if (!wanted.size) return [];
    const docs = (
      await this.store.docsByKeys<{ resource: FhirResource; patientId?: string }>([...wanted], { resource: 1, patientId: 1 }, { currentOnly: true })
    )
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: the value comes from outside (database, request, parsed data) and may not match its declared type
      .filter((d) => d.patientId === undefined || d.patientId === null);
    return docs.map((d) => d.resource);
  }
}

/** Directory resources: who works where. Written by administrators only. */
export const DIRECTORY_TYPES: ReadonlySet<string> = new Set([
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'OrganizationAffiliation',
  'Location',
  'HealthcareService',
  'Endpoint',
]);
const CLINICIANS = ['referring_doctor', 'specialist', 'radiologist'] as const;

/**
 * Who may write a resource outside every patient compartment (everyone signed in may read one).
 * Directory resources: a clinician may create one with a server-assigned id (an imported record
 * names its providers); changing or deleting one, or choosing its id, is for administrators.
 * Ids of the platform's own users and facilities are refused to everyone (see #checkOutsideWrites).
 * Everything else (Medication, Substance, ...): clinicians.
 */
export function outsideRule(type: string, method: WritePlan['method']): { roles: readonly string[]; who: string } {
  if (DIRECTORY_TYPES.has(type)) {
    return method === 'POST'
      ? { roles: [...CLINICIANS, 'admin'], who: 'clinicians and administrators (new directory resource)' }
      : { roles: ['admin'], who: 'administrators (changing a directory resource)' };
  }
  return { roles: CLINICIANS, who: 'clinicians (shared clinical definition)' };
}

function firstAction(actions: Set<AuditAction>): AuditAction {
  return actions.values().next().value ?? 'U';
}

function only<T>(list: T[]): T {
  const first = list[0];
  if (first === undefined) throw new Error('expected one write result');
  return first;
}

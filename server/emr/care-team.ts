/**
 * Care relationships, explicit only. A facility is in a patient's care team when it registered the
 * patient here (`registeredByFacilityId` on the Patient document, set by the platform on the first
 * write, never from record content) or when staff of a facility already in the team added it with
 * an audited care grant (POST /api/emr/patients/:id/care-team). Nothing written into the record
 * (managingOrganization, Encounter.serviceProvider, EpisodeOfCare, CareTeam) grants anything.
 * Break-glass and consult participation are per user and time-limited; they never put a facility
 * in the team, and a grant can only be made from a facility that is in the team by these two rules.
 */
import { randomUUID } from 'node:crypto';
import type { Connection, Model } from 'mongoose';
import { careGrantModel, type CareGrantDoc } from '../../models/care-grant';
import { facilityModel } from '../../models/facility';
import type { AuditLog } from '../audit/audit-log';
import { ConflictError, ForbiddenError, InvalidInputError, NotFoundError } from '../platform/errors';
import type { Caller, RequestContext } from '../platform/request-context';
import { agentOf } from './break-glass';
import { refKey, type ResourceStore } from './resource-store';

export interface CareTeamMember {
  facilityId: string;
  basis: 'registration' | 'grant';
  grantedBy?: string;
  grantedAt?: string;
  reason?: string;
}

interface PatientTeamDoc {
  id: string;
  deleted?: boolean;
  registeredByFacilityId?: string;
}

export class CareTeam {
  readonly grants: Model<CareGrantDoc>;

  constructor(
    private readonly conn: Connection,
    private readonly store: ResourceStore,
    private readonly audit: AuditLog,
  ) {
    this.grants = careGrantModel(conn);
  }

  /**
   * The facilities in the patient's care team, or null when the patient was never known here. Deleted
   * patients keep their team. `patient`: the Patient document when the caller has just read it (saves
   * reading it again; its `registeredByFacilityId` is set once, at registration).
   */
  async of(patientId: string, patient?: Pick<PatientTeamDoc, 'registeredByFacilityId'> | null): Promise<string[] | null> {
    const p = patient === undefined ? await this.#patientDoc(patientId) : patient;
    if (!p) return null;
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- mongoose's distinct() result is any at runtime; the cast documents the shape
    const granted = (await this.grants.distinct('facilityId', { patientId, revokedAt: null })) as string[];
    return [...new Set([...(p.registeredByFacilityId ? [p.registeredByFacilityId] : []), ...granted])].sort();
  }

  /**
   * Whether the facility is in the patient's care team, or null when the patient was never known
   * here: what the access decision asks on every read. A patient registered by the facility is
   * answered without reading the grants (one database command less per read); otherwise one grant
   * of this facility is looked up. `patient`: as for `of`.
   */
  async includes(patientId: string, facilityId: string, patient?: Pick<PatientTeamDoc, 'registeredByFacilityId'> | null): Promise<boolean | null> {
    const p = patient === undefined ? await this.#patientDoc(patientId) : patient;
    if (!p) return null;
    if (p.registeredByFacilityId === facilityId) return true;
    return (await this.grants.findOne({ patientId, facilityId, revokedAt: null }, { _id: 1 }).lean()) !== null;
  }

  /** The Patient document's registering facility (one point read), or null for a patient never known here. */
  #patientDoc(patientId: string): Promise<Pick<PatientTeamDoc, 'registeredByFacilityId'> | null> {
    return this.store.resources.findById(refKey('Patient', patientId), { registeredByFacilityId: 1 }).lean<PatientTeamDoc>();
  }

  /**
   * Of these patients, those whose care team includes the facility (`includes` for several): the
   * Patient documents by `_id` point reads, the grants of this facility for the others in one query.
   */
  async patientsWithMember(patientIds: string[], facilityId: string): Promise<Set<string>> {
    const out = new Set<string>();
    if (!patientIds.length) return out;
    const docs = await this.store.docsByKeys<PatientTeamDoc>(
      patientIds.map((id) => refKey('Patient', id)),
      { id: 1, registeredByFacilityId: 1 },
    );
    const others: string[] = [];
    for (const d of docs) {
      if (d.registeredByFacilityId === facilityId) out.add(d.id);
      else others.push(d.id);
    }
    if (!others.length) return out;
    const grants = await this.grants
      .find({ patientId: { $in: others }, facilityId, revokedAt: null }, { patientId: 1 })
      .lean<Pick<CareGrantDoc, 'patientId'>[]>();
    for (const g of grants) out.add(g.patientId);
    return out;
  }

  /**
   * Care teams of several patients: the Patient documents by `_id` point reads (FerretDB v1 pushes no
   * `$in` down: `{_id: {$in}}` would read the whole collection), the grants in one query.
   */
  async teamsOf(patientIds: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (!patientIds.length) return out;
    const docs = await this.store.docsByKeys<PatientTeamDoc>(
      patientIds.map((id) => refKey('Patient', id)),
      { id: 1, registeredByFacilityId: 1 },
    );
    for (const d of docs) out.set(d.id, d.registeredByFacilityId ? [d.registeredByFacilityId] : []);
    const grants = await this.grants
      .find({ patientId: { $in: patientIds }, revokedAt: null }, { patientId: 1, facilityId: 1 })
      .lean<Pick<CareGrantDoc, 'patientId' | 'facilityId'>[]>();
    for (const g of grants) {
      const team = out.get(g.patientId);
      if (team && !team.includes(g.facilityId)) team.push(g.facilityId);
    }
    return out;
  }

  /** Patients whose care team includes the facility (registration or grant); for the patient list. */
  async patientIdsOfFacility(facilityId: string, limit = 2000): Promise<string[]> {
    const [registered, granted] = await Promise.all([
      this.store.resources.find({ type: 'Patient', deleted: false, registeredByFacilityId: facilityId }, { id: 1 }).limit(limit).lean<{ id: string }[]>(),
      this.grants.distinct('patientId', { facilityId, revokedAt: null }) as Promise<string[]>,
    ]);
    return [...new Set([...registered.map((r) => r.id), ...granted])];
  }

  /** Keeps the display copy on the Patient document (careTeamFacilityIds) in step; decisions never read it. */
  async refresh(patientId: string): Promise<string[]> {
    const team = (await this.of(patientId)) ?? [];
    await this.store.resources.updateOne({ _id: refKey('Patient', patientId) }, { $set: { careTeamFacilityIds: team } });
    return team;
  }

  async members(caller: Caller, patientId: string, ctx: RequestContext): Promise<CareTeamMember[]> {
    const p = await this.#requireMember(caller, patientId, ctx, 'R', 'read care team');
    const grants = await this.grants.find({ patientId, revokedAt: null }).sort({ grantedAt: 1 }).lean<CareGrantDoc[]>();
    const out: CareTeamMember[] = p.registeredByFacilityId ? [{ facilityId: p.registeredByFacilityId, basis: 'registration' }] : [];
    for (const g of grants)
      if (!out.some((m) => m.facilityId === g.facilityId))
        out.push({ facilityId: g.facilityId, basis: 'grant', grantedBy: g.grantedBy.userId, grantedAt: g.grantedAt.toISOString(), reason: g.reason });
    await this.#record(caller, patientId, 'R', true, 'care team read', ctx, [`Patient/${patientId}`]);
    return out;
  }

  /** Adds a facility to the care team: only staff (not admins) of a facility already in the team by registration or grant. */
  async grant(caller: Caller, patientId: string, facilityId: string, reason: string, ctx: RequestContext): Promise<CareTeamMember> {
    const team = (await this.#requireMember(caller, patientId, ctx, 'C', 'care team grant')).team;
    const facility = await facilityModel(this.conn).findById(facilityId, { active: 1 }).lean();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-boolean-literal-compare -- runtime input: stored documents may lack the field; only an explicit value counts
    if (!facility || facility.active === false) throw new InvalidInputError(`facilityId: no active facility ${facilityId}`, ['facilityId']);
    if (team.includes(facilityId)) throw new ConflictError(`Organization/${facilityId} is already in this patient's care team`);
    const doc: CareGrantDoc = {
      _id: randomUUID(),
      patientId,
      facilityId,
      reason,
      grantedBy: { userId: caller.userId, role: caller.role, facilityId: caller.facilityId },
      grantedAt: new Date(),
      revokedAt: null,
      revokedBy: null,
    };
    await this.grants.create(doc);
    await this.refresh(patientId);
    await this.#record(caller, patientId, 'C', true, `care team grant: Organization/${facilityId} added (${reason})`.slice(0, 300), ctx, [
      `Patient/${patientId}`,
      `Organization/${facilityId}`,
    ]);
    return { facilityId, basis: 'grant', grantedBy: caller.userId, grantedAt: doc.grantedAt.toISOString(), reason };
  }

  /** Ends a grant. The registering facility cannot be removed. */
  async revoke(caller: Caller, patientId: string, facilityId: string, ctx: RequestContext): Promise<void> {
    const p = await this.#requireMember(caller, patientId, ctx, 'D', 'care team revoke');
    if (p.registeredByFacilityId === facilityId) throw new ConflictError(`Organization/${facilityId} registered this patient; registration cannot be revoked`);
    const r = await this.grants.updateMany({ patientId, facilityId, revokedAt: null }, { $set: { revokedAt: new Date(), revokedBy: caller.userId } });
    if (r.modifiedCount === 0) throw new NotFoundError(`Organization/${facilityId} holds no care grant for this patient`);
    await this.refresh(patientId);
    await this.#record(caller, patientId, 'D', true, `care team grant revoked: Organization/${facilityId}`, ctx, [
      `Patient/${patientId}`,
      `Organization/${facilityId}`,
    ]);
  }

  async #requireMember(
    caller: Caller,
    patientId: string,
    ctx: RequestContext,
    action: 'C' | 'R' | 'D',
    what: string,
  ): Promise<PatientTeamDoc & { team: string[] }> {
    const p = await this.store.resources.findById(refKey('Patient', patientId), { id: 1, deleted: 1, registeredByFacilityId: 1 }).lean<PatientTeamDoc>();
    const team = p ? ((await this.of(patientId)) ?? []) : [];
    let refusal: string | null = null;
    if (caller.role === 'admin') refusal = 'The admin role gives no clinical access to patient records';
    else if (!p || !team.includes(caller.facilityId))
      refusal = `${what}: only staff of a facility in the patient's care team (by registration or grant) may do this; break-glass and consult access do not count`;
    if (refusal) {
      await this.#record(caller, patientId, action, false, refusal, ctx, [`Patient/${patientId}`]);
      throw new ForbiddenError(refusal);
    }
    if (p?.deleted) throw new NotFoundError(`Patient/${patientId} was deleted`);
    return { ...(p as PatientTeamDoc), team };
  }

  async #record(
    caller: Caller,
    patientId: string,
    action: 'C' | 'R' | 'D',
    success: boolean,
    outcomeDesc: string,
    ctx: RequestContext,
    entities: string[],
  ): Promise<void> {
    await this.audit.record({
      kind: success ? 'patient-record' : 'access-denied',
      action,
      success,
      outcomeDesc: outcomeDesc.slice(0, 300),
      agent: agentOf(caller, ctx),
      patientId,
      entities,
      requestId: ctx.requestId,
    });
  }
}

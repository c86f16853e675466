/**
 * ConsultReport: the assigned specialist's findings and recommendation as a FHIR DiagnosticReport,
 * signed (detached JWS, ES256) with their own key. Signed versions are immutable; a change is
 * version n+1 (`amended`) with a new signature. The consult store is the source of truth for the
 * signature; a copy goes into the patient's record when the EMR takes it (best effort).
 */
import type { Connection, Model } from 'mongoose';
import type { ConsultReportView, ReportBody, ReportVerification } from '../../contracts/consult-api';
import type { FhirResource } from '../../contracts/fhir';
import { consultReportModel, type ConsultReport } from '../../models/consult-report';
import type { ConsultRequest } from '../../models/consult-request';
import type { PatientRecords } from '../fhir/records-api';
import { ConflictError, ForbiddenError, NotFoundError } from '../http/errors';
import type { Caller, RequestContext } from '../http/request-context';
import type { Logger } from '../observability/logger';
import { verifyDetached } from '../signing/jws';
import type { SigningKeys } from '../signing/signing-keys';
import type { AuditCtx, ConsultAccess } from './access';
import type { ConsultService } from './consult-service';
import { CONSULT_REPORT_ID_SYSTEM, toDiagnosticReport, toRecordCopy } from './fhir-export';
import type { ConsultNotifier } from './notifier';
import { decideTransition } from './state-machine';

export class ConsultReports {
  readonly #reports: Model<ConsultReport>;

  constructor(
    conn: Connection,
    private readonly access: ConsultAccess,
    private readonly service: ConsultService,
    private readonly keys: SigningKeys,
    private readonly records: PatientRecords,
    private readonly notifier: ConsultNotifier,
    private readonly logger: Logger,
  ) {
    this.#reports = consultReportModel(conn);
  }

  /**
   * Writes and signs the report. On an accepted / scheduled / in-progress consult this is the
   * `report` transition (version 1); on a reported consult it is an amendment (version n+1).
   */
  async write(caller: Caller, consultId: string, body: ReportBody, ctx: RequestContext): Promise<ConsultReportView> {
    const { consult, actor } = await this.access.requireParticipant(caller, consultId, ctx, 'write consult report');
    const amending = consult.status === 'reported';
    if (amending) {
      if (caller.userId !== consult.assignedSpecialistId) {
        await this.access.record(caller, consult, 'U', false, 'amend report: only the assigned specialist', ctx, 'access-denied');
        throw new ForbiddenError('Cannot amend this report: only the assigned specialist may do this');
      }
    } else {
      const d = decideTransition('report', actor, consult);
      if (!d.ok) {
        await this.access.record(caller, consult, 'U', false, d.message, ctx, d.kind === 'forbidden' ? 'access-denied' : 'consult');
        throw d.kind === 'conflict' ? new ConflictError(d.message, 'invalid_transition') : new ForbiddenError(d.message);
      }
    }
    const latest = await this.#reports.findOne({ consultId }).sort({ version: -1 }).lean<ConsultReport>();
    if (amending && !latest) throw new ConflictError('Cannot amend: this consult has no report yet');
    const version = (latest?.version ?? 0) + 1;
    const header = await this.service.patientHeader(consult.patientId);
    const issued = new Date();
    const resource = toDiagnosticReport({
      consult,
      version,
      body,
      subject: { patientId: consult.patientId, name: header?.name, citizenIdMasked: header?.citizenIdMasked },
      signer: { userId: caller.userId, displayName: actor.displayName, facilityId: caller.facilityId },
      issued,
      replaces: latest ? String(latest.resource.id) : undefined,
    });
    const { jws, kid } = await this.keys.sign(caller.userId, resource);
    const doc: ConsultReport = {
      _id: `${consultId}:v${version}`,
      consultId,
      patientId: consult.patientId,
      version,
      status: version === 1 ? 'final' : 'amended',
      resource,
      signature: jws,
      kid,
      signerId: caller.userId,
      signedAt: issued,
      recordResourceId: null,
    };
    try {
      await this.#reports.create(doc);
    } catch (err) {
      if ((err as { code?: number }).code === 11000) throw new ConflictError(`Report version ${version} was written meanwhile; reload and amend`);
      throw err;
    }
    let current: ConsultRequest = consult;
    if (!amending) {
      try {
        current = await this.service.applyTransition(caller, actor, consult, 'report', ctx);
      } catch (err) {
        await this.#reports.deleteOne({ _id: doc._id }); // compensate: no report without the transition
        throw err;
      }
    } else {
      await this.access.record(caller, consult, 'U', true, `consult report amended: version ${version}`, ctx);
    }
    this.notifier.reportReady(current, version, doc.status);
    void this.#copyToRecord(caller, doc, latest?.recordResourceId ?? null, ctx);
    return this.#view(doc);
  }

  /**
   * The copy in the patient's record: the same report, with references to what lives only in the
   * consult store (the ServiceRequest, earlier versions) turned into logical (identifier) references.
   * An amendment updates the record's copy of the previous version, so the EMR keeps the history.
   */
  async #copyToRecord(caller: Caller, doc: ConsultReport, previousRecordId: string | null, ctx: RequestContext): Promise<void> {
    try {
      const copy = toRecordCopy(doc.resource, doc.consultId);
      if (previousRecordId) copy.id = previousRecordId;
      const written = await this.records.write(caller, doc.patientId, copy, ctx);
      if (written.id) await this.#reports.updateOne({ _id: doc._id }, { $set: { recordResourceId: written.id } });
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, consultId: doc.consultId, version: doc.version }, 'consult report not copied into the patient record (kept in the consult store)');
    }
  }

  async #view(doc: ConsultReport): Promise<ConsultReportView> {
    const key = await this.keys.publicJwk(doc.kid);
    if (!key) throw new NotFoundError(`Signing key ${doc.kid} is missing`);
    return {
      consultId: doc.consultId,
      version: doc.version,
      status: doc.status,
      resource: doc.resource,
      signature: doc.signature,
      kid: doc.kid,
      signerId: doc.signerId,
      signedAt: new Date(doc.signedAt).toISOString(),
      publicJwk: key.jwk,
    };
  }

  async #find(consultId: string, version?: number): Promise<ConsultReport> {
    const doc = version
      ? await this.#reports.findOne({ consultId, version }).lean<ConsultReport>()
      : await this.#reports.findOne({ consultId }).sort({ version: -1 }).lean<ConsultReport>();
    if (!doc) throw new NotFoundError(version ? `No report version ${version} for this consult` : 'This consult has no report yet');
    return doc;
  }

  /** The newest signed DiagnosticReport, for the FHIR export (the caller was checked by the route). */
  async latestResource(consultId: string): Promise<FhirResource | undefined> {
    const doc = await this.#reports.findOne({ consultId }).sort({ version: -1 }).lean<ConsultReport>();
    return doc ? { ...doc.resource, resourceType: 'DiagnosticReport' } : undefined;
  }

  async get(caller: Caller, consultId: string, version: number | undefined, ctx: AuditCtx): Promise<ConsultReportView> {
    const { consult } = await this.access.requireParticipant(caller, consultId, ctx, 'read consult report');
    const doc = await this.#find(consultId, version);
    await this.access.record(caller, consult, 'R', true, `consult report v${doc.version} read`, ctx);
    return this.#view(doc);
  }

  async versions(caller: Caller, consultId: string, ctx: AuditCtx): Promise<Array<Pick<ConsultReportView, 'version' | 'status' | 'signedAt' | 'signerId' | 'kid'>>> {
    const { consult } = await this.access.requireParticipant(caller, consultId, ctx, 'list consult report versions');
    const docs = await this.#reports.find({ consultId }, { resource: 0 }).sort({ version: 1 }).lean<ConsultReport[]>();
    await this.access.record(caller, consult, 'R', true, 'consult report versions listed', ctx);
    return docs.map((d) => ({ version: d.version, status: d.status, signedAt: new Date(d.signedAt).toISOString(), signerId: d.signerId, kid: d.kid }));
  }

  /** Integrity (the stored report is what was signed) and signer (the key belongs to the consult's specialist). */
  async verify(caller: Caller, consultId: string, version: number | undefined, ctx: AuditCtx): Promise<ReportVerification> {
    const { consult } = await this.access.requireParticipant(caller, consultId, ctx, 'verify consult report');
    const doc = await this.#find(consultId, version);
    const result = await this.verifyStored(consult, doc);
    await this.access.record(caller, consult, 'E', true, `consult report v${doc.version} verified: ${result.valid ? 'valid' : `INVALID (${result.problem})`}`, ctx);
    return result;
  }

  async verifyStored(consult: ConsultRequest, doc: ConsultReport): Promise<ReportVerification> {
    const base = { version: doc.version, kid: doc.kid, signerId: doc.signerId };
    const key = await this.keys.publicJwk(doc.kid);
    if (!key) return { ...base, valid: false, problem: 'the signing key is unknown' };
    if (key.userId !== doc.signerId) return { ...base, valid: false, problem: 'the signing key does not belong to the named signer' };
    if (doc.signerId !== consult.assignedSpecialistId) return { ...base, valid: false, problem: "the signer is not the consult's assigned specialist" };
    const r = verifyDetached(doc.resource, doc.signature, key.jwk);
    if (!r.valid) return { ...base, valid: false, problem: r.problem };
    const id = (doc.resource.identifier as Array<{ system?: string; value?: string }> | undefined)?.find((i) => i.system === CONSULT_REPORT_ID_SYSTEM)?.value;
    if (id !== `${consult._id}:v${doc.version}`) return { ...base, valid: false, problem: 'the signed report belongs to another consult or version' };
    return { ...base, valid: true };
  }
}

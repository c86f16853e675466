/**
 * ConsultReport: the assigned specialist's findings and recommendation as a FHIR DiagnosticReport,
 * signed (detached JWS, ES256, `jose`) with their own key, certified by the hospital CA (X.509
 * chain in the JWS header's `x5c`; server/signing). Exported with a FHIR Provenance carrying the signature. Signed versions are immutable; a change is
 * version n+1 (`amended`) with a new signature. The consult store is the source of truth for the
 * signature; a copy goes into the patient's record when the EMR takes it (best effort).
 */
import type { Connection, Model } from 'mongoose';
import type { ConsultReportView, ReportBody, ReportVerification } from '../../contracts/consult-api';
import type { FhirResource } from '../../contracts/fhir';
import { consultReportModel, type ConsultReport } from '../../models/consult-report';
import type { ConsultRequest } from '../../models/consult-request';
import type { PatientRecords } from '../emr/records-api';
import { ConflictError, ForbiddenError, NotFoundError } from '../platform/errors';
import type { Caller, RequestContext } from '../platform/request-context';
import type { Logger } from '../observability/logger';
import type { SigningKeys } from '../signing/signing-keys';
import type { ConsultAccess } from './access';
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
      this.logger.warn(
        { err: (err as Error).message, consultId: doc.consultId, version: doc.version },
        'consult report not copied into the patient record (kept in the consult store)',
      );
    }
  }

  async #view(doc: ConsultReport): Promise<ConsultReportView> {
    const key = await this.keys.publicJwk(doc.kid);
    if (!key) throw new NotFoundError(`Signing key ${doc.kid} is missing`);
    const signer = await this.access.user(doc.signerId);
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
      ...(signer?.displayName ? { signerName: signer.displayName } : {}),
      provenance: toProvenance(doc, signer?.displayName),
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

  async get(caller: Caller, consultId: string, version: number | undefined, ctx: RequestContext): Promise<ConsultReportView> {
    const { consult } = await this.access.requireParticipant(caller, consultId, ctx, 'read consult report');
    const doc = await this.#find(consultId, version);
    await this.access.record(caller, consult, 'R', true, `consult report v${doc.version} read`, ctx);
    return this.#view(doc);
  }

  async versions(
    caller: Caller,
    consultId: string,
    ctx: RequestContext,
  ): Promise<Array<Pick<ConsultReportView, 'version' | 'status' | 'signedAt' | 'signerId' | 'kid'>>> {
    const { consult } = await this.access.requireParticipant(caller, consultId, ctx, 'list consult report versions');
    const docs = await this.#reports.find({ consultId }, { resource: 0 }).sort({ version: 1 }).lean<ConsultReport[]>();
    await this.access.record(caller, consult, 'R', true, 'consult report versions listed', ctx);
    return docs.map((d) => ({ version: d.version, status: d.status, signedAt: new Date(d.signedAt).toISOString(), signerId: d.signerId, kid: d.kid }));
  }

  /** Integrity (the stored report is what was signed) and signer (the key belongs to the consult's specialist). */
  async verify(caller: Caller, consultId: string, version: number | undefined, ctx: RequestContext): Promise<ReportVerification> {
    const { consult } = await this.access.requireParticipant(caller, consultId, ctx, 'verify consult report');
    const doc = await this.#find(consultId, version);
    const result = await this.verifyStored(consult, doc);
    await this.access.record(
      caller,
      consult,
      'E',
      true,
      `consult report v${doc.version} verified: ${result.valid ? 'valid' : `INVALID (${result.problem})`}`,
      ctx,
    );
    return result;
  }

  async verifyStored(consult: ConsultRequest, doc: ConsultReport): Promise<ReportVerification> {
    const checked = await this.keys.verify(doc.resource, doc.signature, new Date(doc.signedAt));
    const signer = await this.access.user(doc.signerId);
    const base: ReportVerification = {
      version: doc.version,
      kid: doc.kid,
      signerId: doc.signerId,
      valid: false,
      signerName: checked.certificate?.commonName ?? signer?.displayName ?? null,
      signedAt: checked.signedAt,
      legacy: checked.legacy,
      checks: { signature: checked.signature, chain: checked.chain, validity: checked.validity, revocation: checked.revocation },
      ...(checked.certificate
        ? {
            certificate: {
              subject: checked.certificate.subject,
              issuer: checked.certificate.issuer,
              serialNumber: checked.certificate.serialNumber,
              notBefore: checked.certificate.notBefore,
              notAfter: checked.certificate.notAfter,
              sha256: checked.certificate.sha256,
              commonName: checked.certificate.commonName,
              organisation: checked.certificate.organisation,
            },
          }
        : {}),
      ...(checked.path ? { path: checked.path } : {}),
      checkedAt: new Date().toISOString(),
    };
    if (checked.kid !== doc.kid) return { ...base, problem: 'the signature names another key than the stored report' };
    if (!checked.valid) return { ...base, problem: checked.problem ?? 'invalid' };
    if (checked.keyUserId !== doc.signerId)
      return {
        ...base,
        problem: checked.legacy ? 'the signing key does not belong to the named signer' : 'the certificate was issued to someone other than the named signer',
      };
    if (doc.signerId !== consult.assignedSpecialistId) return { ...base, problem: "the signer is not the consult's assigned specialist" };
    const id = (doc.resource.identifier as Array<{ system?: string; value?: string }> | undefined)?.find((i) => i.system === CONSULT_REPORT_ID_SYSTEM)?.value;
    if (id !== `${consult._id}:v${doc.version}`) return { ...base, problem: 'the signed report belongs to another consult or version' };
    return { ...base, valid: true };
  }

  /** The newest signed version as a FHIR Provenance with its signature, for the FHIR export. */
  async latestProvenance(consultId: string): Promise<FhirResource | undefined> {
    const doc = await this.#reports.findOne({ consultId }).sort({ version: -1 }).lean<ConsultReport>();
    if (!doc) return undefined;
    const signer = await this.access.user(doc.signerId);
    return toProvenance(doc, signer?.displayName) as FhirResource;
  }
}

/**
 * A signed report version as a FHIR R4 Provenance: who signed (author), when, and the signature
 * itself (`Signature.data` = the detached JWS, base64; `sigFormat` application/jose; `targetFormat`
 * application/fhir+json: the JWS covers the report's RFC 8785 canonical JSON).
 */
export function toProvenance(
  doc: Pick<ConsultReport, 'consultId' | 'version' | 'resource' | 'signature' | 'signerId' | 'signedAt'>,
  signerName?: string,
): Record<string, unknown> {
  const when = new Date(doc.signedAt).toISOString();
  const who = { reference: `Practitioner/${doc.signerId}`, ...(signerName ? { display: signerName } : {}) };
  return {
    resourceType: 'Provenance',
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- runtime input: FHIR JSON from clients; String() of whatever is there, as before
    id: `${String(doc.resource.id ?? `${doc.consultId}-v${doc.version}`)}-signature`,
    target: [{ reference: `DiagnosticReport/${String(doc.resource.id)}` }],
    recorded: when,
    activity: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DocumentCompletion', code: 'LA', display: 'legally authenticated' }] },
    agent: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'author', display: 'Author' }] }, who }],
    signature: [
      {
        type: [{ system: 'urn:iso-astm:E1762-95:2013', code: '1.2.840.10065.1.12.1.1', display: "Author's Signature" }],
        when,
        who,
        targetFormat: 'application/fhir+json',
        sigFormat: 'application/jose',
        data: Buffer.from(doc.signature, 'utf8').toString('base64'),
      },
    ],
  };
}

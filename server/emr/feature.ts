import { requireRole } from '../auth/middleware';
import type { ConsultDirectory } from '../consults/directory-api';
import type { Feature, FeatureContext } from '../platform/feature';
import { BreakGlass } from './break-glass';
import { BundleProcessor } from './bundle';
import { CareTeam } from './care-team';
import { seedDemoPatient } from './demo-patient';
import { breakGlassAdminDocs, breakGlassAdminRouter, emrDocs, emrRouter } from './emr-routes';
import { fhirDocs, fhirMetadataDocs, fhirMetadataRouter, fhirRouter } from './fhir-routes';
import { createPatientRecords } from './patient-records';
import { RecordAccess } from './record-access';
import { RecordService } from './record-service';
import type { PatientRecords } from './records-api';
import { ResourceStore } from './resource-store';

/** Shared EMR: /fhir/R4 (FHIR R4 REST, Bundles, $everything, $summary), the access policy, break-glass. */
export function createEmrFeature(ctx: FeatureContext, deps: { consults: () => ConsultDirectory | undefined }): Feature & { records: PatientRecords } {
  const store = new ResourceStore(ctx.conn);
  const breakGlass = new BreakGlass(ctx.conn, ctx.audit, async (patientId) => {
    const d = await store.doc('Patient', patientId);
    return !!d && !d.deleted;
  });
  const careTeam = new CareTeam(ctx.conn, store, ctx.audit);
  const access = new RecordAccess(store, breakGlass, ctx.audit, deps.consults, careTeam);
  const service = new RecordService(store, access, ctx.conn, ctx.events, ctx.audit, careTeam, ctx.config.emr.compartmentCacheSize);
  const bundles = new BundleProcessor(service);
  return {
    name: 'emr',
    records: createPatientRecords(service),
    mounts: [
      { path: '/fhir/R4/metadata', guards: [], router: fhirMetadataRouter(), docs: fhirMetadataDocs },
      { path: '/fhir/R4', guards: [ctx.requireAuth], router: fhirRouter(service, bundles), docs: fhirDocs },
      { path: '/api/emr', guards: [ctx.requireAuth], router: emrRouter(service, breakGlass, careTeam), docs: emrDocs },
      {
        path: '/api/admin/break-glass',
        guards: [ctx.requireAuth, requireRole('admin')],
        router: breakGlassAdminRouter(breakGlass, ctx.audit),
        docs: breakGlassAdminDocs,
      },
    ],
    seed: () => seedDemoPatient(service),
  };
}

import type { ConsultDirectory } from '../consults/directory-api';
import type { Feature, FeatureContext } from '../platform/feature';
import type { PatientRecords } from './records-api';

/** Shared EMR: /fhir/R4, the access policy, break-glass. (Being built: see issue 3.) */
export function createEmrFeature(_ctx: FeatureContext, _deps: { consults: () => ConsultDirectory | undefined }): Feature & { records: PatientRecords } {
  const missing = () => Promise.reject(new Error('EMR feature not built yet'));
  return {
    name: 'emr',
    records: { checkAccess: missing, summary: missing, read: missing, write: missing, writeAsSystem: missing, patientHeader: missing },
  };
}

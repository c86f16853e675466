import type { PatientRecords } from '../fhir/records-api';
import type { Feature, FeatureContext } from '../platform/feature';
import type { ConsultDirectory } from './directory-api';

/** Consult workflow. (Being built: see issue 4.) */
export function createConsultFeature(_ctx: FeatureContext, _deps: { records: PatientRecords }): Feature & { directory: ConsultDirectory } {
  return {
    name: 'consults',
    directory: {
      isConsultParticipantForPatient: async () => false,
      callAdmission: async () => null,
    },
  };
}

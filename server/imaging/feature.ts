import type { PatientRecords } from '../fhir/records-api';
import type { Feature, FeatureContext } from '../platform/feature';

/** Imaging intake, triage jobs and the radiologist worklist. (Being built: see issue 6.) */
export async function createImagingFeature(_ctx: FeatureContext, _deps: { records: PatientRecords }): Promise<Feature> {
  return { name: 'imaging' };
}

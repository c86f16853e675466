import { Schema, type Connection } from 'mongoose';
import type { FhirResource } from '../contracts/fhir';
import { modelOn } from './model-on';
import { storeResourceAsJson } from './resource-json';

/** A date search key: the instant range [lo, hi] (ms since epoch) a FHIR date/period/dateTime covers. */
export interface DateKey {
  p: string;
  lo: number;
  hi: number;
}

/**
 * The current version of one FHIR R4 resource. `_id` is "Type/id". Search keys are extracted on
 * write (server/emr/search-params.ts) as flat arrays, because FerretDB v1 allows no nested arrays:
 * tokens "param|system|code" and "param||code", strings "param|normalised text", refs "param|Type/id",
 * and date ranges in ms.
 */
export interface FhirResourceDoc {
  _id: string;
  type: string;
  id: string;
  versionId: number;
  lastUpdated: Date;
  deleted: boolean;
  /** Patient compartment: the Patient id this resource belongs to (itself for a Patient). */
  patientId?: string;
  /** Only on Patient documents: the denormalised care team of the whole compartment. */
  careTeamFacilityIds: string[];
  /** Only on Patient documents: the facility of the clinician who registered the patient here. */
  registeredByFacilityId?: string;
  /** Only on Patient documents: moved forward by every write to the compartment (validates fhir_summaries). */
  compartmentVersion?: number;
  tokens: string[];
  strings: string[];
  refs: string[];
  /** Per date parameter, the envelope of its values: `dateRanges.date.lo` (FerretDB v1 has no $elemMatch). */
  dateRanges: Record<string, { lo: number; hi: number }>;
  /** First `date`-like key, for _sort=date. */
  sortDate?: number;
  resource: FhirResource | null;
}

const fhirResourceSchema = new Schema<FhirResourceDoc>(
  {
    _id: { type: String, required: true },
    type: { type: String, required: true },
    id: { type: String, required: true },
    versionId: { type: Number, required: true },
    lastUpdated: { type: Date, required: true },
    deleted: { type: Boolean, default: false },
    patientId: { type: String },
    careTeamFacilityIds: { type: [String], default: [] },
    registeredByFacilityId: { type: String },
    compartmentVersion: { type: Number },
    tokens: { type: [String], default: [] },
    strings: { type: [String], default: [] },
    refs: { type: [String], default: [] },
    dateRanges: { type: Schema.Types.Mixed, default: {} },
    sortDate: { type: Number },
    resource: { type: Schema.Types.Mixed },
  },
  { versionKey: false, minimize: false, collection: 'fhir_resources' },
);
fhirResourceSchema.index({ type: 1, deleted: 1, lastUpdated: -1 });
fhirResourceSchema.index({ patientId: 1, type: 1 });
fhirResourceSchema.index({ tokens: 1 });
fhirResourceSchema.index({ refs: 1 });
fhirResourceSchema.index({ careTeamFacilityIds: 1 });

// the body is stored as JSON text (models/resource-json.ts); reads still see `resource`
storeResourceAsJson(fhirResourceSchema);

export const fhirResourceModel = (conn: Connection) => modelOn(conn, 'FhirResource', fhirResourceSchema);

import { Schema, type Connection } from 'mongoose';
import type { FhirResource } from '../contracts/fhir';
import { modelOn } from './model-on';

/**
 * What a patient's `$summary` document is built from (the Patient and the resources its sections
 * cite, with what they refer to), kept per patient so that a summary is one read by `_id` instead of
 * the whole compartment. Valid only while `version` equals the Patient document's
 * `compartmentVersion` (moved by every write to the compartment, from any server process).
 */
export interface FhirSummaryDoc {
  _id: string; // patient id
  version: number;
  /**
   * The members as JSON text, parsed in Node: FerretDB v1 converts every stored document from its
   * backend's JSON to BSON field by field, which for a nested array of resources costs far more
   * than one string (and than JSON.parse).
   */
  membersJson?: string;
  /** Members stored as a nested array by earlier versions (still read; rewritten as `membersJson` when next built). */
  members?: FhirResource[];
  builtAt: Date;
}

const fhirSummarySchema = new Schema<FhirSummaryDoc>(
  {
    _id: { type: String, required: true },
    version: { type: Number, required: true },
    membersJson: { type: String },
    members: { type: Schema.Types.Mixed },
    builtAt: { type: Date, required: true },
  },
  { versionKey: false, minimize: false, collection: 'fhir_summaries' },
);

export const fhirSummaryModel = (conn: Connection) => modelOn(conn, 'FhirSummary', fhirSummarySchema);

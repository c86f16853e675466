import { Schema, type Connection } from 'mongoose';
import type { FhirResource } from '../contracts/fhir';
import { modelOn } from './model-on';
import { storeResourceAsJson } from './resource-json';

/** Every version of every resource, written before the current version is replaced. `_id` is "Type/id/_history/n". */
export interface FhirHistoryDoc {
  _id: string;
  type: string;
  id: string;
  versionId: number;
  lastUpdated: Date;
  /** The request method that produced this version. */
  method: 'POST' | 'PUT' | 'DELETE';
  deleted: boolean;
  patientId?: string;
  resource: FhirResource | null;
}

const fhirHistorySchema = new Schema<FhirHistoryDoc>(
  {
    _id: { type: String, required: true },
    type: { type: String, required: true },
    id: { type: String, required: true },
    versionId: { type: Number, required: true },
    lastUpdated: { type: Date, required: true },
    method: { type: String, required: true },
    deleted: { type: Boolean, default: false },
    patientId: { type: String },
    resource: { type: Schema.Types.Mixed },
  },
  { versionKey: false, minimize: false, collection: 'fhir_history' },
);
fhirHistorySchema.index({ type: 1, id: 1, versionId: -1 });

// the body is stored as JSON text (models/resource-json.ts); reads still see `resource`
storeResourceAsJson(fhirHistorySchema);

export const fhirHistoryModel = (conn: Connection) => modelOn(conn, 'FhirHistory', fhirHistorySchema);

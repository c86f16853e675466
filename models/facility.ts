import { Schema, type Connection } from 'mongoose';
import { modelOn } from './model-on';

export const FACILITY_TIERS = ['central', 'provincial', 'district', 'commune'] as const;
export type FacilityTier = (typeof FACILITY_TIERS)[number];

/** A hospital or clinic. Exported to FHIR as an Organization. */
export interface Facility {
  _id: string;
  name: string;
  tier: FacilityTier;
  province: string;
  /** Ministry of Health facility code (mã cơ sở khám chữa bệnh), when known. */
  moHCode?: string;
  active: boolean;
  createdAt: Date;
  updatedAt: Date;
}

const facilitySchema = new Schema<Facility>(
  {
    _id: { type: String, required: true },
    name: { type: String, required: true, trim: true, maxlength: 200 },
    tier: { type: String, enum: FACILITY_TIERS, required: true },
    province: { type: String, required: true, trim: true, maxlength: 100 },
    moHCode: { type: String, trim: true, maxlength: 20 },
    active: { type: Boolean, default: true },
  },
  { timestamps: true, versionKey: false },
);
facilitySchema.index({ name: 1 }, { unique: true });

export const facilityModel = (conn: Connection) => modelOn(conn, 'Facility', facilitySchema);

import { Schema, type Connection } from 'mongoose';
import { modelOn } from './model-on';

export const CONSULT_ATTACHMENT_TYPES = ['image/png', 'image/jpeg', 'application/pdf'] as const;
export type ConsultAttachmentType = (typeof CONSULT_ATTACHMENT_TYPES)[number];

/** A file shared in a consult chat (≤ 10 MB, so one document holds it), with its SHA-256. */
export interface ConsultAttachment {
  _id: string;
  consultId: string;
  uploaderId: string;
  filename: string;
  contentType: ConsultAttachmentType;
  size: number;
  sha256: string;
  data: Buffer;
  createdAt: Date;
}

const consultAttachmentSchema = new Schema<ConsultAttachment>(
  {
    _id: { type: String, required: true },
    consultId: { type: String, required: true, index: true },
    uploaderId: { type: String, required: true },
    filename: { type: String, required: true, maxlength: 255 },
    contentType: { type: String, enum: CONSULT_ATTACHMENT_TYPES, required: true },
    size: { type: Number, required: true },
    sha256: { type: String, required: true },
    data: { type: Buffer, required: true },
  },
  { timestamps: { createdAt: true, updatedAt: false }, versionKey: false, collection: 'consult_attachments' },
);

export const consultAttachmentModel = (conn: Connection) => modelOn(conn, 'ConsultAttachment', consultAttachmentSchema);

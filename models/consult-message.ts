import { Schema, type Connection } from 'mongoose';
import { modelOn } from './model-on';

/** A chat message in a consult (persisted: the consult works store-and-forward without a call). */
export interface ConsultMessage {
  _id: string;
  consultId: string;
  authorId: string;
  authorName: string;
  text: string;
  attachmentId: string | null;
  createdAt: Date;
}

const consultMessageSchema = new Schema<ConsultMessage>(
  {
    _id: { type: String, required: true },
    consultId: { type: String, required: true },
    authorId: { type: String, required: true },
    authorName: { type: String, required: true },
    text: { type: String, default: '', maxlength: 4000 },
    attachmentId: { type: String, default: null },
  },
  { timestamps: { createdAt: true, updatedAt: false }, versionKey: false },
);
consultMessageSchema.index({ consultId: 1, createdAt: 1 });

export const consultMessageModel = (conn: Connection) => modelOn(conn, 'ConsultMessage', consultMessageSchema);

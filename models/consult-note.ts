import { Schema, type Connection } from 'mongoose';
import { modelOn } from './model-on';

/** A private note on a consult: only its author ever reads it. */
export interface ConsultNote {
  _id: string;
  consultId: string;
  authorId: string;
  text: string;
  createdAt: Date;
}

const consultNoteSchema = new Schema<ConsultNote>(
  {
    _id: { type: String, required: true },
    consultId: { type: String, required: true },
    authorId: { type: String, required: true },
    text: { type: String, required: true, maxlength: 8000 },
  },
  { timestamps: { createdAt: true, updatedAt: false }, versionKey: false },
);
consultNoteSchema.index({ consultId: 1, authorId: 1, createdAt: 1 });

export const consultNoteModel = (conn: Connection) => modelOn(conn, 'ConsultNote', consultNoteSchema);

/** Consult chat (persisted, with one optional file per message) and private notes. Works with no socket at all. */
import { createHash, randomUUID } from 'node:crypto';
import type { Connection, Model } from 'mongoose';
import type { ConsultMessageView, ConsultNoteView } from '../../contracts/consult-api';
import { consultAttachmentModel, type ConsultAttachment } from '../../models/consult-attachment';
import { consultMessageModel, type ConsultMessage } from '../../models/consult-message';
import { consultNoteModel, type ConsultNote } from '../../models/consult-note';
import type { ConsultRequest } from '../../models/consult-request';
import { ConflictError, InvalidInputError, NotFoundError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../platform/errors';
import type { Caller, RequestContext } from '../platform/request-context';
import type { ConsultAccess } from './access';
import { MAX_ATTACHMENT_BYTES, safeFilename, sniffAttachmentType } from './attachments';
import type { ConsultNotifier } from './notifier';
import { OPEN_STATUSES } from './state-machine';
import { attachmentView, messageView } from './views';

export interface UploadedFile {
  originalname?: string;
  buffer: Buffer;
}

export class ConsultChat {
  readonly #messages: Model<ConsultMessage>;
  readonly #attachments: Model<ConsultAttachment>;
  readonly #notes: Model<ConsultNote>;

  constructor(
    conn: Connection,
    private readonly access: ConsultAccess,
    private readonly notifier: ConsultNotifier,
  ) {
    this.#messages = consultMessageModel(conn);
    this.#attachments = consultAttachmentModel(conn);
    this.#notes = consultNoteModel(conn);
  }

  async post(caller: Caller, consultId: string, text: string, file: UploadedFile | undefined, ctx: RequestContext): Promise<ConsultMessageView> {
    const { consult, actor } = await this.access.requireParticipant(caller, consultId, ctx, 'post consult message');
    return this.postAs(caller, actor.displayName, consult, text, file, ctx);
  }

  /** For callers that already checked participation (the socket handler). */
  async postAs(
    caller: Caller,
    authorName: string,
    consult: ConsultRequest,
    text: string,
    file: UploadedFile | undefined,
    ctx: RequestContext,
  ): Promise<ConsultMessageView> {
    // Chat stays open until the consult ends; after that the thread is read-only.
    if (!OPEN_STATUSES.includes(consult.status)) throw new ConflictError(`Cannot post to a consult that is ${consult.status}`, 'invalid_transition');
    const trimmed = text.trim();
    if (!trimmed && !file) throw new InvalidInputError('text: a message needs text or a file', ['text']);
    if (trimmed.length > 4000) throw new InvalidInputError('text: at most 4000 characters', ['text']);
    let attachment: ConsultAttachment | null = null;
    if (file) {
      if (file.buffer.length > MAX_ATTACHMENT_BYTES) throw new PayloadTooLargeError(`Attachments are limited to ${MAX_ATTACHMENT_BYTES / 1024 / 1024} MB`);
      const type = sniffAttachmentType(file.buffer);
      if (!type) throw new UnsupportedMediaTypeError('Attachments must be a PNG or JPEG image or a PDF (checked from the file content)');
      attachment = {
        _id: randomUUID(),
        consultId: consult._id,
        uploaderId: caller.userId,
        filename: safeFilename(file.originalname, type),
        contentType: type,
        size: file.buffer.length,
        sha256: createHash('sha256').update(file.buffer).digest('hex'),
        data: file.buffer,
        createdAt: new Date(),
      };
      await this.#attachments.create(attachment);
    }
    const msg: ConsultMessage = {
      _id: randomUUID(),
      consultId: consult._id,
      authorId: caller.userId,
      authorName,
      text: trimmed,
      attachmentId: attachment?._id ?? null,
      createdAt: new Date(),
    };
    await this.#messages.create(msg);
    const view = messageView(msg, attachment ? attachmentView(attachment) : null);
    await this.access.record(
      caller,
      consult,
      'C',
      true,
      attachment ? `consult message with attachment ${attachment._id} (${attachment.contentType})` : 'consult message',
      ctx,
    );
    this.notifier.message(consult, view);
    return view;
  }

  async list(caller: Caller, consultId: string, ctx: RequestContext): Promise<ConsultMessageView[]> {
    const { consult } = await this.access.requireParticipant(caller, consultId, ctx, 'read consult messages');
    const msgs = await this.#messages.find({ consultId }).sort({ createdAt: 1 }).limit(2000).lean<ConsultMessage[]>();
    const ids = msgs.flatMap((m) => (m.attachmentId ? [m.attachmentId] : []));
    const atts = ids.length ? await this.#attachments.find({ _id: { $in: ids } }, { data: 0 }).lean<ConsultAttachment[]>() : [];
    const byId = new Map(atts.map((a) => [a._id, attachmentView(a)]));
    await this.access.record(caller, consult, 'R', true, 'consult messages read', ctx);
    return msgs.map((m) => messageView(m, m.attachmentId ? (byId.get(m.attachmentId) ?? null) : null));
  }

  async attachment(caller: Caller, consultId: string, attachmentId: string, ctx: RequestContext): Promise<ConsultAttachment> {
    const { consult } = await this.access.requireParticipant(caller, consultId, ctx, 'download consult attachment');
    const att = await this.#attachments.findOne({ _id: attachmentId, consultId }).lean<ConsultAttachment>();
    if (!att) throw new NotFoundError(`No attachment ${attachmentId} in this consult`);
    await this.access.record(caller, consult, 'R', true, `consult attachment ${attachmentId} downloaded`, ctx);
    // the driver hands back a BSON Binary; give the route plain bytes
    const raw = att.data as unknown as Buffer | { buffer: Uint8Array };
    return { ...att, data: Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer) };
  }

  async addNote(caller: Caller, consultId: string, text: string, ctx: RequestContext): Promise<ConsultNoteView> {
    const { consult } = await this.access.requireParticipant(caller, consultId, ctx, 'write private note');
    const note: ConsultNote = { _id: randomUUID(), consultId, authorId: caller.userId, text, createdAt: new Date() };
    await this.#notes.create(note);
    await this.access.record(caller, consult, 'C', true, 'private note written', ctx);
    return { id: note._id, consultId, text: note.text, createdAt: note.createdAt.toISOString() };
  }

  /** Only the caller's own notes, ever. */
  async myNotes(caller: Caller, consultId: string, ctx: RequestContext): Promise<ConsultNoteView[]> {
    const { consult } = await this.access.requireParticipant(caller, consultId, ctx, 'read private notes');
    const notes = await this.#notes.find({ consultId, authorId: caller.userId }).sort({ createdAt: 1 }).lean<ConsultNote[]>();
    await this.access.record(caller, consult, 'R', true, 'own private notes read', ctx);
    return notes.map((n) => ({ id: n._id, consultId, text: n.text, createdAt: new Date(n.createdAt).toISOString() }));
  }
}

/** Chat attachments over the resumable-upload route (tus): the same checks and answer as POST /api/consults/:id/messages. */
import { z } from 'zod';
import type { ConsultMessageView } from '../../contracts/consult-api';
import { ConflictError } from '../platform/errors';
import { parseInput } from '../http/validate';
import type { UploadPurpose } from '../uploads/upload-purpose';
import type { ConsultAccess } from './access';
import { MAX_ATTACHMENT_BYTES } from './attachments';
import type { ConsultChat } from './consult-chat';
import { consultIdParam } from './schemas';
import { OPEN_STATUSES } from './state-machine';

const attachmentFields = z.object({ consultId: consultIdParam.shape.id, text: z.string().max(4000).optional() });

export function attachmentUploadPurpose(chat: ConsultChat, access: ConsultAccess): UploadPurpose {
  return {
    name: 'attachment',
    maxBytes: MAX_ATTACHMENT_BYTES,
    authorize: async (caller, fields, ctx) => {
      const { consultId } = parseInput(attachmentFields, fields, 'metadata');
      const { consult } = await access.requireParticipant(caller, consultId, ctx, 'upload a consult attachment');
      // Refused before the bytes travel, not after minutes of sending them.
      if (!OPEN_STATUSES.includes(consult.status)) throw new ConflictError(`Cannot post to a consult that is ${consult.status}`, 'invalid_transition');
    },
    complete: async (caller, fields, file, ctx) => {
      const { consultId, text } = parseInput(attachmentFields, fields, 'metadata');
      const body: ConsultMessageView = await chat.post(
        caller,
        consultId,
        text ?? '',
        { buffer: file.bytes, ...(file.filename ? { originalname: file.filename } : {}) },
        ctx,
      );
      return { status: 201, body };
    },
  };
}

/** zod schemas for everything that enters the consult feature (HTTP bodies, query strings, socket payloads). */
import { z } from 'zod';
import { CONSULT_URGENCIES, EMR_SECTION_CODES } from '../../contracts/consult-api';

const id = z
  .string()
  .trim()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits, . _ : - only');
const text = (max: number) => z.string().trim().min(1).max(max);

export const createConsultSchema = z.object({
  patientId: id,
  reason: text(2000),
  clinicalQuestion: text(4000),
  urgency: z.enum(CONSULT_URGENCIES),
  requestedSpecialty: text(100),
  sharedSections: z
    .array(z.enum(EMR_SECTION_CODES))
    .max(EMR_SECTION_CODES.length)
    .default([])
    .transform((s) => [...new Set(s)]),
  imagingStudyIds: z
    .array(id)
    .max(50)
    .default([])
    .transform((s) => [...new Set(s)]),
  preferredTime: z.iso.datetime({ offset: true }).optional(),
  submit: z.boolean().default(true),
});

export const transitionBodySchema = z
  .object({
    reason: z.string().trim().max(2000).optional(),
    scheduledFor: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();

export const inviteSchema = z.object({ userId: id, role: z.enum(['radiologist', 'invited']).optional() }).strict();

export const messageBodySchema = z.object({ text: z.string().trim().max(4000).default('') });

export const noteBodySchema = z.object({ text: text(8000) }).strict();

export const reportBodySchema = z
  .object({
    findings: text(20000),
    recommendation: text(20000),
    impression: z.string().trim().min(1).max(4000).optional(),
    diagnosisCodes: z
      .array(
        z
          .object({
            code: z
              .string()
              .trim()
              .regex(/^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$/, 'an ICD-10 code like J18.9'),
            display: z.string().trim().min(1).max(200).optional(),
          })
          .strict(),
      )
      .max(20)
      .optional(),
  })
  .strict();

export const queueQuerySchema = z.object({ specialty: z.string().trim().min(1).max(100).optional() });
export const versionQuerySchema = z.object({ version: z.coerce.number().int().min(1).optional() });
export const consultIdParam = z.object({ id });
export const attachmentParams = z.object({ id, attId: id });

// socket payloads
export const joinPayload = z.object({ consultId: id }).strict();
export const admitPayload = z.object({ consultId: id, userId: id }).strict();
export const socketMessagePayload = z.object({ consultId: id, text: text(4000) }).strict();

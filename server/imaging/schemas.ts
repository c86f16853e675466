/** zod schemas for the imaging and triage HTTP boundaries. */
import { z } from 'zod';

const id = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9-.]{1,64}$/, 'must be an id (letters, digits, - and .)');

export const uploadFieldsSchema = z.object({
  patientId: id,
  consultId: id.optional(),
});

export const listQuerySchema = z.object({ patientId: id });

export const studyIdParamSchema = z.object({ id: z.string().regex(/^[A-Za-z0-9-]{1,64}$/) });

export const heatmapParamSchema = z.object({ id: z.string().regex(/^[A-Za-z0-9-]{1,64}$/), finding: z.enum(['tb', 'nodule']) });

const coord = z.number().min(0); // zod 4: z.number() already refuses Infinity
export const boxSchema = z
  .object({ x_min: coord, y_min: coord, x_max: coord, y_max: coord })
  .strict()
  .refine((b) => b.x_min < b.x_max && b.y_min < b.y_max, { error: 'x_min < x_max and y_min < y_max are required' });

export const reviewRequestSchema = z
  .object({
    finding: z.enum(['tb', 'nodule']),
    decision: z.enum(['confirmed', 'rejected']),
    boxes: z.array(boxSchema).max(20).optional(),
    comment: z.string().trim().max(2000).optional(),
  })
  .strict();

export const worklistQuerySchema = z.object({
  status: z.enum(['open', 'reviewed', 'all']).default('open'),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

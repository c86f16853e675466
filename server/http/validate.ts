import type { z } from 'zod';
import { fromZodError } from '../platform/errors';

/** Parses untrusted input with a zod schema, or throws a 400 naming each bad field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what = 'body'): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw fromZodError(result.error, what === 'body' ? '' : what);
  return result.data;
}

import type { z } from 'zod';
import { DomainError, fromZodError } from '../platform/errors';
import { checkJsonShape } from './json-shape';

/**
 * Parses untrusted input with a zod schema, or throws a 400 naming each bad field. The input first
 * passes the shape limits (json-shape.ts): multipart fields and query strings never went through
 * the JSON body guard.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what = 'body'): z.infer<S> {
  const problem = checkJsonShape(input, what === 'body' ? '' : what);
  if (problem) throw new DomainError(400, problem.code, problem.message, problem.path ? [problem.path] : undefined);
  const result = schema.safeParse(input);
  if (!result.success) throw fromZodError(result.error, what === 'body' ? '' : what);
  return result.data;
}

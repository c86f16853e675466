import type { ZodError } from 'zod';

/**
 * Domain errors. Services (HTTP routes, socket handlers, jobs) throw these; the one HTTP error
 * handler (server/http/error-handler.ts) turns them into `{error, message}` (or a FHIR
 * OperationOutcome under /fhir) with the fitting status, and socket acks carry their code.
 */
export class DomainError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** FHIRPath-like locations of the problem, for OperationOutcome.issue.expression. */
    readonly expression?: string[],
  ) {
    super(message);
    this.name = new.target.name;
  }
}
export class InvalidInputError extends DomainError {
  constructor(message: string, expression?: string[], status = 400) {
    super(status, 'invalid', message, expression);
  }
}
export class UnauthorizedError extends DomainError {
  constructor(message = 'Authentication required') {
    super(401, 'unauthorized', message);
  }
}
export class ForbiddenError extends DomainError {
  constructor(message = 'You do not have access to this resource') {
    super(403, 'forbidden', message);
  }
}
export class NotFoundError extends DomainError {
  constructor(message = 'Not found') {
    super(404, 'not_found', message);
  }
}
export class ConflictError extends DomainError {
  constructor(message: string, code = 'conflict') {
    super(409, code, message);
  }
}
export class PreconditionFailedError extends DomainError {
  constructor(message: string) {
    super(412, 'precondition_failed', message);
  }
}
export class PayloadTooLargeError extends DomainError {
  constructor(message: string) {
    super(413, 'payload_too_large', message);
  }
}
export class UnsupportedMediaTypeError extends DomainError {
  constructor(message: string) {
    super(415, 'unsupported_media_type', message);
  }
}
export class TooManyRequestsError extends DomainError {
  constructor(
    message: string,
    readonly retryAfterS: number,
  ) {
    super(429, 'too_many_requests', message);
  }
}
export class ServiceUnavailableError extends DomainError {
  constructor(message: string) {
    super(503, 'unavailable', message);
  }
}

/** The request ran past its deadline (REQUEST_TIMEOUT_MS): it was answered and its work told to stop. */
export class DeadlineExceededError extends DomainError {
  constructor(timeoutMs: number) {
    super(
      503,
      'deadline_exceeded',
      `The request took longer than ${Math.round(timeoutMs / 1000)} s and was stopped. A write may or may not have been saved: check before retrying, or retry with the same Idempotency-Key.`,
    );
  }
}
/** The client went away before its answer; the reason of the request's AbortSignal. */
export class ClientClosedError extends DomainError {
  constructor() {
    super(499, 'client_closed', 'The client closed the connection before the answer was ready');
  }
}

/** Converts a zod failure into an InvalidInputError naming each offending path. */
export function fromZodError(err: ZodError, prefix = ''): InvalidInputError {
  const paths = err.issues.map((i) => [prefix, ...i.path.map(String)].filter(Boolean).join('.'));
  const message = err.issues.map((i) => `${[prefix, ...i.path.map(String)].filter(Boolean).join('.') || 'body'}: ${i.message}`).join('; ');
  return new InvalidInputError(message, paths);
}

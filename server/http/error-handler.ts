import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { ZodError } from 'zod';
import type { Logger } from '../observability/logger';
import { DomainError, fromZodError, NotFoundError, TooManyRequestsError } from '../platform/errors';

/**
 * The one error handler: every error thrown under express (domain errors from server/platform/errors.ts,
 * zod, body-parser, multer, mongoose, the driver) leaves the server in one of two shapes.
 */
interface ErrorShape {
  status: number;
  code: string;
  message: string;
  expression?: string[];
  retryAfterS?: number;
}

function classify(err: unknown): ErrorShape {
  if (err instanceof DomainError) {
    return {
      status: err.status,
      code: err.code,
      message: err.message,
      expression: err.expression,
      retryAfterS: err instanceof TooManyRequestsError ? err.retryAfterS : undefined,
    };
  }
  if (err instanceof ZodError) {
    const e = fromZodError(err);
    return { status: 400, code: e.code, message: e.message, expression: e.expression };
  }
  const e = err as { type?: string; status?: number; statusCode?: number; name?: string; message?: string; code?: string | number };
  // body-parser errors
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: anything can be thrown, and errors from libraries need not carry these fields
  if (e?.type === 'entity.parse.failed') return { status: 400, code: 'malformed_json', message: 'Request body is not valid JSON' };
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: anything can be thrown, and errors from libraries need not carry these fields
  if (e?.type === 'entity.too.large') return { status: 413, code: 'payload_too_large', message: 'Request body is too large' };
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: anything can be thrown, and errors from libraries need not carry these fields
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported')
    return { status: 415, code: 'unsupported_media_type', message: e.message ?? 'Unsupported encoding' };
  // multer errors, and the busboy parse errors multer passes on (all caused by the body sent)
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: anything can be thrown, and errors from libraries need not carry these fields
  if (e?.name === 'MulterError') {
    if (e.code === 'LIMIT_FILE_SIZE') return { status: 413, code: 'payload_too_large', message: 'Uploaded file is too large' };
    return { status: 400, code: 'invalid_upload', message: e.message ?? 'Invalid upload' };
  }
  if (err instanceof Error && isMultipartParseError(err)) {
    return { status: 400, code: 'invalid_upload', message: `The multipart body could not be read: ${err.message}` };
  }
  // mongoose validation (a schema rule the route's own validation did not catch)
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: anything can be thrown, and errors from libraries need not carry these fields
  if (e?.name === 'ValidationError' && typeof (err as { errors?: unknown }).errors === 'object') {
    const fields = Object.entries((err as { errors: Record<string, { message?: string }> }).errors);
    return {
      status: 400,
      code: 'invalid',
      message: fields.map(([path, f]) => `${path}: ${f.message ?? 'is invalid'}`).join('; ') || 'Invalid input',
      expression: fields.map(([path]) => path),
    };
  }
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: anything can be thrown, and errors from libraries need not carry these fields
  if (e?.name === 'CastError') return { status: 400, code: 'invalid', message: 'A value has the wrong type' };
  // a unique index refused the write (MongoDB E11000; FerretDB on SQLite may pass the SQLite text through)
  if (
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: anything can be thrown, and errors from libraries need not carry these fields
    e?.code === 11000 ||
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: anything can be thrown, and errors from libraries need not carry these fields
    (typeof e?.message === 'string' && /E11000|UNIQUE constraint failed|duplicate key/i.test(e.message) && /^Mongo/.test(e.name ?? ''))
  ) {
    return { status: 409, code: 'conflict', message: 'A record with the same unique value already exists' };
  }
  // database unreachable
  if (
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: anything can be thrown, and errors from libraries need not carry these fields
    e?.name === 'MongoServerSelectionError' ||
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: anything can be thrown, and errors from libraries need not carry these fields
    e?.name === 'MongoNetworkError' ||
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: anything can be thrown, and errors from libraries need not carry these fields
    e?.name === 'MongoNotConnectedError' ||
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: anything can be thrown, and errors from libraries need not carry these fields
    e?.name === 'MongoTopologyClosedError'
  ) {
    // Whether a write reached the database before the connection failed is not known here.
    return {
      status: 503,
      code: 'database_unavailable',
      message:
        'The database is temporarily unavailable, so the request may not have completed. Try again shortly; before retrying a write, check whether it was saved, or retry it with the same Idempotency-Key.',
      retryAfterS: 2,
    };
  }
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: anything can be thrown, and errors from libraries need not carry these fields
  const status = e?.status ?? e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return { status, code: 'bad_request', message: e.message ?? 'Bad request' };
  return { status: 500, code: 'internal', message: 'Internal server error' };
}

const MULTIPART_PARSE_ERRORS = new Set([
  'Multipart: Boundary not found',
  'Malformed part header',
  'Unexpected end of form',
  'Unexpected end of file',
  'Malformed content type',
  'Missing Content-Type',
  'Malformed urlencoded form',
]);
function isMultipartParseError(err: Error): boolean {
  return MULTIPART_PARSE_ERRORS.has(err.message) || err.message.startsWith('Unsupported content type: ');
}

/** FHIR issue-type codes for our error codes. */
function fhirIssueCode(shape: ErrorShape): string {
  switch (shape.status) {
    case 400:
    case 422:
      return shape.code === 'malformed_json' ? 'structure' : 'invalid';
    case 401:
      return 'login';
    case 403:
      return 'forbidden';
    case 404:
      return 'not-found';
    case 409:
    case 412:
      return 'conflict';
    case 413:
      return 'too-long';
    case 429:
      return 'throttled';
    case 503:
      return 'transient';
    default:
      return 'exception';
  }
}

export function operationOutcome(severity: 'error' | 'warning' | 'information', code: string, diagnostics: string, expression?: string[]) {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity, code, diagnostics, ...(expression && expression.length ? { expression } : {}) }],
  };
}

/** Renders an error in its surface's one shape (OperationOutcome under /fhir, {error, message} elsewhere). */
export function sendError(req: Request, res: Response, err: unknown): void {
  const shape = classify(err);
  if (res.headersSent) {
    res.end();
    return;
  }
  renderShape(req, res, shape);
}

/** The one error handler: every error leaves the server in one of two shapes. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const shape = classify(err);
    // After a deadline answer, the late route's own answer fails: expected, not worth a log line.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: anything can be thrown, and errors from libraries need not carry these fields
    if (shape.status >= 500 && !(res.headersSent && req.context?.signal?.aborted)) {
      // eslint-disable-next-line @typescript-eslint/no-unsafe-member-access -- express types req.route as any
      logger.error({ err, requestId: res.getHeader('x-request-id'), route: req.route?.path }, 'request failed');
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    renderShape(req, res, shape);
  };
}

function renderShape(req: Request, res: Response, shape: ErrorShape): void {
  if (shape.retryAfterS !== undefined) res.setHeader('Retry-After', String(shape.retryAfterS));
  if (req.originalUrl.startsWith('/fhir/')) {
    res
      .status(shape.status)
      .type('application/fhir+json')
      .json(operationOutcome('error', fhirIssueCode(shape), shape.message, shape.expression));
    return;
  }
  res.status(shape.status).json({ error: shape.code, message: shape.message, ...(shape.expression ? { path: shape.expression } : {}) });
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new NotFoundError(`No route for ${req.method} ${req.path}`));
};

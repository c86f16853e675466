/**
 * Server errors in the clinician's language. The server answers `{error: <code>, message}` (or a
 * FHIR OperationOutcome); the client shows the localised text of the code and keeps the server's
 * technical message for the tooltip (title) only, so the screen never shows English or a route.
 */
import { useI18n, type MessageKey } from '../i18n';

/** What an API error carries (ApiRequestError in api/client.ts). */
export interface CodedError {
  status: number;
  code: string;
  message: string;
}

function isCoded(e: unknown): e is CodedError {
  return typeof e === 'object' && e !== null && typeof (e as CodedError).code === 'string' && typeof (e as CodedError).status === 'number';
}

/** Error codes the server sends (server/platform/errors.ts, server/imaging/errors.ts, features) with their message key. */
export const ERROR_KEYS: Record<string, MessageKey> = {
  invalid: 'error.invalid',
  malformed_json: 'error.invalid',
  bad_request: 'error.invalid',
  structure: 'error.invalid',
  unauthorized: 'error.unauthorized',
  login: 'error.unauthorized',
  forbidden: 'error.forbidden',
  security: 'error.forbidden',
  not_found: 'error.not_found',
  'not-found': 'error.not_found',
  http_404: 'error.not_found',
  conflict: 'error.conflict',
  invalid_transition: 'error.invalid_transition',
  version_conflict: 'error.version_conflict',
  triage_not_done: 'error.triage_not_done',
  already_reviewed: 'error.already_reviewed',
  precondition_failed: 'error.version_conflict',
  payload_too_large: 'error.payload_too_large',
  unsupported_media_type: 'error.unsupported_media_type',
  too_many_requests: 'error.too_many_requests',
  unavailable: 'error.unavailable',
  database_unavailable: 'error.unavailable',
  internal: 'error.internal',
  client: 'error.network',
};

/** The message key of an error: by its code, else by its HTTP status. */
export function errorKey(err: CodedError | Error | string): MessageKey {
  if (typeof err === 'string') return 'error.generic';
  if (!isCoded(err)) return err.name === 'TypeError' ? 'error.network' : 'error.generic';
  if (err.code.startsWith('image_')) return 'error.image';
  const byCode = ERROR_KEYS[err.code];
  if (byCode) return byCode;
  if (err.status === 0) return 'error.network';
  if (err.status === 401) return 'error.unauthorized';
  if (err.status === 403) return 'error.forbidden';
  if (err.status === 404) return 'error.not_found';
  if (err.status === 409) return 'error.conflict';
  if (err.status === 413) return 'error.payload_too_large';
  if (err.status === 429) return 'error.too_many_requests';
  if (err.status >= 500) return 'error.unavailable';
  if (err.status >= 400) return 'error.invalid';
  return 'error.generic';
}

export interface ErrorText {
  /** What the clinician reads. */
  text: string;
  /** The server's own (technical, English) message, for the tooltip and the logs. */
  detail: string;
}

export function useErrorText(): (err: CodedError | Error | string) => ErrorText {
  const { t } = useI18n();
  return (err) => ({ text: t(errorKey(err)), detail: typeof err === 'string' ? err : err.message });
}

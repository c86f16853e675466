/**
 * Typed fetch for /api and /fhir with the bearer token, proactive refresh (one minute before the
 * access token expires) and one retry after a 401. Errors become ApiRequestError carrying the
 * server's `{error, message}` (or an OperationOutcome's first issue for /fhir).
 */
import type { ApiError, LoginResponse } from '../../../contracts/api';

const STORAGE_KEY = 'hoichan.session';
const REFRESH_MARGIN_MS = 60_000;

export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiRequestError';
  }
  /** The endpoint is not there (yet): the feature's server side has not landed. */
  get notAvailable(): boolean {
    return this.status === 404 && (this.message.startsWith('No route for') || this.code === 'http_404');
  }
}

interface StoredSession {
  accessToken: string;
  refreshToken: string;
  /** epoch ms */
  expiresAt: number;
}

type TokenListener = (accessToken: string | null) => void;

function isApiError(v: unknown): v is ApiError {
  return typeof v === 'object' && v !== null && typeof (v as ApiError).message === 'string' && typeof (v as ApiError).error === 'string';
}

interface OperationOutcomeLike {
  resourceType: 'OperationOutcome';
  issue?: { code?: string; diagnostics?: string; details?: { text?: string } }[];
}
function isOperationOutcome(v: unknown): v is OperationOutcomeLike {
  return typeof v === 'object' && v !== null && (v as { resourceType?: unknown }).resourceType === 'OperationOutcome';
}

async function errorFrom(res: Response): Promise<ApiRequestError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON */
  }
  if (isApiError(body)) return new ApiRequestError(res.status, body.error, body.message);
  if (isOperationOutcome(body)) {
    const issue = body.issue?.[0];
    return new ApiRequestError(res.status, issue?.code ?? 'fhir', issue?.diagnostics ?? issue?.details?.text ?? res.statusText);
  }
  return new ApiRequestError(res.status, `http_${res.status}`, res.statusText || `HTTP ${res.status}`);
}

export interface UploadProgress {
  loaded: number;
  total: number;
}

export class ApiClient {
  #session: StoredSession | null = null;
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;
  #refreshing: Promise<boolean> | null = null;
  readonly #listeners = new Set<TokenListener>();

  constructor(private readonly storage: Storage = window.sessionStorage) {
    try {
      const raw = storage.getItem(STORAGE_KEY);
      if (raw) {
        const s = JSON.parse(raw) as StoredSession;
        if (typeof s.accessToken === 'string' && typeof s.refreshToken === 'string') {
          this.#session = s;
          this.#schedule();
        }
      }
    } catch {
      storage.removeItem(STORAGE_KEY);
    }
  }

  get accessToken(): string | null {
    return this.#session?.accessToken ?? null;
  }
  get hasSession(): boolean {
    return this.#session !== null;
  }

  /** Called with the new access token after login/refresh, and null after logout/expiry. */
  onToken(listener: TokenListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async login(email: string, password: string): Promise<void> {
    const pair = await this.#post<LoginResponse>('/api/auth/login', { email, password }, false);
    this.#setSession(pair);
  }

  async logout(): Promise<void> {
    const refreshToken = this.#session?.refreshToken;
    try {
      if (this.#session) await this.request<unknown>('POST', '/api/auth/logout', { refreshToken });
    } catch {
      /* the session ends locally whatever the server says */
    }
    this.#clear();
  }

  /** Forget the session locally (e.g. refresh token rejected). */
  #clear(): void {
    this.#session = null;
    clearTimeout(this.#refreshTimer);
    this.storage.removeItem(STORAGE_KEY);
    for (const l of this.#listeners) l(null);
  }

  #setSession(pair: LoginResponse): void {
    this.#session = { accessToken: pair.accessToken, refreshToken: pair.refreshToken, expiresAt: Date.now() + pair.expiresIn * 1000 };
    this.storage.setItem(STORAGE_KEY, JSON.stringify(this.#session));
    this.#schedule();
    for (const l of this.#listeners) l(pair.accessToken);
  }

  #schedule(): void {
    clearTimeout(this.#refreshTimer);
    if (!this.#session) return;
    const delay = Math.max(1_000, this.#session.expiresAt - Date.now() - REFRESH_MARGIN_MS);
    this.#refreshTimer = setTimeout(() => void this.refresh(), delay);
  }

  /** Exchanges the refresh token for a new pair; false (and the session ends) when refused. */
  refresh(): Promise<boolean> {
    if (this.#refreshing) return this.#refreshing;
    const refreshToken = this.#session?.refreshToken;
    if (!refreshToken) return Promise.resolve(false);
    this.#refreshing = this.#post<LoginResponse>('/api/auth/refresh', { refreshToken }, false)
      .then((pair) => {
        this.#setSession(pair);
        return true;
      })
      .catch((err: unknown) => {
        if (err instanceof ApiRequestError && err.status >= 400 && err.status < 500) this.#clear();
        else this.#schedule();
        return false;
      })
      .finally(() => {
        this.#refreshing = null;
      });
    return this.#refreshing;
  }

  #post<T>(path: string, body: unknown, auth: boolean): Promise<T> {
    return this.request<T>('POST', path, body, { auth });
  }

  /** The access token, refreshed first when it is about to expire (for requests made by other libraries, e.g. tus uploads). */
  async freshAccessToken(): Promise<string | null> {
    await this.#ensureFresh();
    return this.accessToken;
  }

  async #ensureFresh(): Promise<void> {
    if (this.#session && this.#session.expiresAt - Date.now() < 5_000) await this.refresh();
  }

  async request<T>(method: string, path: string, body?: unknown, opts: { auth?: boolean; headers?: Record<string, string> } = {}): Promise<T> {
    const auth = opts.auth ?? true;
    if (auth) await this.#ensureFresh();
    const send = async (): Promise<Response> => {
      const headers: Record<string, string> = { accept: path.startsWith('/fhir') ? 'application/fhir+json' : 'application/json', ...opts.headers };
      if (auth && this.#session) headers.authorization = `Bearer ${this.#session.accessToken}`;
      let payload: BodyInit | undefined;
      if (body instanceof FormData) payload = body;
      else if (body !== undefined) {
        payload = JSON.stringify(body);
        headers['content-type'] = 'application/json';
      }
      return fetch(path, { method, headers, body: payload });
    };
    let res = await send();
    if (res.status === 401 && auth && this.#session && (await this.refresh())) res = await send();
    if (!res.ok) throw await errorFrom(res);
    if (res.status === 204) return undefined as T;
    const type = res.headers.get('content-type') ?? '';
    if (!type.includes('json')) return (await res.text()) as T;
    return (await res.json()) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body ?? {});
  }
  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }
  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }

  /** Fetches a protected binary (an image) and returns an object URL the caller must revoke. */
  async blobUrl(path: string): Promise<string> {
    await this.#ensureFresh();
    const headers: Record<string, string> = {};
    if (this.#session) headers.authorization = `Bearer ${this.#session.accessToken}`;
    const res = await fetch(path, { headers });
    if (!res.ok) throw await errorFrom(res);
    return URL.createObjectURL(await res.blob());
  }

  /**
   * Multipart upload through XMLHttpRequest so the caller sees upload progress (fetch cannot).
   * Resolves with the parsed JSON response.
   */
  async upload<T>(path: string, form: FormData, onProgress: (p: UploadProgress) => void, signal?: AbortSignal): Promise<T> {
    await this.#ensureFresh();
    return new Promise<T>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', path);
      xhr.setRequestHeader('accept', 'application/json');
      if (this.#session) xhr.setRequestHeader('authorization', `Bearer ${this.#session.accessToken}`);
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) onProgress({ loaded: e.loaded, total: e.total });
      };
      xhr.onload = () => {
        let parsed: unknown = null;
        try {
          parsed = xhr.responseText ? JSON.parse(xhr.responseText) : null;
        } catch {
          /* not JSON */
        }
        if (xhr.status >= 200 && xhr.status < 300) resolve(parsed as T);
        else if (isApiError(parsed)) reject(new ApiRequestError(xhr.status, parsed.error, parsed.message));
        else reject(new ApiRequestError(xhr.status, `http_${xhr.status}`, xhr.statusText || `HTTP ${xhr.status}`));
      };
      xhr.onerror = () => reject(new ApiRequestError(0, 'network', 'Network error'));
      xhr.onabort = () => reject(new ApiRequestError(0, 'aborted', 'Upload cancelled'));
      signal?.addEventListener('abort', () => xhr.abort(), { once: true });
      xhr.send(form);
    });
  }
}

export const api = new ApiClient();

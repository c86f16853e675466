/** Loads JSON from the API with loading / error / "not available yet" states and a reload;
 * tracks the busy / error state of a user action that calls the API. */
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiRequestError } from '../api/client';
import { useErrorText } from './errors';
import { useSession } from './session';

export interface Resource<T> {
  data: T | null;
  loading: boolean;
  error: ApiRequestError | null;
  /** The endpoint does not exist on this server yet. */
  notAvailable: boolean;
  // Function-typed properties, not methods: callers pass them on (`onRetry={res.reload}`).
  reload: () => void;
  setData: (update: (prev: T | null) => T | null) => void;
}

export function toApiError(err: unknown): ApiRequestError {
  if (err instanceof ApiRequestError) return err;
  return new ApiRequestError(0, 'client', err instanceof Error ? err.message : String(err));
}

export function useResource<T>(path: string | null): Resource<T> {
  const { api } = useSession();
  const [data, setDataState] = useState<T | null>(null);
  const [loading, setLoading] = useState<boolean>(path !== null);
  const [error, setError] = useState<ApiRequestError | null>(null);
  const [tick, setTick] = useState(0);
  const seq = useRef(0);

  useEffect(() => {
    if (path === null) {
      setLoading(false);
      return;
    }
    const mine = ++seq.current;
    setLoading(true);
    api
      .get<T>(path)
      .then((d) => {
        if (mine !== seq.current) return;
        setDataState(d);
        setError(null);
      })
      .catch((err: unknown) => {
        if (mine !== seq.current) return;
        setError(toApiError(err));
      })
      .finally(() => {
        if (mine === seq.current) setLoading(false);
      });
  }, [api, path, tick]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  const setData = useCallback((update: (prev: T | null) => T | null) => setDataState(update), []);
  return { data, loading, error, notAvailable: error?.notAvailable ?? false, reload, setData };
}

export interface Submission {
  busy: boolean;
  /** Localised message of the last failed run (lib/errors.ts), cleared when the next one starts. */
  error: string | null;
  /** Runs an action (a form submit, a button), busy meanwhile; a failure becomes `error`, worded by `describe`. */
  run: (action: () => Promise<unknown>, describe?: (err: ApiRequestError) => string) => Promise<void>;
}

export function useSubmission(): Submission {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const errorText = useErrorText();
  const localised = useRef(errorText);
  localised.current = errorText;
  const run = useCallback(async (action: () => Promise<unknown>, describe: (err: ApiRequestError) => string = (e) => localised.current(e).text) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(describe(toApiError(err)));
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run };
}

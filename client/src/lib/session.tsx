/** The signed-in user, the API client and the realtime connection, for every screen. */
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { MeResponse } from '../../../contracts/api';
import { api, ApiRequestError, type ApiClient } from '../api/client';
import { RealtimeConnection, type ConnectionState, type HoichanSocket } from '../api/socket';

export interface Session {
  api: ApiClient;
  me: MeResponse | null;
  /** True until the stored session (if any) has been checked. */
  restoring: boolean;
  socket: HoichanSocket | null;
  connection: ConnectionState;
  // Function-typed properties, not methods: callers destructure them (`const { login } = useSession()`).
  login: (email: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

/**
 * The signed-in user, kept beside the tokens (same sessionStorage, same lifetime) so that a reload
 * while the clinic is offline still opens the doctor's screens and outbox instead of the login form.
 */
const ME_KEY = 'hoichan.me';
function rememberMe(me: MeResponse | null): void {
  try {
    if (me) window.sessionStorage.setItem(ME_KEY, JSON.stringify(me));
    else window.sessionStorage.removeItem(ME_KEY);
  } catch {
    /* storage full or disabled: only the offline reload is affected */
  }
}
function rememberedMe(): MeResponse | null {
  try {
    const raw = window.sessionStorage.getItem(ME_KEY);
    return raw ? (JSON.parse(raw) as MeResponse) : null;
  } catch {
    return null;
  }
}
/** No answer, or the server is down: not a refusal of the session. */
function isUnreachable(err: unknown): boolean {
  return !(err instanceof ApiRequestError) || err.status === 0 || err.status >= 500;
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<MeResponse | null>(null);
  const [restoring, setRestoring] = useState<boolean>(api.hasSession);
  const [realtime, setRealtime] = useState<RealtimeConnection | null>(null);
  const [connection, setConnection] = useState<ConnectionState>('disconnected');
  const [socket, setSocket] = useState<HoichanSocket | null>(null);

  const realtimeRef = useRef<RealtimeConnection | null>(null);
  const startRealtime = useCallback(() => {
    realtimeRef.current ??= new RealtimeConnection(api);
    setRealtime(realtimeRef.current);
  }, []);

  useEffect(() => {
    if (!realtime) return;
    setSocket(realtime.socket);
    setConnection(realtime.state);
    return realtime.onState((s) => {
      setConnection(s);
      setSocket(realtime.socket);
    });
  }, [realtime]);

  useEffect(() => {
    const off = api.onToken((token) => {
      if (!token) {
        rememberMe(null);
        setMe(null);
        realtimeRef.current?.dispose();
        realtimeRef.current = null;
        setRealtime(null);
      }
    });
    if (api.hasSession) {
      // Offline (or a link that swallows packets): open with the remembered user rather than wait
      // minutes for a TCP timeout; /api/me still answers later when it can.
      const known = rememberedMe();
      const fallback = known
        ? setTimeout(
            () => {
              setMe((prev) => prev ?? known);
              setRestoring(false);
              startRealtime();
            },
            navigator.onLine ? 5_000 : 0,
          )
        : undefined;
      api
        .get<MeResponse>('/api/me')
        .then((m) => {
          rememberMe(m);
          setMe(m);
          startRealtime();
        })
        .catch((err: unknown) => {
          if (known && isUnreachable(err)) {
            setMe(known);
            startRealtime();
          } else if (!isUnreachable(err)) {
            setMe(null);
          }
        })
        .finally(() => {
          clearTimeout(fallback);
          setRestoring(false);
        });
    }
    return () => {
      off();
    };
  }, [startRealtime]);

  const login = useCallback(
    async (email: string, password: string) => {
      await api.login(email, password);
      const m = await api.get<MeResponse>('/api/me');
      rememberMe(m);
      setMe(m);
      startRealtime();
    },
    [startRealtime],
  );

  const logout = useCallback(async () => {
    await api.logout();
    rememberMe(null);
    setMe(null);
  }, []);

  const value = useMemo<Session>(() => ({ api, me, restoring, socket, connection, login, logout }), [me, restoring, socket, connection, login, logout]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const ctx = useContext(SessionContext);
  if (!ctx) throw new Error('useSession outside SessionProvider');
  return ctx;
}

/** The signed-in user; only for screens rendered behind the login gate. */
export function useMe(): MeResponse {
  const { me } = useSession();
  if (!me) throw new Error('useMe without a signed-in user');
  return me;
}

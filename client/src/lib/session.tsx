/** The signed-in user, the API client and the realtime connection, for every screen. */
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { MeResponse } from '../../../contracts/api';
import { api, type ApiClient } from '../api/client';
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
        setMe(null);
        realtimeRef.current?.dispose();
        realtimeRef.current = null;
        setRealtime(null);
      }
    });
    if (api.hasSession) {
      api
        .get<MeResponse>('/api/me')
        .then((m) => {
          setMe(m);
          startRealtime();
        })
        .catch(() => undefined)
        .finally(() => setRestoring(false));
    }
    return () => {
      off();
    };
  }, [startRealtime]);

  const login = useCallback(
    async (email: string, password: string) => {
      await api.login(email, password);
      const m = await api.get<MeResponse>('/api/me');
      setMe(m);
      startRealtime();
    },
    [startRealtime],
  );

  const logout = useCallback(async () => {
    await api.logout();
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

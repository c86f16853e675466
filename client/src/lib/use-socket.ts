/** Subscribe a component to one typed server → client socket event for as long as it is mounted. */
import { useEffect, useRef } from 'react';
import type { ServerToClientEvents } from '../../../contracts/events';
import { useSession } from './session';

export function useSocketEvent<E extends keyof ServerToClientEvents>(event: E, handler: ServerToClientEvents[E]): void {
  const { socket } = useSession();
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => {
    if (!socket) return;
    const listener = ((...args: Parameters<ServerToClientEvents[E]>) => {
      (ref.current as (...a: Parameters<ServerToClientEvents[E]>) => void)(...args);
    }) as ServerToClientEvents[E];
    // socket.io's typed on/off take the listener of the event's own signature.
    (socket.on as (ev: E, l: ServerToClientEvents[E]) => void)(event, listener);
    return () => {
      (socket.off as (ev: E, l: ServerToClientEvents[E]) => void)(event, listener);
    };
  }, [socket, event]);
}

/**
 * The realtime handler helper: one way to handle a client event, keyed by the typed event map in
 * contracts/. The payload is validated with zod, the handler's result is the `{ok: true, ...}` ack,
 * and every refusal is the one ack shape `{ok: false, error: code, message}` (the HTTP error shape).
 * Refusals cost strikes from the connection's one budget (SocketGuard). Nothing thrown in a handler
 * reaches socket.io.
 */
import type { z } from 'zod';
import type { AckError, ClientToServerEvents } from '../../contracts/events';
import { DomainError } from '../platform/errors';
import type { Logger } from '../observability/logger';
import type { SocketGuard } from './event-guard';
import type { RealtimeSocket } from './realtime';

export type ClientEventName = keyof ClientToServerEvents;
type ArgsOf<E extends ClientEventName> = Parameters<ClientToServerEvents[E]>;
type AckOf<E extends ClientEventName> = Extract<ArgsOf<E>[number], (response: never) => void>;
/** What the handler of E returns: the ack's success fields, without `ok`. */
export type AckResult<E extends ClientEventName> = AckOf<E> extends (response: infer R) => void ? Omit<Extract<R, { ok: true }>, 'ok'> : never;
/** The payload of E (the argument before the ack), or undefined for events without one. */
export type PayloadOf<E extends ClientEventName> =
  ArgsOf<E> extends [infer P, ...unknown[]] ? (P extends (...a: never[]) => unknown ? undefined : P) : undefined;

export function ackError(error: string, message: string): AckError {
  return { ok: false, error, message };
}

/** Handlers of one socket. `on(event, schema, fn)`; schema null for events without a payload. */
export class RealtimeHandlers {
  constructor(
    private readonly socket: RealtimeSocket,
    private readonly guard: SocketGuard,
    private readonly logger: Logger,
  ) {}

  on<E extends ClientEventName>(event: E, schema: z.ZodType<PayloadOf<E>> | null, fn: (payload: PayloadOf<E>) => Promise<AckResult<E>> | AckResult<E>): void {
    const listener = (...args: unknown[]) => {
      const ack = typeof args.at(-1) === 'function' ? (args.pop() as (r: unknown) => void) : undefined;
      const reply = (r: unknown) => {
        try {
          ack?.(r);
        } catch (err) {
          this.logger.warn({ err, event }, 'socket ack failed');
        }
      };
      // No kicked check here: an event reaching its listener was admitted before any kick.
      let payload: unknown = args[0];
      if (schema) {
        const parsed = schema.safeParse(payload);
        if (!parsed.success) {
          reply(ackError('invalid', `invalid ${event}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ')}`));
          this.guard.strike(event, 'invalid');
          return;
        }
        payload = parsed.data;
      }
      Promise.resolve()
        .then(() => fn(payload as PayloadOf<E>))
        .then(
          (result) => reply({ ok: true, ...result }),
          (err: unknown) => {
            if (err instanceof DomainError) {
              reply(ackError(err.code, err.message));
              if (err.status >= 400 && err.status < 500 && err.status !== 409) this.guard.strike(event, 'failed', err.code);
              return;
            }
            this.logger.error({ err, event, userId: this.socket.data.userId }, 'socket handler failed');
            reply(ackError('internal', `${event} failed`));
          },
        );
    };
    (this.socket.on as (e: string, l: (...a: unknown[]) => void) => void)(event, listener);
  }
}

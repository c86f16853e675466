/**
 * The realtime handler helper: one way to handle a client event, keyed by the typed event map in
 * contracts/. The payload is validated with zod, the handler's result is the `{ok: true, ...}` ack,
 * and every refusal is the one ack shape `{ok: false, error: code, message}` (the HTTP error shape).
 * Refusals cost strikes from the connection's one budget (SocketGuard). Nothing thrown in a handler
 * reaches socket.io.
 */
import type { z } from 'zod';
import type { AckError, ClientToServerEvents } from '../../contracts/events';
import { checkJsonShape } from '../http/json-shape';
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
export type EventHandler<E extends ClientEventName> = (payload: PayloadOf<E>) => Promise<AckResult<E>> | AckResult<E>;

/** Where handlers are registered: the socket's RealtimeHandlers, or a scope of it (`checked`). */
export interface EventHandlers {
  /** Handles `event`: validates with `schema` (null for events without a payload), acks the result. */
  on<E extends ClientEventName>(event: E, schema: z.ZodType<PayloadOf<E>> | null, fn: EventHandler<E>): void;
}

export function ackError(error: string, message: string): AckError {
  return { ok: false, error, message };
}

/**
 * Whether a refusal costs a strike: a client error (4xx) does, except a conflict (409: a state the
 * client could not know, often a race with another user or a closing call) and an ended session
 * (401: the socket is being closed anyway, for a reason that is not abuse).
 */
function costsStrike(err: DomainError): boolean {
  return err.status >= 400 && err.status < 500 && err.status !== 409 && err.status !== 401;
}

/** Lets an event in after a check, in arrival order: `handle` it once admitted, else `refuse` it with the check's error. */
type Gate = (handle: () => void, refuse: (err: unknown) => void) => void;

/** Handlers of one socket. `on(event, schema, fn)`; schema null for events without a payload. */
export class RealtimeHandlers implements EventHandlers {
  constructor(
    private readonly socket: RealtimeSocket,
    private readonly guard: SocketGuard,
    private readonly logger: Logger,
  ) {}

  /** True once the socket ran out of strikes: it is being disconnected for abuse. */
  get kicked(): boolean {
    return this.guard.kicked;
  }

  on<E extends ClientEventName>(event: E, schema: z.ZodType<PayloadOf<E>> | null, fn: EventHandler<E>): void {
    this.#listen(event, schema, fn, null);
  }

  /**
   * A scope whose events each first pass `check` (e.g. "the account is still as the token says").
   * The checks run one after another in arrival order and each handler starts once its event's
   * check passed, so the scope's events are still handled in the order they came. A check that
   * throws refuses the event (a DomainError acks its code, like a handler's).
   */
  checked(check: () => Promise<void>): EventHandlers {
    let queue: Promise<void> = Promise.resolve();
    // A failed check refuses its own event only; the next one is checked on its own.
    const gate: Gate = (handle, refuse) => {
      queue = queue
        .then(check)
        .then(handle, refuse)
        .catch((err: unknown) => this.logger.error({ err }, 'socket event gate failed'));
    };
    return { on: (event, schema, fn) => this.#listen(event, schema, fn, gate) };
  }

  #listen<E extends ClientEventName>(event: E, schema: z.ZodType<PayloadOf<E>> | null, fn: EventHandler<E>, gate: Gate | null): void {
    const listener = (...args: unknown[]) => {
      const ack = typeof args.at(-1) === 'function' ? (args.pop() as (r: unknown) => void) : undefined;
      const reply = (r: unknown) => {
        try {
          ack?.(r);
        } catch (err) {
          this.logger.warn({ err, event }, 'socket ack failed');
        }
      };
      const refuse = (err: unknown) => {
        if (err instanceof DomainError) {
          reply(ackError(err.code, err.message));
          if (costsStrike(err)) this.guard.strike(event, 'failed', err.code);
          return;
        }
        this.logger.error({ err, event, userId: this.socket.data.userId }, 'socket handler failed');
        reply(ackError('internal', `${event} failed`));
      };
      // Validates and starts the handler synchronously, so handlers start in the order their events came.
      const handle = () => {
        // No kicked check here: an event reaching its listener was admitted before any kick.
        let payload: unknown = args[0];
        if (schema) {
          // The same shape limits as HTTP bodies (depth, storable keys, no NUL in text).
          const shape = checkJsonShape(payload, 'payload');
          if (shape) {
            reply(ackError('invalid', `invalid ${event}: ${shape.message}`));
            this.guard.strike(event, 'invalid');
            return;
          }
          const parsed = schema.safeParse(payload);
          if (!parsed.success) {
            reply(ackError('invalid', `invalid ${event}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ')}`));
            this.guard.strike(event, 'invalid');
            return;
          }
          payload = parsed.data;
        }
        let result: Promise<AckResult<E>> | AckResult<E>;
        try {
          result = fn(payload as PayloadOf<E>);
        } catch (err) {
          refuse(err);
          return;
        }
        Promise.resolve(result).then((r) => reply({ ok: true, ...r }), refuse);
      };
      if (gate) gate(handle, refuse);
      else handle();
    };
    // The one cast: socket.io types a listener per event name, and E is generic here; the event map
    // types `fn` above, which is what handlers see.
    (this.socket.on as (e: string, l: (...a: unknown[]) => void) => void)(event, listener);
  }
}

/**
 * Every server process is a media node. With Redis (REDIS_URL) the nodes find each other there:
 *
 * - each node registers `hoichan:media:node:<id>` (its pipe address and load: routers, consumers,
 *   peers), renewed every NODE_HEARTBEAT_MS with a NODE_TTL_MS time to live, deleted on an orderly
 *   shutdown: a node whose key is gone is dead;
 * - each consult call has one owning node, `hoichan:media:room:<consultId>:owner`, taken with
 *   SET NX and renewed by the owner while its room lives: the hub the other nodes pipe to;
 * - nodes talk over Redis pub/sub, one channel per node: requests with responses (`attach`) and
 *   one-way messages, delivered to a handler in the order they were sent.
 *
 * Redis carries who is where and the pipe parameters (addresses, SRTP keys); it and the pipe ports
 * belong on the operators' private network (docs/deploy.md).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Logger } from '../observability/logger';
import { RELEASE_IF_HELD } from '../platform/lease';
import type { RedisClient } from '../platform/shared-state';

export const NODE_HEARTBEAT_MS = 2_000;
export const NODE_TTL_MS = 6_000;
/** How long a request to another node waits for its answer. */
const REQUEST_TIMEOUT_MS = 5_000;

export const mediaNodeKey = (nodeId: string): string => `hoichan:media:node:${nodeId}`;
export const roomOwnerKey = (consultId: string): string => `hoichan:media:room:${consultId}:owner`;
const channelOf = (nodeId: string): string => `hoichan:media:node:${nodeId}:inbox`;
const NODES_SET = 'hoichan:media:nodes';

export interface MediaNodeLoad {
  routers: number;
  consumers: number;
  peers: number;
}

const nodeRecord = z.object({
  nodeId: z.string(),
  pipeAddress: z.string(),
  load: z.object({ routers: z.number(), consumers: z.number(), peers: z.number() }),
  at: z.number(),
});
export type MediaNodeRecord = z.infer<typeof nodeRecord>;

const envelope = z.discriminatedUnion('type', [
  z.object({ type: z.literal('request'), id: z.string(), from: z.string(), method: z.string(), body: z.unknown() }),
  z.object({ type: z.literal('response'), id: z.string(), from: z.string(), ok: z.boolean(), body: z.unknown(), error: z.string().optional() }),
  z.object({ type: z.literal('message'), from: z.string(), method: z.string(), body: z.unknown() }),
]);

/** Renew when ours, in one step (a key that expired and was taken by another node stays theirs). */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

export type MediaNodeHandler = (from: string, method: string, body: unknown) => Promise<unknown>;

export class MediaNodes {
  readonly nodeId: string;
  readonly #redis: RedisClient;
  readonly #logger: Logger;
  readonly #pipeAddress: string;
  readonly #load: () => MediaNodeLoad;
  #sub: RedisClient | null = null;
  #timer: NodeJS.Timeout | null = null;
  #handler: MediaNodeHandler = () => Promise.reject(new Error('no handler'));
  readonly #pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  #closed = false;

  constructor(options: { redis: RedisClient; nodeId: string; pipeAddress: string; load: () => MediaNodeLoad; logger: Logger }) {
    this.#redis = options.redis;
    this.nodeId = options.nodeId;
    this.#pipeAddress = options.pipeAddress;
    this.#load = options.load;
    this.#logger = options.logger.child({ part: 'media-nodes', nodeId: options.nodeId });
  }

  /** Subscribes to this node's channel and registers it; `handler` answers requests and takes messages. */
  async start(handler: MediaNodeHandler): Promise<void> {
    this.#handler = handler;
    const sub = this.#redis.duplicate();
    sub.on('error', (err: unknown) => this.#logger.warn({ err }, 'media node subscriber: Redis error (reconnecting)'));
    await sub.connect();
    this.#sub = sub;
    await sub.subscribe(channelOf(this.nodeId), (raw) => this.#receive(raw));
    await this.#register();
    this.#timer = setInterval(
      () => void this.#register().catch((err: unknown) => this.#logger.warn({ err }, 'media node heartbeat failed')),
      NODE_HEARTBEAT_MS,
    );
    this.#timer.unref();
  }

  async #register(): Promise<void> {
    const record: MediaNodeRecord = { nodeId: this.nodeId, pipeAddress: this.#pipeAddress, load: this.#load(), at: Date.now() };
    await this.#redis
      .multi()
      .set(mediaNodeKey(this.nodeId), JSON.stringify(record), { expiration: { type: 'PX', value: NODE_TTL_MS } })
      .sAdd(NODES_SET, this.nodeId)
      .exec();
  }

  /** The living nodes and their load (dead ones are dropped from the set as they are found). */
  async nodes(): Promise<MediaNodeRecord[]> {
    const ids = await this.#redis.sMembers(NODES_SET);
    if (!ids.length) return [];
    const values = await this.#redis.mGet(ids.map(mediaNodeKey));
    const living: MediaNodeRecord[] = [];
    const dead: string[] = [];
    ids.forEach((id, i) => {
      const record = parseRecord(values[i] ?? null);
      if (record) living.push(record);
      else dead.push(id);
    });
    if (dead.length) await this.#redis.sRem(NODES_SET, dead);
    return living;
  }

  async isAlive(nodeId: string): Promise<boolean> {
    return nodeId === this.nodeId || (await this.#redis.exists(mediaNodeKey(nodeId))) === 1;
  }

  /** Takes the call's ownership if nobody holds it; returns the owner (this node or another). */
  async claimOwner(consultId: string): Promise<string> {
    const key = roomOwnerKey(consultId);
    const set = await this.#redis.set(key, this.nodeId, { condition: 'NX', expiration: { type: 'PX', value: NODE_TTL_MS } });
    if (set === 'OK') return this.nodeId;
    const owner = await this.#redis.get(key);
    // Released between the two commands: try once more (the next tick settles anything rarer).
    return (
      owner ?? ((await this.#redis.set(key, this.nodeId, { condition: 'NX', expiration: { type: 'PX', value: NODE_TTL_MS } })) === 'OK' ? this.nodeId : '')
    );
  }

  owner(consultId: string): Promise<string | null> {
    return this.#redis.get(roomOwnerKey(consultId));
  }

  /** Renews this node's ownership; false when it is no longer the owner. */
  async renewOwner(consultId: string): Promise<boolean> {
    return (await this.#redis.eval(RENEW, { keys: [roomOwnerKey(consultId)], arguments: [this.nodeId, String(NODE_TTL_MS)] })) === 1;
  }

  async releaseOwner(consultId: string): Promise<void> {
    await this.#redis.eval(RELEASE_IF_HELD, { keys: [roomOwnerKey(consultId)], arguments: [this.nodeId] });
  }

  /** Frees a call owned by a node that died (only while that node still holds it). */
  async releaseDeadOwner(consultId: string, deadNodeId: string): Promise<void> {
    await this.#redis.eval(RELEASE_IF_HELD, { keys: [roomOwnerKey(consultId)], arguments: [deadNodeId] });
  }

  /** Asks another node; rejects when it refuses, or does not answer within REQUEST_TIMEOUT_MS (e.g. it died). */
  request(to: string, method: string, body: unknown): Promise<unknown> {
    const id = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`media node ${to} did not answer ${method}`));
      }, REQUEST_TIMEOUT_MS);
      timer.unref();
      this.#pending.set(id, { resolve, reject, timer });
      this.#publish(to, { type: 'request', id, from: this.nodeId, method, body }).catch((err: unknown) => {
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(err instanceof Error ? err : new Error(String(err)));
      });
    });
  }

  /** A one-way message; messages from one node to another arrive in the order they were sent. */
  send(to: string, method: string, body: unknown): void {
    this.#publish(to, { type: 'message', from: this.nodeId, method, body }).catch((err: unknown) =>
      this.#logger.warn({ err, to, method }, 'media node message not sent'),
    );
  }

  #publish(to: string, message: z.infer<typeof envelope>): Promise<number> {
    return this.#redis.publish(channelOf(to), JSON.stringify(message));
  }

  #receive(raw: string): void {
    let parsed: z.infer<typeof envelope>;
    try {
      const result = envelope.safeParse(JSON.parse(raw));
      if (!result.success) throw result.error;
      parsed = result.data;
    } catch (err) {
      this.#logger.warn({ err }, 'malformed media node message dropped');
      return;
    }
    const m = parsed;
    if (m.type === 'response') {
      const waiting = this.#pending.get(m.id);
      if (!waiting) return;
      this.#pending.delete(m.id);
      clearTimeout(waiting.timer);
      if (m.ok) waiting.resolve(m.body);
      else waiting.reject(new Error(m.error ?? 'refused'));
      return;
    }
    const handled = this.#handler(m.from, m.method, m.body);
    if (m.type === 'message') {
      handled.catch((err: unknown) => this.#logger.warn({ err, from: m.from, method: m.method }, 'media node message failed'));
      return;
    }
    handled
      .then((body) => this.#publish(m.from, { type: 'response', id: m.id, from: this.nodeId, ok: true, body }))
      .catch((err: unknown) =>
        this.#publish(m.from, {
          type: 'response',
          id: m.id,
          from: this.nodeId,
          ok: false,
          body: null,
          error: String(err instanceof Error ? err.message : err),
        }),
      )
      .catch((err: unknown) => this.#logger.warn({ err }, 'media node response not sent'));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error('media node closing'));
    }
    this.#pending.clear();
    await this.#redis
      .multi()
      .del(mediaNodeKey(this.nodeId))
      .sRem(NODES_SET, this.nodeId)
      .exec()
      .catch(() => undefined);
    await this.#sub?.close().catch(() => undefined);
  }
}

function parseRecord(value: string | null): MediaNodeRecord | undefined {
  if (!value) return undefined;
  try {
    const parsed = nodeRecord.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

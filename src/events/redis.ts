import type { createClient } from 'redis';
import { CesarError, ExitCode, InputError } from '../errors.js';
import type { Logger } from '../log.js';
import { quote } from '../text.js';
import { type CesarEvent, deliverEvent, type EventSubscription, type EventType, type SubscribeOptions } from './envelope.js';
import { type EventTransport, eventSerializer } from './publisher.js';

/**
 * The Redis transport: one capped stream (XADD MAXLEN ~ N), the entry id is the event's id, the
 * entry's fields are the envelope's `type`, `time` and `data` (JSON). Subscribers XREAD BLOCK on a
 * connection of their own and resume after the last id they delivered, so a reconnect loses nothing
 * the stream still holds. Needs Redis 6.2 or later (exclusive ranges). The redis package is loaded
 * only here, when REDIS_URL is set.
 */

type RedisClient = ReturnType<typeof createClient>;

export interface RedisStreamOptions {
  /** REDIS_URL; it may hold a password: never print it (describeRedis, redisAddress). */
  url: string;
  stream: string;
  /** The stream is trimmed to about this many entries. */
  maxLen: number;
  log: Logger;
}

interface StreamEntry {
  id: string;
  message: Record<string, string>;
}

/** Entries read per round trip (XREAD COUNT, history pages). */
const pageSize = 500;
/** XREAD blocks this long, then asks again (a dead connection shows within it). */
const blockMs = 5000;

/** "127.0.0.1:6379", for messages: never the URL, which may hold a password. */
export function redisAddress(url: string): string {
  try {
    const u = new URL(url);
    const host = u.hostname === '' ? 'localhost' : u.hostname;
    return `${host}:${u.port === '' ? '6379' : u.port}${u.protocol === 'rediss:' ? ' (TLS)' : ''}`;
  } catch {
    return 'REDIS_URL';
  }
}

/** "Redis stream cesar:events at 127.0.0.1:6379". */
export function describeRedis(url: string, stream: string): string {
  return `Redis stream ${stream} at ${redisAddress(url)}`;
}

/** Jittered exponential backoff, 100 ms doubling to 5 s. */
function backoff(retries: number): number {
  return Math.min(5000, 100 * 2 ** Math.min(retries, 10)) * (0.5 + Math.random() / 2);
}

/** node-redis errors can have an empty message (an AggregateError of a host's several addresses). */
function errorText(err: unknown): string {
  const e = err as { message?: string; code?: string; errors?: Array<{ message?: string }> };
  return e?.message || e?.code || e?.errors?.[0]?.message || String(err);
}

async function newClient(
  url: string,
  options: { offlineQueue: boolean; reconnect: (retries: number) => number | false },
): Promise<RedisClient> {
  const redis = await import('redis');
  // Bundled into the CLI (esbuild), this CommonJS package comes as a default export only.
  const createClient = redis.createClient ?? (redis as unknown as { default: typeof redis }).default.createClient;
  return createClient({
    url,
    disableOfflineQueue: !options.offlineQueue,
    socket: { connectTimeout: 5000, reconnectStrategy: (retries: number) => options.reconnect(retries) },
  });
}

function destroy(client: RedisClient): void {
  try {
    client.destroy();
  } catch {
    // already closed
  }
}

/** A connection that must work now (history, the start of a subscription): Redis unreachable is an error (exit 69). */
async function connectNow(options: RedisStreamOptions, reconnectLater: boolean): Promise<RedisClient> {
  let ready = false;
  const client = await newClient(options.url, {
    offlineQueue: true,
    reconnect: (retries) => (ready && reconnectLater ? backoff(retries) : false),
  });
  let lastError: unknown;
  client.on('error', (err) => {
    lastError = err;
  });
  try {
    await client.connect();
  } catch (err) {
    destroy(client);
    throw unavailable(options.url, lastError ?? err);
  }
  ready = true;
  return client;
}

function unavailable(url: string, err: unknown): CesarError {
  return new CesarError(
    `cannot reach Redis at ${redisAddress(url)}: ${errorText(err)}`,
    'redis_unavailable',
    ExitCode.unavailable,
    'is Redis running there? check REDIS_URL',
  );
}

/**
 * The publishing side. Never waits on Redis: while it is down (no offline queue) a batch is refused
 * at once and counted as dropped; node-redis reconnects with backoff. One warning when Redis goes,
 * one line when it is back. Resolves after the first connection attempt (ready or failed), so that
 * a healthy Redis takes the first events.
 */
export async function redisTransport(options: RedisStreamOptions): Promise<EventTransport> {
  const { stream, maxLen, log } = options;
  const address = redisAddress(options.url);
  const serialize = eventSerializer(log);
  const client = await newClient(options.url, { offlineQueue: false, reconnect: backoff });
  let down = false;
  let firstOutcome: () => void = () => undefined;
  const settled = new Promise<void>((resolve) => {
    firstOutcome = resolve;
  });
  client.on('error', (err) => {
    firstOutcome();
    if (down) return;
    down = true;
    log.warn(`event bus: cannot send to Redis at ${address} (${errorText(err)}); dropping events (counted) until it answers again`);
  });
  client.on('ready', () => {
    firstOutcome();
    if (!down) return;
    down = false;
    log.info(`event bus: Redis at ${address} is back; events are sent again`);
  });
  client.connect().catch(() => undefined);
  await settled;
  const trim = { TRIM: { strategy: 'MAXLEN' as const, strategyModifier: '~' as const, threshold: maxLen } };

  return {
    name: 'redis',
    connected: () => client.isReady,
    async send(batch) {
      if (!client.isReady) return 0;
      // Issued in the same tick, the XADDs go out as one pipeline (one write), in order.
      const sends: Array<Promise<unknown>> = [];
      for (const event of batch) {
        const fields = serialize(event);
        if (fields) sends.push(client.xAdd(stream, '*', { type: fields.type, time: fields.time, data: fields.data }, trim));
      }
      const results = await Promise.allSettled(sends);
      const failed = results.find((r) => r.status === 'rejected');
      if (failed && client.isReady) log.debug(`event bus: XADD failed: ${errorText(failed.reason)}`);
      return results.filter((r) => r.status === 'fulfilled').length;
    },
    async close() {
      destroy(client);
    },
  };
}

/** The stream entry back into the envelope; undefined for an entry that is not one. */
function toEvent(entry: StreamEntry): CesarEvent | undefined {
  const { type, time, data } = entry.message;
  if (typeof type !== 'string' || typeof time !== 'string' || typeof data !== 'string') return undefined;
  try {
    const parsed = JSON.parse(data) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    return { id: entry.id, type: type as EventType, time, data: parsed as Record<string, unknown> };
  } catch {
    return undefined;
  }
}

/** A stream id as given by an operator ("1732550000000-0", or just the milliseconds), checked. */
export function parseStreamId(id: string): string {
  const match = /^(\d{1,16})(?:-(\d{1,20}))?$/.exec(id.trim());
  if (!match) throw new InputError(`${quote(id)} is not an event id; expected a Redis stream id like 1732550000000-0`);
  return `${match[1]}-${match[2] ?? '0'}`;
}

function filterOf(types: readonly EventType[] | undefined): (event: CesarEvent) => boolean {
  if (!types || types.length === 0) return () => true;
  const wanted = new Set<string>(types);
  return (event) => wanted.has(event.type);
}

/**
 * Events from `since` (exclusive), or from the newest entry when there is none, until close().
 * Resolves once the starting point is fixed: every event published afterwards is delivered.
 */
export async function subscribeRedis(
  options: RedisStreamOptions,
  subscribe: SubscribeOptions,
  onEvent: (event: CesarEvent) => void,
): Promise<EventSubscription> {
  const { stream, log } = options;
  const address = redisAddress(options.url);
  let lastId = subscribe.since === undefined ? undefined : parseStreamId(subscribe.since);
  const client = await connectNow(options, true);
  try {
    lastId ??= (await newestEntry(client, stream))?.id ?? '0-0';
  } catch (err) {
    destroy(client);
    throw unavailable(options.url, err);
  }
  const wanted = filterOf(subscribe.types);
  let closed = false;
  let down = false;
  let failures = 0;
  let wake: (() => void) | undefined;

  const loop = async (): Promise<void> => {
    while (!closed) {
      let reply: Array<{ name: string; messages: StreamEntry[] }> | null;
      try {
        reply = (await client.xRead({ key: stream, id: lastId! }, { BLOCK: blockMs, COUNT: pageSize })) as typeof reply;
      } catch (err) {
        if (closed) return;
        failures += 1;
        if (!down) {
          down = true;
          log.warn(`event subscription: lost Redis at ${address} (${errorText(err)}); reconnecting, then resuming after ${lastId}`);
        }
        // The offline queue holds the next XREAD until the connection is back; this only spaces out other failures.
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, backoff(failures)).unref();
        });
        continue;
      }
      failures = 0;
      if (down) {
        down = false;
        log.info(`event subscription: Redis at ${address} is back; resumed after ${lastId}`);
      }
      for (const entry of reply?.[0]?.messages ?? []) {
        if (closed) return;
        lastId = entry.id;
        const event = toEvent(entry);
        if (event && wanted(event)) deliverEvent(onEvent, event, log);
      }
    }
  };
  const running = loop();

  return {
    async close() {
      closed = true;
      wake?.();
      destroy(client);
      await running;
    },
  };
}

async function newestEntry(client: RedisClient, stream: string): Promise<StreamEntry | undefined> {
  const entries = (await client.xRevRange(stream, '+', '-', { COUNT: 1 })) as StreamEntry[];
  return entries[0];
}

export interface HistoryOptions {
  /** After this id (exclusive), oldest first; without it, the newest events. */
  since?: string;
  /** At most this many (default: 50 without since, all with it). */
  limit?: number;
  types?: readonly EventType[];
}

export interface EventHistory {
  /** Oldest first. */
  events: CesarEvent[];
  /** The newest entry read (or the starting point): subscribe with `since: lastId` to go on without a gap. */
  lastId: string;
}

/** Events the stream holds: the newest `limit` (of the types asked), or those after `since`. */
export async function redisHistory(options: RedisStreamOptions, history: HistoryOptions): Promise<EventHistory> {
  const since = history.since === undefined ? undefined : parseStreamId(history.since);
  const client = await connectNow(options, false);
  try {
    return since === undefined
      ? await newest(client, options.stream, history.limit ?? 50, filterOf(history.types))
      : await after(client, options.stream, since, history.limit ?? Number.POSITIVE_INFINITY, filterOf(history.types));
  } catch (err) {
    throw err instanceof CesarError ? err : unavailable(options.url, err);
  } finally {
    destroy(client);
  }
}

async function newest(client: RedisClient, stream: string, limit: number, wanted: (e: CesarEvent) => boolean): Promise<EventHistory> {
  const found: CesarEvent[] = [];
  let lastId: string | undefined;
  let end = '+';
  while (found.length < limit) {
    const page = (await client.xRevRange(stream, end, '-', { COUNT: pageSize })) as StreamEntry[];
    lastId ??= page[0]?.id;
    for (const entry of page) {
      const event = toEvent(entry);
      if (event && wanted(event)) found.push(event);
      if (found.length >= limit) break;
    }
    if (page.length < pageSize) break;
    end = `(${page[page.length - 1]!.id}`;
  }
  return { events: found.reverse(), lastId: lastId ?? '0-0' };
}

async function after(
  client: RedisClient,
  stream: string,
  since: string,
  limit: number,
  wanted: (e: CesarEvent) => boolean,
): Promise<EventHistory> {
  const found: CesarEvent[] = [];
  let lastId = since;
  while (found.length < limit) {
    const page = (await client.xRange(stream, `(${lastId}`, '+', { COUNT: pageSize })) as StreamEntry[];
    for (const entry of page) {
      const event = toEvent(entry);
      if (event && wanted(event)) found.push(event);
      lastId = entry.id;
      if (found.length >= limit) break;
    }
    if (page.length < pageSize) break;
  }
  return { events: found, lastId };
}

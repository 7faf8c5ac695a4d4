import { listenForPayloads, maxNotifyPayloadBytes, notifyEvents } from '../db/event-channel.js';
import type { Queryable } from '../db/queryable.js';
import { UsageError } from '../errors.js';
import type { Logger } from '../log.js';
import { type CesarEvent, deliverEvent, type EventSubscription, type EventType, type SubscribeOptions } from './envelope.js';
import { type EventTransport, eventSerializer, type PendingEvent } from './publisher.js';

/**
 * The PostgreSQL transport: each batch is one `SELECT pg_notify(...) FROM unnest(...)` on the pool,
 * sent by the flusher (never in the caller's transaction); subscribers LISTEN. NOTIFY keeps no
 * history, so there is no `since` and no backlog here: REDIS_URL gives both.
 *
 * Ids are "<ms>-<pid>-<seq>": the publishing process's clock when the batch was made, its pid and a
 * counter of that process. Unique across processes (two live processes never share a pid), ordered
 * within one process (compare by seq); across processes only the ms part says which came first.
 *
 * An envelope whose JSON reaches NOTIFY's 8000-byte limit goes out with its data replaced by
 * `{"truncated": true, "original_bytes": N, ...}`, keeping the data's short scalar fields (ids,
 * names, counts: strings of at most 200 characters), so that the event is never silently lost.
 */

let sequence = 0;

/** A fresh "<ms>-<pid>-<seq>" id. */
export function postgresEventId(): string {
  sequence += 1;
  return `${Date.now()}-${process.pid}-${sequence}`;
}

export function postgresTransport(pool: Queryable, log: Logger): EventTransport {
  const serialize = eventSerializer(log);
  let connected = true;

  const payloadOf = (event: PendingEvent): string | undefined => {
    const fields = serialize(event);
    if (!fields) return undefined;
    const head = `{"id":${JSON.stringify(postgresEventId())},"type":${JSON.stringify(fields.type)},"time":"${fields.time}","data":`;
    return fitNotify(head, fields.data, event.data);
  };

  return {
    name: 'postgres',
    connected: () => connected,
    async send(batch) {
      const payloads: string[] = [];
      for (const event of batch) {
        const payload = payloadOf(event);
        if (payload !== undefined) payloads.push(payload);
      }
      try {
        await notifyEvents(pool, payloads);
      } catch (err) {
        if (connected) {
          connected = false;
          log.warn(
            `event bus: cannot send events through PostgreSQL NOTIFY (${(err as Error).message}); dropping them (counted) until it answers`,
          );
        }
        return 0;
      }
      if (!connected) {
        connected = true;
        log.info('event bus: PostgreSQL NOTIFY answers again; events are sent');
      }
      return payloads.length;
    },
    async close() {},
  };
}

/** The envelope `head + data + "}"`, its data cut down to the truncation marker when too large for NOTIFY. */
export function fitNotify(head: string, dataJson: string, data: Record<string, unknown>): string {
  const full = `${head}${dataJson}}`;
  // A UTF-16 code unit is at most 3 bytes of UTF-8: most payloads skip the byte count.
  const bytes = full.length * 3 <= maxNotifyPayloadBytes ? full.length : Buffer.byteLength(full);
  if (bytes <= maxNotifyPayloadBytes) return full;
  const marker = { truncated: true, original_bytes: bytes };
  const kept = `${head}${JSON.stringify({ ...shortScalars(data), ...marker })}}`;
  if (Buffer.byteLength(kept) <= maxNotifyPayloadBytes) return kept;
  return `${head}${JSON.stringify(marker)}}`;
}

function shortScalars(data: Record<string, unknown>): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data ?? {})) {
    if (key.length > 100) continue;
    if (typeof value === 'number' || typeof value === 'boolean' || value === null) kept[key] = value;
    else if (typeof value === 'string' && value.length <= 200) kept[key] = value;
  }
  return kept;
}

/** LISTEN for events; `since` is refused (NOTIFY keeps no history). */
export async function subscribePostgres(
  url: string,
  options: SubscribeOptions,
  onEvent: (event: CesarEvent) => void,
  log: Logger,
): Promise<EventSubscription> {
  if (options.since !== undefined) throw noHistory('resuming after an event id (since)');
  const wanted = options.types && options.types.length > 0 ? new Set<EventType>(options.types) : undefined;
  let malformedWarned = false;
  const listener = await listenForPayloads(
    url,
    (payload) => {
      const event = parseEnvelope(payload);
      if (!event) {
        if (!malformedWarned) log.warn(`event subscription: ignored a cesar_events notification that is not an event envelope`);
        malformedWarned = true;
        return;
      }
      if (wanted && !wanted.has(event.type)) return;
      deliverEvent(onEvent, event, log);
    },
    log,
  );
  return { close: () => listener.stop() };
}

/** The UsageError for what only a Redis stream can do. */
export function noHistory(what: string): UsageError {
  return new UsageError(
    `PostgreSQL NOTIFY keeps no event history, so ${what} is not possible`,
    'set REDIS_URL for events kept in a Redis stream (resumable, with history)',
  );
}

function parseEnvelope(payload: string): CesarEvent | undefined {
  try {
    const e = JSON.parse(payload) as Partial<CesarEvent>;
    if (typeof e.id !== 'string' || typeof e.type !== 'string' || typeof e.time !== 'string') return undefined;
    if (typeof e.data !== 'object' || e.data === null) return undefined;
    return { id: e.id, type: e.type, time: e.time, data: e.data };
  } catch {
    return undefined;
  }
}

import type { Logger } from '../log.js';
import { connectionError } from './connect.js';
import { type Listener, listenConnection } from './listen.js';
import type { Queryable } from './queryable.js';

/**
 * The event bus's PostgreSQL channel: NOTIFY with the envelope as payload, and a LISTEN that hands
 * each payload on. Unlike db/listen.ts (a wake-up hint, payload ignored), here the payload is the
 * data; notifications sent while the listener is disconnected are lost (NOTIFY keeps no history).
 */

export const eventChannel = 'cesar_events';

/**
 * PostgreSQL refuses a NOTIFY payload of 8000 bytes or more (the default build's limit); callers
 * shrink larger ones.
 */
export const maxNotifyPayloadBytes = 7999;

/** One statement for a whole batch, in order. Run it on a pool, never inside someone's transaction (it would wait for the commit). */
export async function notifyEvents(db: Queryable, payloads: readonly string[]): Promise<void> {
  if (payloads.length === 0) return;
  await db.query({ text: `SELECT pg_notify('${eventChannel}', e) FROM unnest($1::text[]) AS e`, values: [payloads] });
}

/**
 * LISTEN on a dedicated connection and call onPayload with each notification's payload, in order.
 * Resolves once listening (so that every notification sent afterwards arrives), or throws the
 * connection's DatabaseError. A lost connection is re-made with jittered backoff: one warning when
 * it goes, one line when it is back.
 */
export async function listenForPayloads(url: string, onPayload: (payload: string) => void, log: Logger): Promise<Listener> {
  const listener = listenConnection({
    url,
    channels: [eventChannel],
    name: 'cesar-events',
    log,
    onNotification: (channel, payload) => {
      if (channel === eventChannel && payload !== undefined) onPayload(payload);
    },
    lostLine: (err) => `event subscription: LISTEN ${eventChannel} connection lost${err ? `: ${err.message}` : ''}; reconnecting`,
    warnOn: (failures) => failures === 1,
    backLine: `event subscription: LISTEN ${eventChannel} is back (events sent while it was away are lost)`,
    baseDelayMs: 250,
    maxDelayMs: 10_000,
    retryFirst: false,
  });
  try {
    await listener.first;
  } catch (err) {
    await listener.stop();
    throw connectionError(err, url);
  }
  return listener;
}

import pg from 'pg';
import type { Logger } from '../log.js';
import { connectionError } from './connect.js';
import type { Listener } from './listen.js';
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
 * it goes, one line when it is back; a periodic SELECT 1 finds half-open sockets.
 */
export async function listenForPayloads(url: string, onPayload: (payload: string) => void, log: Logger): Promise<Listener> {
  let client: pg.Client | undefined;
  let stopped = false;
  let failures = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let pingTimer: NodeJS.Timeout | undefined;
  // Until the first LISTEN succeeds, a failure is the caller's error, not a reconnect.
  let started = false;

  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: url, keepAlive: true, application_name: `cesar-events:${process.pid}` });
    client = c;
    c.on('notification', (n) => {
      if (n.channel === eventChannel && n.payload !== undefined) onPayload(n.payload);
    });
    c.on('error', (err) => lost(c, err));
    c.on('end', () => lost(c));
    await c.connect();
    await c.query(`LISTEN ${eventChannel}`);
    pingTimer = setInterval(() => {
      c.query('SELECT 1').catch((err) => lost(c, err));
    }, 30_000);
    pingTimer.unref();
  };

  const reconnect = async (): Promise<void> => {
    if (stopped) return;
    try {
      await connect();
      log.info(`event subscription: LISTEN ${eventChannel} is back (events sent while it was away are lost)`);
      failures = 0;
    } catch (err) {
      if (client) lost(client, err as Error);
    }
  };

  const lost = (c: pg.Client, err?: Error): void => {
    if (client !== c || stopped || !started) return;
    client = undefined;
    if (pingTimer) clearInterval(pingTimer);
    c.removeAllListeners('end');
    c.end().catch(() => undefined);
    failures += 1;
    if (failures === 1) {
      log.warn(`event subscription: LISTEN ${eventChannel} connection lost${err ? `: ${err.message}` : ''}; reconnecting`);
    }
    const delay = Math.min(10_000, 250 * 2 ** Math.min(failures - 1, 6)) * (0.5 + Math.random() / 2);
    reconnectTimer = setTimeout(() => void reconnect(), delay);
  };

  const stop = async (): Promise<void> => {
    stopped = true;
    if (reconnectTimer) clearTimeout(reconnectTimer);
    if (pingTimer) clearInterval(pingTimer);
    const c = client;
    client = undefined;
    if (c) {
      c.removeAllListeners('end');
      await c.end().catch(() => undefined);
    }
  };

  try {
    await connect();
  } catch (err) {
    await stop();
    throw connectionError(err, url);
  }
  started = true;
  return { stop };
}

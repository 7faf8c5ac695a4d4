import pg from 'pg';
import type { Logger } from '../log.js';

export interface Listener {
  stop(): Promise<void>;
}

/**
 * LISTEN on a dedicated connection (never a pooled one) and call onNotify for each notification, and
 * once after every (re)connect, since notifications sent while disconnected are lost. Reconnects with
 * jittered backoff; a periodic SELECT 1 finds half-open sockets. Notifications are hints only:
 * callers keep polling.
 */
export function listen(url: string, channel: string, onNotify: () => void, log: Logger): Listener {
  let client: pg.Client | undefined;
  let stopped = false;
  let failures = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let pingTimer: NodeJS.Timeout | undefined;

  const connect = async (): Promise<void> => {
    if (stopped) return;
    const c = new pg.Client({ connectionString: url, keepAlive: true, application_name: `cesar-listen:${process.pid}` });
    client = c;
    c.on('notification', () => onNotify());
    c.on('error', (err) => lost(c, err));
    c.on('end', () => lost(c));
    try {
      await c.connect();
      await c.query(`LISTEN ${c.escapeIdentifier(channel)}`);
      if (failures > 0) log.info(`LISTEN ${channel} reconnected`);
      failures = 0;
      pingTimer = setInterval(() => {
        c.query('SELECT 1').catch((err) => lost(c, err));
      }, 30_000);
      pingTimer.unref();
      onNotify();
    } catch (err) {
      lost(c, err as Error);
    }
  };

  const lost = (c: pg.Client, err?: Error): void => {
    if (client !== c || stopped) return;
    client = undefined;
    if (pingTimer) clearInterval(pingTimer);
    c.removeAllListeners('end');
    c.end().catch(() => undefined);
    failures += 1;
    const delay = Math.min(30_000, 500 * 2 ** Math.min(failures - 1, 6)) * (0.5 + Math.random() / 2);
    if (failures === 1 || failures % 10 === 0) {
      log.warn(`LISTEN ${channel} connection lost${err ? `: ${err.message}` : ''}; polling until it reconnects`);
    }
    reconnectTimer = setTimeout(() => void connect(), delay);
  };

  void connect();
  return {
    async stop() {
      stopped = true;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      if (pingTimer) clearInterval(pingTimer);
      const c = client;
      client = undefined;
      if (c) {
        c.removeAllListeners('end');
        await c.end().catch(() => undefined);
      }
    },
  };
}

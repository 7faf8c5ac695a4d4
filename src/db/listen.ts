import pg from 'pg';
import type { Logger } from '../log.js';

export interface Listener {
  stop(): Promise<void>;
}

/** What one reconnecting LISTEN connection does, and what it says to the operator. */
export interface ListenConnectionOptions {
  url: string;
  channels: readonly string[];
  /** application_name, before ":<pid>". */
  name: string;
  log: Logger;
  onNotification(channel: string, payload: string | undefined): void;
  /** After each connect that is listening (notifications sent meanwhile were lost). */
  onListening?(): void;
  /** The warning when the connection goes (said for the failures warnOn accepts). */
  lostLine(err: Error | undefined): string;
  warnOn(failures: number): boolean;
  /** The line when it is back after a failure. */
  backLine: string;
  /** Backoff: base doubling up to max, jittered. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** true: the first connect is retried like any other; false: its failure is the caller's (first rejects, nothing retried). */
  retryFirst: boolean;
}

/**
 * LISTEN on a dedicated connection (never a pooled one), re-made with jittered backoff when lost; a
 * periodic SELECT 1 finds half-open sockets. `first` settles with the first connect.
 */
export function listenConnection(o: ListenConnectionOptions): Listener & { first: Promise<void> } {
  let client: pg.Client | undefined;
  let stopped = false;
  let started = o.retryFirst;
  let failures = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let pingTimer: NodeJS.Timeout | undefined;

  const connect = async (): Promise<void> => {
    if (stopped) return;
    const c = new pg.Client({ connectionString: o.url, keepAlive: true, application_name: `${o.name}:${process.pid}` });
    client = c;
    c.on('notification', (n) => o.onNotification(n.channel, n.payload));
    c.on('error', (err) => lost(c, err));
    c.on('end', () => lost(c));
    try {
      await c.connect();
      for (const channel of o.channels) await c.query(`LISTEN ${c.escapeIdentifier(channel)}`);
    } catch (err) {
      if (!started) throw err;
      lost(c, err as Error);
      return;
    }
    if (failures > 0) o.log.info(o.backLine);
    failures = 0;
    pingTimer = setInterval(() => {
      c.query('SELECT 1').catch((err) => lost(c, err));
    }, 30_000);
    pingTimer.unref();
    o.onListening?.();
  };

  const lost = (c: pg.Client, err?: Error): void => {
    if (client !== c || stopped || !started) return;
    client = undefined;
    if (pingTimer) clearInterval(pingTimer);
    c.removeAllListeners('end');
    c.end().catch(() => undefined);
    failures += 1;
    if (o.warnOn(failures)) o.log.warn(o.lostLine(err));
    const delay = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** Math.min(failures - 1, 6)) * (0.5 + Math.random() / 2);
    reconnectTimer = setTimeout(() => void connect(), delay);
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

  const first = connect().then(() => {
    started = true;
  });
  return { first, stop };
}

/**
 * LISTEN on a dedicated connection and call onNotify for each notification, and once after every
 * (re)connect, since notifications sent while disconnected are lost. Notifications are hints only:
 * callers keep polling.
 */
export function listen(url: string, channel: string, onNotify: () => void, log: Logger): Listener {
  const listener = listenConnection({
    url,
    channels: [channel],
    name: 'cesar-listen',
    log,
    onNotification: () => onNotify(),
    onListening: onNotify,
    lostLine: (err) => `LISTEN ${channel} connection lost${err ? `: ${err.message}` : ''}; polling until it reconnects`,
    warnOn: (failures) => failures === 1 || failures % 10 === 0,
    backLine: `LISTEN ${channel} reconnected`,
    baseDelayMs: 500,
    maxDelayMs: 30_000,
    retryFirst: true,
  });
  void listener.first;
  return listener;
}

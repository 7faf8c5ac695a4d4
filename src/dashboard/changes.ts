import { listen } from '../db/listen.js';
import type { Logger } from '../log.js';

/**
 * Something in the database may have changed: the dashboard's one signal to recompute its live
 * snapshot. A feed is a hint, never data; it runs only while someone listens (the dashboard listens
 * only while a page is open), so a dashboard nobody looks at costs the database nothing.
 */
export interface ChangeFeed {
  /** Call listener on each change; returns the function that stops it. */
  onChange(listener: () => void): () => void;
}

/**
 * A feed whose source runs while it has listeners: start(emit) when the first subscribes, and the
 * function start returned when the last one leaves.
 */
export function lazyFeed(start: (emit: () => void) => () => void): ChangeFeed {
  const listeners = new Set<() => void>();
  let stop: (() => void) | undefined;
  const emit = () => {
    for (const listener of [...listeners]) listener();
  };
  return {
    onChange(listener) {
      // A wrapper per subscription: the same function subscribed twice is two subscriptions.
      const entry = () => listener();
      listeners.add(entry);
      if (listeners.size === 1) stop = start(emit);
      return () => {
        if (!listeners.delete(entry) || listeners.size > 0) return;
        stop?.();
        stop = undefined;
      };
    },
  };
}

/** A change every intervalMs: the fallback that keeps the numbers moving when nothing notifies (workers finishing jobs). */
export function tickFeed(intervalMs: number): ChangeFeed {
  return lazyFeed((emit) => {
    const timer = setInterval(emit, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  });
}

/** The channels the dashboard listens on: enqueues (job_queue's trigger) and the event bus without Redis. */
export const dashboardChannels = ['cesar_jobs', 'cesar_events'] as const;

/**
 * PostgreSQL LISTEN on each channel (a dedicated connection each, see db/listen.ts), while subscribed.
 * A notification, and every (re)connect (notifications sent meanwhile are lost), is a change.
 */
export function postgresFeed(url: string, log: Logger, channels: readonly string[] = dashboardChannels): ChangeFeed {
  return lazyFeed((emit) => {
    const listeners = channels.map((channel) => listen(url, channel, emit, log));
    return () => {
      for (const l of listeners) void l.stop();
    };
  });
}

/** Every change of every feed. */
export function mergeFeeds(...feeds: ChangeFeed[]): ChangeFeed {
  return {
    onChange(listener) {
      const stops = feeds.map((feed) => feed.onChange(listener));
      return () => {
        for (const stop of stops) stop();
      };
    },
  };
}

/** What eventBusFeed needs of the event bus. */
export interface EventSource {
  subscribe(options: Record<string, never>, onEvent: () => void): Promise<{ close(): Promise<void> }>;
}

/**
 * Every event of the bus's Redis stream is a change (with PostgreSQL the bus's NOTIFYs reach
 * postgresFeed on cesar_events instead). Redis down when the first page connects: a warning, and
 * the pages move with the tick until a page connects again.
 */
export function eventBusFeed(bus: EventSource, log: Logger): ChangeFeed {
  return lazyFeed((emit) => {
    let stopped = false;
    let subscription: { close(): Promise<void> } | undefined;
    bus.subscribe({}, emit).then(
      (s) => {
        if (stopped) void s.close();
        else subscription = s;
      },
      (err: Error) => log.warn(`Dashboard: cannot follow the event stream (${err.message}); live pages update with the tick`),
    );
    return () => {
      stopped = true;
      void subscription?.close();
    };
  });
}

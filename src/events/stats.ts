import type { Queryable } from '../db/queryable.js';
import type { Logger } from '../log.js';
import type { PublisherStats } from './envelope.js';

/**
 * Publisher counts across processes. Workers publish but /metrics is served by the API process, so
 * each bus opened with a holder writes its counts to event_publishers (schema/014) every few seconds
 * and once when it closes; /metrics sums the rows that are fresh.
 */

/** How often a bus writes its row. */
const reportEveryMs = 5000;

/** Rows of publishers that stopped this long ago are deleted (a holder names one process). */
const forgetAfter = '1 day';

export async function upsertPublisherStats(db: Queryable, holder: string, stats: PublisherStats): Promise<void> {
  await db.query({
    text: `INSERT INTO event_publishers AS p (holder, transport, published, dropped, connected, updated_at)
           VALUES ($1, $2, $3, $4, $5, now())
           ON CONFLICT (holder) DO UPDATE
              SET transport = EXCLUDED.transport, published = EXCLUDED.published, dropped = EXCLUDED.dropped,
                  connected = EXCLUDED.connected, updated_at = EXCLUDED.updated_at`,
    values: [holder, stats.transport, stats.published, stats.dropped, stats.connected],
  });
}

export interface EventPublisherTotals {
  /** Publishers that wrote their row in the last 5 minutes. */
  publishers: number;
  published: number;
  dropped: number;
  /** Of those publishers, how many had lost their transport. */
  disconnected: number;
}

/** The sums over the publishers heard from in the last 5 minutes (a stopped process's row ages out). */
export async function eventPublisherTotals(db: Queryable): Promise<EventPublisherTotals> {
  const { rows } = await db.query<{ publishers: unknown; published: unknown; dropped: unknown; disconnected: unknown }>({
    text: `SELECT count(*) AS publishers,
                  coalesce(sum(published), 0) AS published,
                  coalesce(sum(dropped), 0) AS dropped,
                  count(*) FILTER (WHERE NOT connected) AS disconnected
             FROM event_publishers
            WHERE updated_at > now() - interval '5 minutes'`,
  });
  const row = rows[0];
  return {
    publishers: Number(row?.publishers ?? 0),
    published: Number(row?.published ?? 0),
    dropped: Number(row?.dropped ?? 0),
    disconnected: Number(row?.disconnected ?? 0),
  };
}

export interface StatsReporter {
  /** Stop the timer and write the row a last time (these stats, or the publisher's). */
  stop(last?: PublisherStats): Promise<void>;
}

/** Write the publisher's row now, then every 5 s (an unref'd timer); failures are logged at debug only. */
export function reportPublisherStats(db: Queryable, holder: string, stats: () => PublisherStats, log: Logger): StatsReporter {
  const write = async (last?: PublisherStats): Promise<void> => {
    try {
      await upsertPublisherStats(db, holder, last ?? stats());
    } catch (err) {
      log.debug(`event bus: could not write the publisher stats of ${holder}: ${(err as Error).message}`);
    }
  };
  // One write at a time: a tick that finds the last one still running skips.
  let inFlight: Promise<void> | undefined = forgetStale(db, log)
    .then(() => write())
    .finally(() => {
      inFlight = undefined;
    });
  const timer = setInterval(() => {
    inFlight ??= write().finally(() => {
      inFlight = undefined;
    });
  }, reportEveryMs);
  timer.unref();
  return {
    async stop(last) {
      clearInterval(timer);
      await inFlight;
      await write(last);
    },
  };
}

async function forgetStale(db: Queryable, log: Logger): Promise<void> {
  try {
    await db.query({ text: `DELETE FROM event_publishers WHERE updated_at < now() - interval '${forgetAfter}'` });
  } catch (err) {
    log.debug(`event bus: could not delete old publisher rows: ${(err as Error).message}`);
  }
}

import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/types.js';
import { iso } from './time.js';

/** A worker is live while its heartbeat is younger than this: the one definition everything uses. */
export const liveWorkerSeconds = 120;

/** live: heartbeat within liveWorkerSeconds; stopped: shut down cleanly; lost: neither (crashed, or cut off). */
export type WorkerState = 'live' | 'stopped' | 'lost';

export interface WorkerView {
  id: string;
  hostname: string;
  pid: number;
  queues: string[];
  concurrency: number;
  version: string;
  started_at: string;
  last_heartbeat_at: string;
  stopped_at: string | null;
  state: WorkerState;
}

const state = sql<WorkerState>`CASE WHEN stopped_at IS NOT NULL THEN 'stopped'
  WHEN last_heartbeat_at > now() - ${liveWorkerSeconds} * interval '1 second' THEN 'live' ELSE 'lost' END`;

/** Workers not stopped, and those stopped within the last `stoppedWithinSeconds` (default a day), newest first. */
export async function listWorkers(
  db: Kysely<Database>,
  options: { stoppedWithinSeconds?: number; includeStopped?: boolean; limit?: number } = {},
): Promise<WorkerView[]> {
  const within = options.stoppedWithinSeconds ?? 86_400;
  const rows = await db
    .selectFrom('workers')
    .select(['id', 'hostname', 'pid', 'queues', 'concurrency', 'version', 'started_at', 'last_heartbeat_at', 'stopped_at'])
    .select(state.as('state'))
    .where((eb) =>
      options.includeStopped === false
        ? eb('stopped_at', 'is', null)
        : eb.or([eb('stopped_at', 'is', null), eb('stopped_at', '>', sql<Date>`now() - ${within} * interval '1 second'`)]),
    )
    .orderBy('last_heartbeat_at', 'desc')
    .limit(options.limit ?? 50)
    .execute();
  return rows.map((w) => ({
    ...w,
    started_at: w.started_at.toISOString(),
    last_heartbeat_at: w.last_heartbeat_at.toISOString(),
    stopped_at: iso(w.stopped_at),
  }));
}

/** How many workers are live, how many have a heartbeat within `withinSeconds` (default: live), and the newest heartbeat. */
export async function workerCounts(
  db: Kysely<Database>,
  withinSeconds = liveWorkerSeconds,
): Promise<{ live: number; fresh: number; total: number; newest_heartbeat_at: string | null }> {
  const row = await db
    .selectFrom('workers')
    .select([
      sql<number>`count(*) FILTER (WHERE stopped_at IS NULL AND last_heartbeat_at > now() - ${liveWorkerSeconds} * interval '1 second')`.as(
        'live',
      ),
      sql<number>`count(*) FILTER (WHERE stopped_at IS NULL AND last_heartbeat_at > now() - ${withinSeconds} * interval '1 second')`.as(
        'fresh',
      ),
      sql<number>`count(*)`.as('total'),
      sql<Date | null>`max(last_heartbeat_at) FILTER (WHERE stopped_at IS NULL)`.as('newest'),
    ])
    .executeTakeFirstOrThrow();
  return { live: row.live, fresh: row.fresh, total: row.total, newest_heartbeat_at: iso(row.newest) };
}

import type { Queryable } from '../db/queryable.js';
import { isDatabaseUnreachable } from '../db/wait.js';
import { processEvents } from '../events/process-events.js';
import type { Logger } from '../log.js';
import { refreshView } from '../monitoring/views.js';
import { monitoringViews } from '../reference.js';
import type { MaintenanceTask } from './runner.js';

/**
 * What changed in the tables the views summarise, in one cheap read: the row counts of changes in
 * pg_stat_user_tables (a catalog read), and, for the busy queue, exact signs read by primary key:
 * the newest job and the outcomes counted in the current and previous minute.
 *
 * The statistics lag: PostgreSQL 15 and later publish a backend's counts at most once a second, and
 * a backend that goes idle just after publishing holds them up to 10 s (measured on 15); before 15 a
 * backend sends them at the end of a transaction at most every 0.5 s, so an idle one holds them
 * until its next transaction. Hence the exact signs for job_queue, and maxIntervalMs for the rest.
 */
const changesSql = `
WITH stats AS (
    SELECT relname, n_tup_ins + n_tup_upd + n_tup_del AS changes
      FROM pg_stat_user_tables
     WHERE schemaname = current_schema()
)
SELECT (SELECT coalesce(sum(changes), 0) FROM stats WHERE relname IN ('job_queue', 'job_throughput')) AS job_changes,
       (SELECT max(id) FROM job_queue) AS newest_job,
       (SELECT coalesce(sum(jobs), 0) FROM job_throughput
         WHERE minute >= date_trunc('minute', now()) - interval '1 minute') AS recent_outcomes,
       (SELECT coalesce(sum(changes), 0) FROM stats WHERE relname = 'ingestion_log') AS ingestion_changes,
       (SELECT max(id) FROM ingestion_log) AS newest_ingestion,
       (SELECT coalesce(sum(changes), 0) FROM stats
         WHERE relname IN ('sync_systems', 'sync_status', 'sync_tables', 'supabase_sync_state')) AS sync_changes`;

interface Changes {
  job_changes: string;
  newest_job: number | null;
  recent_outcomes: string;
  ingestion_changes: string;
  newest_ingestion: number | null;
  sync_changes: string;
}

/** One value per view that differs whenever something it summarises has changed (and was seen). */
function fingerprints(c: Changes): Record<string, string> {
  return {
    mv_sync_lag: c.sync_changes,
    mv_job_queue_backlog: `${c.job_changes}/${c.newest_job}/${c.recent_outcomes}`,
    mv_ingestion_errors: `${c.ingestion_changes}/${c.newest_ingestion}`,
  };
}

async function readFingerprints(pool: Queryable): Promise<Record<string, string>> {
  const { rows } = await pool.query<Changes>({ name: 'cesar_view_changes', text: changesSql, values: [] });
  return fingerprints(rows[0]!);
}

export interface RefreshIntervals {
  /** The debounce: a view that changed is refreshed at most this often. */
  minIntervalMs: number;
  /** Changed or not, a view is refreshed at least this often (its ages and lags are as of its refresh). */
  maxIntervalMs: number;
}

/**
 * Whether a view is due for a refresh. sinceMs: since this process last tried (undefined: never);
 * failed: that try failed (it is tried again after maxIntervalMs, not at each change).
 */
export function refreshDue(view: { changed: boolean; sinceMs: number | undefined; failed: boolean }, intervals: RefreshIntervals): boolean {
  if (view.sinceMs === undefined || view.sinceMs >= intervals.maxIntervalMs) return true;
  return view.changed && !view.failed && view.sinceMs >= intervals.minIntervalMs;
}

export interface RefreshViewsOptions {
  pool: Queryable;
  log: Logger;
  /** Recorded as refreshed_by: the worker's id (asked at each refresh, so it may be set after this task is made). */
  refreshedBy: () => string;
  /** Default 2 s. */
  minIntervalMs?: number;
  /** Default 60 s. */
  maxIntervalMs?: number;
  /** How often to look for changes (default 1 s). */
  pollMs?: number;
  /** Look for changes (default true). false: every maxIntervalMs only (CockroachDB: no table statistics to read). */
  watchChanges?: boolean;
}

interface ViewState {
  /** performance.now() of the last try. */
  triedAt?: number;
  /** The fingerprint read before the last try. */
  fingerprint?: string;
  failed: boolean;
}

/**
 * Keeps the monitoring views fresh, in one process at a time: refreshes a view soon after what it
 * summarises changes, at most every minIntervalMs (a burst of jobs makes one refresh every few
 * seconds, not one per job), and at least every maxIntervalMs.
 */
export function refreshViewsTask(options: RefreshViewsOptions): MaintenanceTask {
  const { pool, log } = options;
  const intervals = { minIntervalMs: options.minIntervalMs ?? 2000, maxIntervalMs: options.maxIntervalMs ?? 60_000 };
  const states = new Map<string, ViewState>(monitoringViews.map(([view]) => [view, { failed: false }]));

  const refresh = async (view: string, state: ViewState): Promise<void> => {
    try {
      const r = await refreshView(pool, view, options.refreshedBy());
      if (state.failed) log.info(`Monitoring view ${view} refreshes again`);
      state.failed = false;
      log.debug(`Refreshed ${view} in ${Math.round(r.durationMs)} ms`);
      processEvents().publish('view.refreshed', { view, duration_ms: Math.round(r.durationMs * 10) / 10, concurrently: r.concurrently });
    } catch (err) {
      if (isDatabaseUnreachable(err)) throw err;
      state.failed = true;
      log.warn(`refreshing monitoring view ${view} failed (tried again in ${intervals.maxIntervalMs / 1000} s): ${(err as Error).message}`);
    }
  };

  return {
    name: 'refresh_views',
    scope: 'one_process',
    everyMs: options.pollMs ?? 1000,
    firstRunMs: 0,
    async run(signal) {
      const seen = options.watchChanges === false ? {} : await readFingerprints(pool);
      for (const [view, state] of states) {
        if (signal.aborted) return;
        const fingerprint = seen[view] ?? '';
        const now = performance.now();
        const due = refreshDue(
          {
            changed: fingerprint !== state.fingerprint,
            sinceMs: state.triedAt === undefined ? undefined : now - state.triedAt,
            failed: state.failed,
          },
          intervals,
        );
        if (!due) continue;
        state.triedAt = now;
        state.fingerprint = fingerprint;
        await refresh(view, state);
      }
    },
  };
}

import type { Queryable } from '../db/queryable.js';
import { monitoringViews } from '../reference.js';

export interface RefreshResult {
  view: string;
  concurrently: boolean;
  durationMs: number;
}

/**
 * A refresh done: its start is the database's now() at the end less the duration measured here, so
 * refreshed_at is database time (the age that status and verify show needs no client clock).
 */
const recordRefreshSql = `
INSERT INTO monitoring_view_refreshes (view_name, refreshed_at, duration_ms, refreshed_by, refreshes)
VALUES ($1, now() - $2::float8 * interval '1 millisecond', $2, $3, 1)
    ON CONFLICT (view_name) DO UPDATE
   SET refreshed_at = EXCLUDED.refreshed_at,
       duration_ms = EXCLUDED.duration_ms,
       refreshed_by = EXCLUDED.refreshed_by,
       refreshes = monitoring_view_refreshes.refreshes + 1`;

const recordFailureSql = `
INSERT INTO monitoring_view_refreshes (view_name, last_error, last_error_at)
VALUES ($1, $2, now())
    ON CONFLICT (view_name) DO UPDATE
   SET last_error = EXCLUDED.last_error,
       last_error_at = EXCLUDED.last_error_at`;

/**
 * Refresh one monitoring view and record it in monitoring_view_refreshes (a failure too, as
 * last_error, before it is thrown). CONCURRENTLY keeps the view readable during the refresh and
 * takes no lock that a job claim or a reader waits for; it needs the unique index each view has
 * and a populated view, so an unpopulated one is refreshed plainly first.
 */
export async function refreshView(pool: Queryable, view: string, refreshedBy: string): Promise<RefreshResult> {
  const started = performance.now();
  let concurrently = true;
  try {
    try {
      await pool.query({ text: `REFRESH MATERIALIZED VIEW CONCURRENTLY ${view}` });
    } catch (err) {
      if ((err as { code?: string }).code !== '55000') throw err; // 55000: not populated yet
      concurrently = false;
      await pool.query({ text: `REFRESH MATERIALIZED VIEW ${view}` });
    }
  } catch (err) {
    // Best effort: when the database is gone, the refresh's own error is the one to report.
    await pool.query({ text: recordFailureSql, values: [view, (err as Error).message] }).catch(() => undefined);
    throw err;
  }
  const durationMs = performance.now() - started;
  await pool.query({ text: recordRefreshSql, values: [view, durationMs, refreshedBy] });
  return { view, concurrently, durationMs };
}

/** Refresh the three monitoring views, one after the other. */
export async function refreshMonitoringViews(pool: Queryable, refreshedBy = 'cesar'): Promise<RefreshResult[]> {
  const results: RefreshResult[] = [];
  for (const [view] of monitoringViews) results.push(await refreshView(pool, view, refreshedBy));
  return results;
}

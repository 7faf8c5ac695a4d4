import { workerCounts } from '../read-model/index.js';
import { type ViewRefreshView, viewRefreshes } from '../read-model/status.js';
import { monitoringViews } from '../reference.js';
import { indexesOf } from './catalog.js';
import { attempt, type Check } from './types.js';

/**
 * While a worker is live, a monitoring view refreshed longer ago than this fails MONITORING: workers
 * refresh each view at least every minute, so five minutes means their refresh has stopped.
 */
export const maxViewAgeSeconds = 300;

const ago = (r: ViewRefreshView | undefined): string =>
  r?.age_seconds == null ? 'never refreshed' : `refreshed ${Math.round(r.age_seconds)} s ago (${r.refreshed_at})`;

/**
 * MONITORING: the three materialized views exist, are populated, can refresh concurrently, and, while
 * a worker is live, were refreshed within maxViewAgeSeconds.
 */
export const checkMonitoring: Check = async ({ pool, db }) => {
  const problems: string[] = [];
  const facts: string[] = [];
  const views =
    (await attempt(
      problems,
      'reading pg_matviews',
      async () =>
        (
          await pool.query<{ name: string; populated: boolean }>(
            `SELECT matviewname AS name, ispopulated AS populated FROM pg_matviews WHERE schemaname = current_schema()`,
          )
        ).rows,
    )) ?? [];
  const refreshes = (await attempt(problems, 'reading monitoring_view_refreshes', () => viewRefreshes(db))) ?? [];
  const workers = await attempt(problems, 'reading workers', () => workerCounts(db));
  const live = workers?.live ?? 0;
  let index = 0;
  for (const [view, purpose] of monitoringViews) {
    const found = views.find((v) => v.name === view);
    if (!found) {
      problems.push(`materialized view ${view} is missing (run \`cesar migrate\`)`);
      facts.push(`${++index}. ${view}: missing`);
      continue;
    }
    const indexes = (await attempt(problems, `reading indexes of ${view}`, () => indexesOf(pool, view))) ?? [];
    const refreshable = indexes.some((ix) => ix.unique && ix.predicate === null && !ix.hasExpressions);
    if (!refreshable) problems.push(`${view} has no plain unique index, so REFRESH ... CONCURRENTLY cannot run`);
    if (!found.populated) problems.push(`${view} is not populated (REFRESH MATERIALIZED VIEW ${view})`);
    let rows = '-';
    if (found.populated) {
      const r = await attempt(
        problems,
        `reading ${view}`,
        async () => (await pool.query<{ n: number }>(`SELECT count(*) AS n FROM ${view}`)).rows[0],
      );
      rows = String(r?.n ?? '-');
    }
    const refresh = refreshes.find((r) => r.view === view);
    const stale = refresh?.age_seconds == null || refresh.age_seconds > maxViewAgeSeconds;
    if (live > 0 && stale) {
      const error = refresh?.last_error ? `; last error (${refresh.last_error_at}): ${refresh.last_error}` : '';
      problems.push(
        `${view} was ${ago(refresh)}, over the ${maxViewAgeSeconds} s limit while ${live} worker(s) are live: their refresh_views task is not running or failing (see the workers' log)${error}`,
      );
    }
    const took = refresh?.duration_ms == null ? '' : ` in ${Math.round(refresh.duration_ms)} ms`;
    facts.push(`${++index}. ${view}: ${purpose}; ${rows} rows, ${ago(refresh)}${took}`);
  }
  facts.push(
    live > 0
      ? `${live} live worker(s): each view must have been refreshed in the last ${maxViewAgeSeconds} s`
      : `No live worker: view ages are not checked (workers refresh the views)`,
  );
  return {
    passed: problems.length === 0,
    summary: `${views.filter((v) => monitoringViews.some(([m]) => m === v.name)).length} of ${monitoringViews.length} monitoring views present`,
    problems,
    facts,
  };
};

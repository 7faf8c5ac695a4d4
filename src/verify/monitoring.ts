import { monitoringViews } from '../reference.js';
import { indexesOf } from './catalog.js';
import { attempt, type Check } from './types.js';

/** MONITORING: the three materialized views exist, are populated and can refresh concurrently. */
export const checkMonitoring: Check = async ({ pool }) => {
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
    let refreshed = '';
    if (found.populated) {
      const r = await attempt(
        problems,
        `reading ${view}`,
        async () =>
          (await pool.query<{ n: number; at: Date | null }>(`SELECT count(*) AS n, max(refreshed_at) AS at FROM ${view}`)).rows[0],
      );
      rows = String(r?.n ?? '-');
      refreshed = r?.at ? `, refreshed ${r.at.toISOString()}` : '';
    }
    facts.push(`${++index}. ${view}: ${purpose}; ${rows} rows${refreshed}`);
  }
  return {
    passed: problems.length === 0,
    summary: `${views.filter((v) => monitoringViews.some(([m]) => m === v.name)).length} of ${monitoringViews.length} monitoring views present`,
    problems,
    facts,
  };
};

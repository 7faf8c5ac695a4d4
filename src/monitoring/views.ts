import type pg from 'pg';
import { monitoringViews } from '../reference.js';

export interface RefreshResult {
  view: string;
  concurrently: boolean;
  durationMs: number;
}

/**
 * Refresh the monitoring views. CONCURRENTLY keeps them readable during the refresh; it needs the
 * unique index each has and a populated view, so an unpopulated one is refreshed plainly first.
 */
export async function refreshMonitoringViews(pool: pg.Pool): Promise<RefreshResult[]> {
  const results: RefreshResult[] = [];
  for (const [view] of monitoringViews) {
    const started = Date.now();
    let concurrently = true;
    try {
      await pool.query(`REFRESH MATERIALIZED VIEW CONCURRENTLY ${view}`);
    } catch (err) {
      if ((err as { code?: string }).code !== '55000') throw err; // 55000: not populated yet
      concurrently = false;
      await pool.query(`REFRESH MATERIALIZED VIEW ${view}`);
    }
    results.push({ view, concurrently, durationMs: Date.now() - started });
  }
  return results;
}

import type { Queryable } from '../db/queryable.js';
import type { Logger } from '../log.js';
import { rescueSql } from '../queue/queries.js';
import type { MaintenanceTask } from './runner.js';

export interface RescueJobsOptions {
  pool: Queryable;
  log: Logger;
  everyMs: number;
  /** Called with the number of jobs put back, when there were any (the worker claims them at once). */
  onRescued: (count: number) => void;
}

/**
 * Crash recovery: jobs whose lease ran out go back to pending (or to failed when out of attempts).
 * Every process runs it: SKIP LOCKED makes concurrent rescues safe, and the more workers look, the
 * sooner a dead worker's jobs come back.
 */
export function rescueJobsTask(options: RescueJobsOptions): MaintenanceTask {
  const { pool, log } = options;
  return {
    name: 'rescue_jobs',
    scope: 'every_process',
    everyMs: options.everyMs,
    firstRunMs: 0,
    async run() {
      const { rows } = await pool.query<{ id: number; status: string }>({ name: 'cesar_rescue', text: rescueSql, values: [] });
      if (rows.length === 0) return;
      log.warn(`Rescued ${rows.length} job(s) whose worker stopped renewing its lease`, { jobs: rows.map((r) => r.id).slice(0, 20) });
      options.onRescued(rows.length);
    },
  };
}

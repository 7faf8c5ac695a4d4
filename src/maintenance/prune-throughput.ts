import type { Queryable } from '../db/queryable.js';
import type { Logger } from '../log.js';
import type { MaintenanceTask } from './runner.js';

/**
 * Retention of the per-minute job counts: delete the minutes recorded before now() - $1 seconds, at
 * most an hour of them per statement, oldest first (one range of the primary key, whose first
 * column is the minute).
 */
const pruneThroughputSql = `
DELETE FROM job_throughput
 WHERE minute < now() - $1 * interval '1 second'
   AND minute < (SELECT min(minute) FROM job_throughput) + interval '1 hour'`;

export interface PruneThroughputOptions {
  pool: Queryable;
  log: Logger;
  /** Default 7 days. */
  retentionMs?: number;
  /** Default 10 minutes. */
  everyMs?: number;
}

/** Retention: keep job_throughput to its last 7 days, in one process at a time. */
export function pruneThroughputTask(options: PruneThroughputOptions): MaintenanceTask {
  const { pool, log } = options;
  const retentionMs = options.retentionMs ?? 7 * 86_400_000;
  return {
    name: 'prune_throughput',
    scope: 'one_process',
    everyMs: options.everyMs ?? 10 * 60_000,
    firstRunMs: 10_000,
    async run(signal) {
      let total = 0;
      for (;;) {
        const { rowCount } = await pool.query({ text: pruneThroughputSql, values: [retentionMs / 1000] });
        total += rowCount ?? 0;
        if (!rowCount || signal.aborted) break;
      }
      if (total > 0) log.debug(`Pruned ${total} job_throughput row(s) older than ${retentionMs / 86_400_000} days`);
    },
  };
}

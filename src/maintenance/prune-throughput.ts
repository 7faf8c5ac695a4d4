import type { Queryable } from '../db/queryable.js';
import type { Logger } from '../log.js';
import type { MaintenanceTask } from './runner.js';

/** The per-minute counters the workers write: the first column of each one's primary key is the minute. */
const counterTables = ['job_throughput', 'job_attempt_durations'] as const;

/**
 * Retention of a per-minute counter table: delete the minutes recorded before now() - $1 seconds,
 * at most an hour of them per statement, oldest first (one range of the primary key).
 */
function pruneMinutesSql(table: (typeof counterTables)[number]): string {
  return `
DELETE FROM ${table}
 WHERE minute < now() - $1 * interval '1 second'
   AND minute < (SELECT min(minute) FROM ${table}) + interval '1 hour'`;
}

export interface PruneThroughputOptions {
  pool: Queryable;
  log: Logger;
  /** Default 7 days. */
  retentionMs?: number;
  /** Default 10 minutes. */
  everyMs?: number;
}

/** Retention: keep job_throughput and job_attempt_durations to their last 7 days, in one process at a time. */
export function pruneThroughputTask(options: PruneThroughputOptions): MaintenanceTask {
  const { pool, log } = options;
  const retentionMs = options.retentionMs ?? 7 * 86_400_000;
  return {
    name: 'prune_throughput',
    scope: 'one_process',
    everyMs: options.everyMs ?? 10 * 60_000,
    firstRunMs: 10_000,
    async run(signal) {
      for (const table of counterTables) {
        let total = 0;
        for (;;) {
          const { rowCount } = await pool.query({ text: pruneMinutesSql(table), values: [retentionMs / 1000] });
          total += rowCount ?? 0;
          if (!rowCount || signal.aborted) break;
        }
        if (total > 0) log.debug(`Pruned ${total} ${table} row(s) older than ${retentionMs / 86_400_000} days`);
        if (signal.aborted) return;
      }
    },
  };
}

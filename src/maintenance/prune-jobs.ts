import type { Queryable } from '../db/queryable.js';
import type { Logger } from '../log.js';
import { pruneSql } from '../queue/queries.js';
import type { MaintenanceTask } from './runner.js';

const batchSize = 10_000;

export interface PruneJobsOptions {
  pool: Queryable;
  log: Logger;
  /** Completed and cancelled jobs finished longer ago than this are deleted; failed jobs are kept. */
  retentionMs: number;
  /** Default 10 minutes. */
  everyMs?: number;
  /** Default 1 s: history past the retention goes soon after a worker starts. */
  firstRunMs?: number;
}

/** Retention: delete old finished jobs with their attempts, in batches, in one process at a time. */
export function pruneJobsTask(options: PruneJobsOptions): MaintenanceTask {
  const { pool, log, retentionMs } = options;
  return {
    name: 'prune_jobs',
    scope: 'one_process',
    everyMs: options.everyMs ?? 10 * 60_000,
    firstRunMs: options.firstRunMs ?? 1000,
    async run(signal) {
      let total = 0;
      for (;;) {
        const { rowCount } = await pool.query({ text: pruneSql, values: [retentionMs / 1000, batchSize] });
        total += rowCount ?? 0;
        if ((rowCount ?? 0) < batchSize || signal.aborted) break;
      }
      if (total > 0) log.info(`Pruned ${total} finished job(s) older than the retention period`);
    },
  };
}

import type { Queryable } from '../db/queryable.js';
import type { Logger } from '../log.js';
import type { MaintenanceTask } from './runner.js';

const batchSize = 10_000;

/**
 * Retention of the tick record: delete up to $2 ticks recorded before now() - $1 seconds, except each
 * template's newest tick, which tells the schedulers where it left off (without it, the ticks after
 * the template's active_since would look missed again and fire again). Executions are kept.
 */
const pruneTicksSql = `
WITH doomed AS MATERIALIZED (
    SELECT k.template_id, k.tick_at
      FROM workflow_ticks k
     WHERE k.recorded_at < now() - $1 * interval '1 second'
       AND k.tick_at < (SELECT max(m.tick_at) FROM workflow_ticks m WHERE m.template_id = k.template_id)
     LIMIT $2
)
DELETE FROM workflow_ticks k
 USING doomed d
 WHERE k.template_id = d.template_id AND k.tick_at = d.tick_at`;

export interface PruneTicksOptions {
  pool: Queryable;
  log: Logger;
  /** Ticks recorded longer ago than this are deleted (CESAR_JOB_RETENTION). */
  retentionMs: number;
  /** Default 10 minutes. */
  everyMs?: number;
}

/** Retention: delete old ticks (a per-second template records 86,400 a day), in one process at a time. */
export function pruneTicksTask(options: PruneTicksOptions): MaintenanceTask {
  const { pool, log, retentionMs } = options;
  return {
    name: 'prune_ticks',
    scope: 'one_process',
    everyMs: options.everyMs ?? 10 * 60_000,
    firstRunMs: 5000,
    async run(signal) {
      let total = 0;
      for (;;) {
        const { rowCount } = await pool.query({ text: pruneTicksSql, values: [retentionMs / 1000, batchSize] });
        total += rowCount ?? 0;
        if ((rowCount ?? 0) < batchSize || signal.aborted) break;
      }
      if (total > 0) log.info(`Pruned ${total} workflow tick(s) older than the retention period (each template's newest is kept)`);
    },
  };
}

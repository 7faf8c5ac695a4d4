import type { Queryable } from '../db/queryable.js';
import { NotFoundError, StateError } from '../errors.js';
import { processEvents } from '../events/process-events.js';
import { checkJobId, type JobRow, type JobView, toJobView } from '../read-model/job-view.js';
import { cancelSql, retrySql } from './queries.js';

/** An operator's changes to one job. Reading jobs is the read model's (src/read-model/jobs.ts). */

/** Count a cancellation in the monitoring's per-minute job outcomes (workers count the others). */
const countCancelledSql = `
INSERT INTO job_throughput (minute, queue, job_type, outcome, jobs)
VALUES (date_trunc('minute', now()), $1, $2, 'cancelled', 1)
    ON CONFLICT (minute, queue, job_type, outcome) DO UPDATE
   SET jobs = job_throughput.jobs + 1`;

/** Run a failed, cancelled or waiting job again now (a failed or cancelled one with as many attempts again). */
export async function retryJob(db: Queryable, id: number): Promise<JobView> {
  checkJobId(id);
  let rows: JobRow[];
  try {
    ({ rows } = await db.query<JobRow>({ text: retrySql, values: [id] }));
  } catch (err) {
    if ((err as { code?: string }).code === '23505') {
      throw new StateError(`job ${id} cannot be retried: another pending or running job has its dedupe key`);
    }
    throw err;
  }
  if (!rows[0]) throw await stateError(db, id, 'retried', 'only failed, cancelled or pending jobs can be retried');
  const job = toJobView(rows[0]);
  processEvents().publish('job.enqueued', { id, type: job.type, queue: job.queue, run_at: job.run_at, retry: true });
  return job;
}

/** Cancel a pending or running job (a running one's worker sees its lease gone and stops it). */
export async function cancelJob(db: Queryable, id: number): Promise<JobView> {
  checkJobId(id);
  const { rows } = await db.query<JobRow>({ text: cancelSql, values: [id] });
  if (!rows[0]) throw await stateError(db, id, 'cancelled', 'only pending or running jobs can be cancelled');
  // A second statement: the cancel itself is done, so a failure here costs a count, not the answer.
  await db.query({ text: countCancelledSql, values: [rows[0].queue, rows[0].job_type] }).catch(() => undefined);
  processEvents().publish('job.cancelled', { id, type: rows[0].job_type, queue: rows[0].queue });
  return toJobView(rows[0]);
}

async function stateError(db: Queryable, id: number, verb: string, rule: string): Promise<NotFoundError | StateError> {
  const { rows } = await db.query<{ status: string }>({ text: 'SELECT status FROM job_queue WHERE id = $1', values: [id] });
  if (!rows[0]) return new NotFoundError(`no job ${id}`, 'list jobs with `cesar jobs list`');
  return new StateError(`job ${id} is ${rows[0].status} and cannot be ${verb}: ${rule}`);
}

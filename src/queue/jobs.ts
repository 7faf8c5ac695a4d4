import type { Queryable } from '../db/queryable.js';
import { NotFoundError, StateError } from '../errors.js';
import { checkJobId, type JobRow, type JobView, toJobView } from '../read-model/jobs.js';
import { cancelSql, retrySql } from './queries.js';

/** An operator's changes to one job. Reading jobs is the read model's (src/read-model/jobs.ts). */

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
  return toJobView(rows[0]);
}

/** Cancel a pending or running job (a running one's worker sees its lease gone and stops it). */
export async function cancelJob(db: Queryable, id: number): Promise<JobView> {
  checkJobId(id);
  const { rows } = await db.query<JobRow>({ text: cancelSql, values: [id] });
  if (!rows[0]) throw await stateError(db, id, 'cancelled', 'only pending or running jobs can be cancelled');
  return toJobView(rows[0]);
}

async function stateError(db: Queryable, id: number, verb: string, rule: string): Promise<NotFoundError | StateError> {
  const { rows } = await db.query<{ status: string }>({ text: 'SELECT status FROM job_queue WHERE id = $1', values: [id] });
  if (!rows[0]) return new NotFoundError(`no job ${id}`, 'list jobs with `cesar jobs list`');
  return new StateError(`job ${id} is ${rows[0].status} and cannot be ${verb}: ${rule}`);
}

// ---- TEMPORARY (until the API reads through the read model): the same reads over a pool.
import type { AttemptView, JobDetailView, ListJobsOptions } from '../read-model/jobs.js';
import { jobColumns } from './queries.js';

/** @deprecated read through src/read-model (listJobs over Kysely). */
export async function listJobs(db: Queryable, options: ListJobsOptions = {}): Promise<JobView[]> {
  const { rows } = await db.query<JobRow>({
    text: `SELECT ${jobColumns} FROM job_queue
            WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR job_type = $2) AND ($3::bigint IS NULL OR id < $3)
            ORDER BY id DESC LIMIT $4`,
    values: [options.status ?? null, options.type ?? null, options.beforeId ?? null, options.limit ?? 50],
  });
  return rows.map(toJobView);
}

/** @deprecated read through src/read-model (getJob over Kysely). */
export async function getJob(db: Queryable, id: number): Promise<JobDetailView | undefined> {
  checkJobId(id);
  const { rows } = await db.query<JobRow>({ text: `SELECT ${jobColumns} FROM job_queue WHERE id = $1`, values: [id] });
  if (!rows[0]) return undefined;
  const { rows: attempts } = await db.query<AttemptView>({
    text: `SELECT attempt, worker_id, to_json(started_at)#>>'{}' AS started_at, to_json(finished_at)#>>'{}' AS finished_at, outcome, error, error_stack
             FROM job_attempts WHERE job_id = $1 ORDER BY attempt`,
    values: [id],
  });
  const { attempts: attemptCount, ...job } = toJobView(rows[0]);
  return { ...job, attempt_count: attemptCount, attempts };
}

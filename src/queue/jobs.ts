import type { Queryable } from '../db/queryable.js';
import type { AttemptOutcome, JobStatus } from '../db/types.js';
import { InputError, NotFoundError, StateError } from '../errors.js';
import { cancelSql, jobColumns, retrySql } from './queries.js';

export const jobStatuses: readonly JobStatus[] = ['pending', 'in_progress', 'completed', 'failed', 'cancelled'];

export interface Job {
  id: number;
  queue: string;
  type: string;
  payload: unknown;
  priority: number;
  runAt: string;
  status: JobStatus;
  attempts: number;
  maxAttempts: number;
  dedupeKey: string | null;
  lockedBy: string | null;
  leaseExpiresAt: string | null;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

export interface JobAttempt {
  attempt: number;
  workerId: string;
  startedAt: string;
  finishedAt: string | null;
  outcome: AttemptOutcome;
  error: string | null;
  errorStack: string | null;
}

interface JobRow {
  id: number;
  queue: string;
  job_type: string;
  payload: unknown;
  priority: number;
  run_at: Date;
  status: JobStatus;
  attempts: number;
  max_attempts: number;
  dedupe_key: string | null;
  locked_by: string | null;
  lease_expires_at: Date | null;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

function toJob(r: JobRow): Job {
  return {
    id: r.id,
    queue: r.queue,
    type: r.job_type,
    payload: r.payload,
    priority: r.priority,
    runAt: r.run_at.toISOString(),
    status: r.status,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    dedupeKey: r.dedupe_key,
    lockedBy: r.locked_by,
    leaseExpiresAt: iso(r.lease_expires_at),
    lastError: r.last_error,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    finishedAt: iso(r.finished_at),
  };
}

export interface ListOptions {
  status?: JobStatus;
  type?: string;
  limit?: number;
  /** Jobs with an id below this (pagination, newest first). */
  beforeId?: number;
}

/** Jobs newest first, filtered by status and type. */
export async function listJobs(db: Queryable, options: ListOptions = {}): Promise<Job[]> {
  if (options.status !== undefined && !jobStatuses.includes(options.status)) {
    throw new InputError(`unknown status "${options.status}"; one of ${jobStatuses.join(', ')}`, undefined, 'status');
  }
  const limit = options.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new InputError('limit must be an integer from 1 to 1000', undefined, 'limit');
  const { rows } = await db.query<JobRow>({
    text: `SELECT ${jobColumns} FROM job_queue
            WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR job_type = $2) AND ($3::bigint IS NULL OR id < $3)
            ORDER BY id DESC LIMIT $4`,
    values: [options.status ?? null, options.type ?? null, options.beforeId ?? null, limit],
  });
  return rows.map(toJob);
}

/** A job with its attempt history: `attempts` is the list, `attemptCount` the number made. */
export type JobDetail = Omit<Job, 'attempts'> & { attemptCount: number; attempts: JobAttempt[] };

/** One job with every attempt, or undefined. */
export async function getJob(db: Queryable, id: number): Promise<JobDetail | undefined> {
  checkId(id);
  const { rows } = await db.query<JobRow>({ text: `SELECT ${jobColumns} FROM job_queue WHERE id = $1`, values: [id] });
  if (!rows[0]) return undefined;
  const { rows: attempts } = await db.query<{
    attempt: number;
    worker_id: string;
    started_at: Date;
    finished_at: Date | null;
    outcome: AttemptOutcome;
    error: string | null;
    error_stack: string | null;
  }>({
    text: 'SELECT attempt, worker_id, started_at, finished_at, outcome, error, error_stack FROM job_attempts WHERE job_id = $1 ORDER BY attempt',
    values: [id],
  });
  const { attempts: attemptCount, ...job } = toJob(rows[0]);
  return {
    ...job,
    attemptCount,
    attempts: attempts.map((a) => ({
      attempt: a.attempt,
      workerId: a.worker_id,
      startedAt: a.started_at.toISOString(),
      finishedAt: iso(a.finished_at),
      outcome: a.outcome,
      error: a.error,
      errorStack: a.error_stack,
    })),
  };
}

/** Run a failed, cancelled or waiting job again now (a failed or cancelled one with as many attempts again). */
export async function retryJob(db: Queryable, id: number): Promise<Job> {
  checkId(id);
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
  return toJob(rows[0]);
}

/** Cancel a pending or running job (a running one's worker sees its lease gone and stops it). */
export async function cancelJob(db: Queryable, id: number): Promise<Job> {
  checkId(id);
  const { rows } = await db.query<JobRow>({ text: cancelSql, values: [id] });
  if (!rows[0]) throw await stateError(db, id, 'cancelled', 'only pending or running jobs can be cancelled');
  return toJob(rows[0]);
}

function checkId(id: number): void {
  if (!Number.isSafeInteger(id) || id < 1) throw new InputError(`"${id}" is not a job id (a positive integer)`, undefined, 'id');
}

async function stateError(db: Queryable, id: number, verb: string, rule: string): Promise<NotFoundError | StateError> {
  const { rows } = await db.query<{ status: string }>({ text: 'SELECT status FROM job_queue WHERE id = $1', values: [id] });
  if (!rows[0]) return new NotFoundError(`no job ${id}`, 'list jobs with `cesar jobs list`');
  return new StateError(`job ${id} is ${rows[0].status} and cannot be ${verb}: ${rule}`);
}

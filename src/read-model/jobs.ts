import { type Kysely, type Selectable, sql } from 'kysely';
import type { AttemptOutcome, Database, JobQueueTable, JobStatus } from '../db/types.js';
import { InputError } from '../errors.js';
import { quote } from '../text.js';
import { iso } from './time.js';

export const jobStatuses: readonly JobStatus[] = ['pending', 'in_progress', 'completed', 'failed', 'cancelled'];

/** A job as every JSON answer shows it (`attempts` is the number of attempts that count). */
export interface JobView {
  id: number;
  queue: string;
  type: string;
  payload: unknown;
  priority: number;
  run_at: string;
  status: JobStatus;
  attempts: number;
  max_attempts: number;
  dedupe_key: string | null;
  locked_by: string | null;
  lease_expires_at: string | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

export interface AttemptView {
  attempt: number;
  worker_id: string;
  started_at: string;
  finished_at: string | null;
  outcome: AttemptOutcome;
  error: string | null;
  error_stack: string | null;
}

/** One job with its attempt history: `attempts` is the list, `attempt_count` the number that count. */
export type JobDetailView = Omit<JobView, 'attempts'> & { attempt_count: number; attempts: AttemptView[] };

export const jobColumns = [
  'id',
  'queue',
  'job_type',
  'payload',
  'priority',
  'run_at',
  'status',
  'attempts',
  'max_attempts',
  'dedupe_key',
  'locked_by',
  'lease_expires_at',
  'last_error',
  'created_at',
  'updated_at',
  'finished_at',
] as const;

export type JobRow = Pick<Selectable<JobQueueTable>, (typeof jobColumns)[number]>;

export function toJobView(r: JobRow): JobView {
  return {
    id: r.id,
    queue: r.queue,
    type: r.job_type,
    payload: r.payload,
    priority: r.priority,
    run_at: r.run_at.toISOString(),
    status: r.status,
    attempts: r.attempts,
    max_attempts: r.max_attempts,
    dedupe_key: r.dedupe_key,
    locked_by: r.locked_by,
    lease_expires_at: iso(r.lease_expires_at),
    last_error: r.last_error,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
    finished_at: iso(r.finished_at),
  };
}

export interface ListJobsOptions {
  status?: JobStatus;
  type?: string;
  /** 1 to 1000; default 50. */
  limit?: number;
  /** Jobs with an id below this (pagination, newest first). */
  beforeId?: number;
}

/** Jobs newest first, filtered by status and type. */
export async function listJobs(db: Kysely<Database>, options: ListJobsOptions = {}): Promise<JobView[]> {
  if (options.status !== undefined && !jobStatuses.includes(options.status)) {
    throw new InputError(`unknown status ${quote(options.status)}; one of ${jobStatuses.join(', ')}`, undefined, 'status');
  }
  const limit = options.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new InputError('limit must be an integer from 1 to 1000', undefined, 'limit');
  let query = db.selectFrom('job_queue').select(jobColumns);
  if (options.status !== undefined) query = query.where('status', '=', options.status);
  if (options.type !== undefined) query = query.where('job_type', '=', options.type);
  if (options.beforeId !== undefined) query = query.where('id', '<', options.beforeId);
  const rows = await query.orderBy('id', 'desc').limit(limit).execute();
  return rows.map(toJobView);
}

/** One job with every attempt, or undefined. */
export async function getJob(db: Kysely<Database>, id: number): Promise<JobDetailView | undefined> {
  checkJobId(id);
  const row = await db.selectFrom('job_queue').select(jobColumns).where('id', '=', id).executeTakeFirst();
  if (!row) return undefined;
  const attempts = await db
    .selectFrom('job_attempts')
    .select(['attempt', 'worker_id', 'started_at', 'finished_at', 'outcome', 'error', 'error_stack'])
    .where('job_id', '=', id)
    .orderBy('attempt')
    .execute();
  const { attempts: attemptCount, ...job } = toJobView(row);
  return {
    ...job,
    attempt_count: attemptCount,
    attempts: attempts.map((a) => ({ ...a, started_at: a.started_at.toISOString(), finished_at: iso(a.finished_at) })),
  };
}

export function checkJobId(id: number): void {
  if (!Number.isSafeInteger(id) || id < 1) throw new InputError(`${quote(id)} is not a job id (a positive integer)`, undefined, 'id');
}

export interface JobCount {
  job_type: string;
  status: JobStatus;
  count: number;
}

/** Jobs by type and state (the retained history: completed and cancelled jobs are pruned after the retention). */
export async function jobCounts(db: Kysely<Database>): Promise<JobCount[]> {
  return db
    .selectFrom('job_queue')
    .select(['job_type', 'status', sql<number>`count(*)`.as('count')])
    .groupBy(['job_type', 'status'])
    .orderBy('job_type')
    .orderBy('status')
    .execute();
}

/** Jobs of one state, summed over types. */
export function countOf(counts: JobCount[], status: JobStatus): number {
  return counts.filter((c) => c.status === status).reduce((sum, c) => sum + c.count, 0);
}

/** What is waiting and running now (reads only the partial indexes' rows, not the history). */
export async function queueSummary(
  db: Kysely<Database>,
): Promise<{ pending: number; runnable: number; in_progress: number; failed: number }> {
  return db
    .selectFrom('job_queue')
    .select([
      sql<number>`count(*) FILTER (WHERE status = 'pending')`.as('pending'),
      sql<number>`count(*) FILTER (WHERE status = 'pending' AND run_at <= now())`.as('runnable'),
      sql<number>`count(*) FILTER (WHERE status = 'in_progress')`.as('in_progress'),
      sql<number>`count(*) FILTER (WHERE status = 'failed')`.as('failed'),
    ])
    .where('status', 'in', ['pending', 'in_progress', 'failed'])
    .executeTakeFirstOrThrow();
}

/** Attempts by job type and outcome (retained history). */
export async function attemptCounts(db: Kysely<Database>): Promise<Array<{ job_type: string; outcome: AttemptOutcome; count: number }>> {
  return db
    .selectFrom('job_attempts as a')
    .innerJoin('job_queue as q', 'q.id', 'a.job_id')
    .select(['q.job_type', 'a.outcome', sql<number>`count(*)`.as('count')])
    .groupBy(['q.job_type', 'a.outcome'])
    .execute();
}

export interface AttemptDurations {
  job_type: string;
  /** Finished attempts whose duration is at most each bound, in the order of the bounds. */
  buckets: number[];
  /** Every finished attempt, and their total duration in seconds. */
  count: number;
  total_seconds: number;
}

/** Finished attempts per job type, counted under each bound (seconds): one pass, one snapshot. */
export async function attemptDurations(db: Kysely<Database>, bounds: number[]): Promise<AttemptDurations[]> {
  const underBounds = sql.join(bounds.map((b) => sql`count(*) FILTER (WHERE d.seconds <= ${b}::float8)`));
  const result = await sql<{ job_type: string; buckets: Array<number | string>; count: number; total_seconds: number }>`
    SELECT d.job_type, ARRAY[${underBounds}] AS buckets, count(*) AS count, coalesce(sum(d.seconds), 0)::float8 AS total_seconds
      FROM (SELECT q.job_type, EXTRACT(EPOCH FROM a.finished_at - a.started_at)::float8 AS seconds
              FROM job_attempts a
              JOIN job_queue q ON q.id = a.job_id
             WHERE a.finished_at IS NOT NULL) d
     GROUP BY d.job_type
     ORDER BY d.job_type`.execute(db);
  return result.rows.map((r) => ({ ...r, buckets: r.buckets.map(Number) }));
}

import { type Kysely, sql } from 'kysely';
import type { Database, JobAttemptDurationsTable, JobStatus } from '../db/types.js';
import { InputError } from '../errors.js';
import { quote } from '../text.js';
import { checkJobId, type JobDetailView, type JobView, jobColumns, jobStatuses, toJobView } from './job-view.js';
import { iso } from './time.js';

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

export interface JobCount {
  job_type: string;
  status: JobStatus;
  count: number;
}

/**
 * Jobs by type and state (the retained history: completed and cancelled jobs are pruned after the
 * retention). It reads every row of job_queue: status and /metrics use liveJobCounts and
 * finishedJobCounts instead.
 */
export async function jobCounts(db: Kysely<Database>): Promise<JobCount[]> {
  return db
    .selectFrom('job_queue')
    .select(['job_type', 'status', sql<number>`count(*)`.as('count')])
    .groupBy(['job_type', 'status'])
    .orderBy('job_type')
    .orderBy('status')
    .execute();
}

/**
 * Jobs pending, in progress and failed (dead, kept), by type and state: exact counts of now, each
 * state read through its partial index, so the finished history costs nothing.
 */
export async function liveJobCounts(db: Kysely<Database>): Promise<JobCount[]> {
  const result = await sql<JobCount>`
    SELECT job_type, 'pending' AS status, count(*) AS count FROM job_queue WHERE status = 'pending' GROUP BY job_type
    UNION ALL
    SELECT job_type, 'in_progress', count(*) FROM job_queue WHERE status = 'in_progress' GROUP BY job_type
    UNION ALL
    SELECT job_type, 'failed', count(*) FROM job_queue WHERE status = 'failed' GROUP BY job_type
     ORDER BY job_type, status`.execute(db);
  return result.rows;
}

/**
 * Jobs completed and cancelled in the last 24 hours, by type: the workers' per-minute counts
 * (job_throughput) as of the last refresh of mv_job_queue_backlog.
 */
export async function finishedJobCounts(db: Kysely<Database>): Promise<JobCount[]> {
  return db
    .selectFrom('mv_job_queue_backlog')
    .select(['job_type', 'status', sql<number>`sum(jobs)::bigint`.as('count')])
    .where('status', 'in', ['completed', 'cancelled'])
    .groupBy(['job_type', 'status'])
    .orderBy('job_type')
    .orderBy('status')
    .execute();
}

/** Jobs of one state, summed over types. */
export function countOf(counts: JobCount[], status: JobStatus): number {
  return counts.filter((c) => c.status === status).reduce((sum, c) => sum + c.count, 0);
}

/**
 * What is waiting and running now, and the dead jobs kept: each state counted through its partial
 * index (one WHERE per state: with `status IN (...)` the planner scans the whole history instead).
 */
export async function queueSummary(
  db: Kysely<Database>,
): Promise<{ pending: number; runnable: number; in_progress: number; failed: number }> {
  const result = await sql<{ pending: number; runnable: number; in_progress: number; failed: number }>`
    SELECT p.pending, p.runnable, r.in_progress, f.failed
      FROM (SELECT count(*) AS pending, count(*) FILTER (WHERE run_at <= now()) AS runnable
              FROM job_queue WHERE status = 'pending') p,
           (SELECT count(*) AS in_progress FROM job_queue WHERE status = 'in_progress') r,
           (SELECT count(*) AS failed FROM job_queue WHERE status = 'failed') f`.execute(db);
  return result.rows[0]!;
}

/** The outcomes the workers count attempts by (job_attempts.outcome of a settled attempt). */
export type CountedAttemptOutcome = JobAttemptDurationsTable['outcome'];

/**
 * Attempts by job type and outcome: the workers' per-minute counters (job_attempt_durations) summed
 * over the minutes kept (7 days), so the finished history in job_attempts is never read.
 */
export async function attemptCounts(
  db: Kysely<Database>,
): Promise<Array<{ job_type: string; outcome: CountedAttemptOutcome; count: number }>> {
  return db
    .selectFrom('job_attempt_durations')
    .select(['job_type', 'outcome', sql<number>`sum(attempts)::bigint`.as('count')])
    .groupBy(['job_type', 'outcome'])
    .orderBy('job_type')
    .orderBy('outcome')
    .execute();
}

export interface AttemptDurations {
  job_type: string;
  outcome: CountedAttemptOutcome;
  /** Attempts whose duration is at most each bound, in the order of the bounds (cumulative). */
  buckets: number[];
  /** Every attempt counted, and their total duration in seconds. */
  count: number;
  total_seconds: number;
}

/**
 * Attempts per job type and outcome, counted under each bound (seconds), from the workers'
 * per-minute counters summed over the minutes kept (7 days): one pass, one snapshot. A counter row
 * holds the attempts of one bucket only (those above the next lower bound), so the attempts at most
 * b seconds are the rows with le <= b. The minutes are summed per bucket first, so that the FILTERs
 * run over a few rows rather than every minute's.
 */
export async function attemptDurations(db: Kysely<Database>, bounds: readonly number[]): Promise<AttemptDurations[]> {
  const buckets = bounds.map((b) => sql`coalesce(sum(attempts) FILTER (WHERE le <= ${b}::float8), 0)::bigint`);
  const result = await sql<{
    job_type: string;
    outcome: CountedAttemptOutcome;
    buckets: Array<number | string>;
    count: number;
    total_seconds: number;
  }>`
    SELECT job_type, outcome, ARRAY[${sql.join(buckets)}] AS buckets, sum(attempts)::bigint AS count, sum(total_seconds) AS total_seconds
      FROM (SELECT job_type, outcome, le, sum(attempts) AS attempts, sum(total_seconds) AS total_seconds
              FROM job_attempt_durations
             GROUP BY job_type, outcome, le) b
     GROUP BY job_type, outcome
     ORDER BY job_type, outcome`.execute(db);
  return result.rows.map((r) => ({ ...r, buckets: r.buckets.map(Number) }));
}

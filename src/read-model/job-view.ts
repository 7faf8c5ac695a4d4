import type { Selectable } from 'kysely';
import type { AttemptOutcome, JobQueueTable, JobStatus } from '../db/types.js';
import { InputError } from '../errors.js';
import { quote } from '../text.js';
import { iso } from './time.js';

/**
 * A job as every JSON answer shows it, and the mapping from its row. Free of Kysely's run-time code,
 * so that the queue's operator actions (retry, cancel) can answer in the same shape.
 */

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

export function checkJobId(id: number): void {
  if (!Number.isSafeInteger(id) || id < 1) throw new InputError(`${quote(id)} is not a job id (a positive integer)`, undefined, 'id');
}

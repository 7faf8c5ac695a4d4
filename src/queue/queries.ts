import { jobColumns } from '../read-model/job-view.js';

/**
 * The queue's SQL, one constant per statement. Hot-path statements are run as named (prepared)
 * statements. Every state transition is one guarded statement: a job moves only from the state, and
 * (for running jobs) the owner, that the transition expects.
 */

/**
 * Enqueue a batch in one round trip: arrays in, one row per new job (existing = false) and one per
 * live job that a dedupe key matched (existing = true).
 */
export const enqueueSql = `
WITH input AS (
    SELECT *
      FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::int[], $5::timestamptz[], $6::float8[], $7::int[], $8::text[])
           WITH ORDINALITY AS i(queue, job_type, payload, priority, run_at, delay_ms, max_attempts, dedupe_key, ord)
), inserted AS (
    INSERT INTO job_queue (queue, job_type, payload, priority, run_at, max_attempts, dedupe_key)
    SELECT queue, job_type, payload, priority,
           COALESCE(run_at, now() + COALESCE(delay_ms, 0) * interval '1 millisecond'),
           max_attempts, dedupe_key
      FROM input
     ORDER BY ord
        ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('pending', 'in_progress')
        DO NOTHING
    RETURNING id, dedupe_key, run_at
)
SELECT id, dedupe_key, run_at, 'pending' AS status, false AS existing FROM inserted
UNION ALL
SELECT j.id, j.dedupe_key, j.run_at, j.status, true
  FROM job_queue j
 WHERE j.dedupe_key IN (SELECT dedupe_key FROM input WHERE dedupe_key IS NOT NULL)
   AND j.status IN ('pending', 'in_progress')`;

/**
 * Enqueue one keyed job whose key also holds for $9 ms after its job finished (--unique-for): the
 * newest job of key $8 that is pending, running, or finished within the window is returned instead
 * (existing = true). Arguments as enqueueSql's, one job. Nothing comes back when a job of the key
 * committed after this statement's snapshot: the caller runs it again.
 */
export const enqueueUniqueSql = `
WITH held AS (
    SELECT id, run_at, status
      FROM job_queue
     WHERE dedupe_key = $8::text
       AND (status IN ('pending', 'in_progress') OR finished_at > now() - $9::float8 * interval '1 millisecond')
     ORDER BY id DESC
     LIMIT 1
), inserted AS (
    INSERT INTO job_queue (queue, job_type, payload, priority, run_at, max_attempts, dedupe_key)
    SELECT $1::text, $2::text, $3::jsonb, $4::int,
           COALESCE($5::timestamptz, now() + COALESCE($6::float8, 0) * interval '1 millisecond'),
           $7::int, $8::text
     WHERE NOT EXISTS (SELECT 1 FROM held)
        ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('pending', 'in_progress')
        DO NOTHING
    RETURNING id, run_at, status
)
SELECT id, $8::text AS dedupe_key, run_at, status, false AS existing FROM inserted
UNION ALL
SELECT id, $8::text, run_at, status, true FROM held`;

/**
 * Claim up to $2 runnable jobs of queue $1 and of the types $5 this worker can run, in (priority,
 * run_at, id) order, skipping rows other workers hold; lease them to worker $3 for $4 seconds and
 * open their attempt rows (numbered by claim). Returns only what the worker needs, already ordered. The MATERIALIZED CTE fences the planner so LIMIT bounds the rows locked.
 * One queue per statement: with `queue = ANY(array)` the planner can no longer read
 * job_queue_claim_idx in order and sorts every pending job instead.
 */
export const claimSql = `
WITH candidates AS MATERIALIZED (
    SELECT id
      FROM job_queue
     WHERE status = 'pending'
       AND queue = $1
       AND run_at <= now()
       AND job_type = ANY($5::text[])
     ORDER BY priority, run_at, id
     LIMIT $2
       FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE job_queue j
       SET status = 'in_progress',
           attempts = j.attempts + 1,
           claims = j.claims + 1,
           locked_by = $3,
           lease_expires_at = now() + $4 * interval '1 second',
           updated_at = now()
     -- = ANY(ARRAY(...)) rather than a join: primary-key lookups, never a hash join over the table.
     WHERE j.id = ANY (ARRAY(SELECT id FROM candidates))
    RETURNING j.id, j.job_type, j.payload, j.attempts, j.max_attempts, j.claims, j.priority, j.run_at
), opened AS (
    -- A data-modifying CTE runs whether or not it is read.
    INSERT INTO job_attempts (job_id, attempt, worker_id)
    SELECT id, claims, $3 FROM claimed
)
SELECT id, job_type, payload, attempts, max_attempts, $1 AS queue FROM claimed ORDER BY priority, run_at, id`;

/*
 * A job's running attempt row is (job_id, claims): one job_attempts_pkey probe per job. (Matching them by `id = ANY(array)` let the generic plan probe the whole array once
 * per job: quadratic in the batch size.)
 */

/** Complete many finished jobs of worker $1 at once ($2: job ids). */
export const completeSql = `
WITH done AS (
    UPDATE job_queue j
       SET status = 'completed', finished_at = now(), updated_at = now(),
           locked_by = NULL, lease_expires_at = NULL
     WHERE j.id = ANY ($2::bigint[]) AND j.status = 'in_progress' AND j.locked_by = $1
    RETURNING j.id, j.claims
)
UPDATE job_attempts a
   SET outcome = 'succeeded', finished_at = now()
  FROM done d
 WHERE a.job_id = d.id AND a.attempt = d.claims AND a.outcome = 'running'
RETURNING a.job_id`;

/**
 * Record failed attempts of worker $1: back to pending after the retry delay, or failed (dead) when
 * out of attempts. Arrays: job id, outcome, error, stack, delay in ms.
 */
export const failSql = `
WITH failures AS (
    SELECT * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::float8[])
           AS f(job_id, outcome, error, error_stack, delay_ms)
), updated AS (
    UPDATE job_queue j
       SET status = CASE WHEN j.attempts >= j.max_attempts THEN 'failed' ELSE 'pending' END,
           run_at = CASE WHEN j.attempts >= j.max_attempts THEN j.run_at
                         ELSE now() + f.delay_ms * interval '1 millisecond' END,
           finished_at = CASE WHEN j.attempts >= j.max_attempts THEN now() END,
           last_error = f.error,
           locked_by = NULL, lease_expires_at = NULL, updated_at = now()
      FROM failures f
     WHERE j.id = f.job_id AND j.status = 'in_progress' AND j.locked_by = $1
    RETURNING j.id, j.status, j.run_at, j.claims
), recorded AS (
    UPDATE job_attempts a
       SET outcome = f.outcome, error = f.error, error_stack = f.error_stack, finished_at = now()
      FROM updated u
      JOIN failures f ON f.job_id = u.id
     WHERE a.job_id = u.id AND a.attempt = u.claims AND a.outcome = 'running'
)
SELECT id, status, run_at FROM updated`;

/** Give back jobs worker $1 did not finish (shutdown): pending again, the attempt not counted. */
export const returnSql = `
WITH updated AS (
    UPDATE job_queue j
       SET status = 'pending', attempts = j.attempts - 1, run_at = now(),
           locked_by = NULL, lease_expires_at = NULL, updated_at = now()
     WHERE j.id = ANY ($2::bigint[]) AND j.status = 'in_progress' AND j.locked_by = $1
    RETURNING j.id, j.claims
), recorded AS (
    UPDATE job_attempts a
       SET outcome = 'returned', error = 'worker shut down before the job finished; returned unfinished', finished_at = now()
      FROM updated u
     WHERE a.job_id = u.id AND a.attempt = u.claims AND a.outcome = 'running'
)
SELECT id FROM updated`;

/** Extend the leases of worker $1's running jobs $2 and beat its heart; returns the jobs still held. */
export const heartbeatSql = `
WITH beat AS (
    UPDATE workers SET last_heartbeat_at = now() WHERE id = $1
)
UPDATE job_queue
   SET lease_expires_at = now() + $3 * interval '1 second'
 WHERE id = ANY($2::bigint[]) AND status = 'in_progress' AND locked_by = $1
RETURNING id`;

/**
 * Crash recovery: running jobs whose lease ran out (their worker died or lost the database) go
 * back to pending at once, or to failed when out of attempts; the attempt is counted and recorded
 * as lease_expired. SKIP LOCKED lets every worker run it safely at once.
 */
export const rescueSql = `
WITH expired AS (
    SELECT id
      FROM job_queue
     WHERE status = 'in_progress' AND lease_expires_at < now()
     ORDER BY lease_expires_at
     LIMIT 1000
       FOR UPDATE SKIP LOCKED
), updated AS (
    UPDATE job_queue j
       SET status = CASE WHEN j.attempts >= j.max_attempts THEN 'failed' ELSE 'pending' END,
           run_at = now(),
           finished_at = CASE WHEN j.attempts >= j.max_attempts THEN now() END,
           last_error = 'lease expired: worker ' || j.locked_by || ' stopped renewing it (crashed or lost the database)',
           locked_by = NULL, lease_expires_at = NULL, updated_at = now()
      FROM expired e
     WHERE j.id = e.id
    RETURNING j.id, j.claims, j.status, j.last_error
), recorded AS (
    UPDATE job_attempts a
       SET outcome = 'lease_expired', error = u.last_error, finished_at = now()
      FROM updated u
     WHERE a.job_id = u.id AND a.attempt = u.claims AND a.outcome = 'running'
)
SELECT id, status FROM updated`;

/**
 * Retention: delete up to $2 completed or cancelled jobs finished before now() - $1 seconds, with
 * their attempt rows (failed jobs are kept). Returns one row per deleted job.
 */
export const pruneSql = `
WITH doomed AS MATERIALIZED (
    SELECT id
      FROM job_queue
     WHERE status IN ('completed', 'cancelled')
       AND finished_at < now() - $1 * interval '1 second'
     ORDER BY id
     LIMIT $2
       FOR UPDATE SKIP LOCKED
), attempts AS (
    DELETE FROM job_attempts WHERE job_id = ANY (ARRAY(SELECT id FROM doomed))
)
DELETE FROM job_queue WHERE id = ANY (ARRAY(SELECT id FROM doomed))`;

export const registerWorkerSql = `
INSERT INTO workers (id, hostname, pid, queues, concurrency, version)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (id) DO UPDATE SET last_heartbeat_at = now(), stopped_at = NULL`;

export const stopWorkerSql = `UPDATE workers SET stopped_at = now(), last_heartbeat_at = now() WHERE id = $1`;

/** The columns of a job as answers show it (read-model/job-view.ts), for RETURNING. */
const jobColumnList = jobColumns.join(', ');

/** An operator's retry: a failed or cancelled job (or a pending one waiting for its retry) runs now, with as many attempts again. */
export const retrySql = `
WITH retried AS (
    UPDATE job_queue
       SET status = 'pending', run_at = now(),
           max_attempts = CASE WHEN status IN ('failed', 'cancelled') THEN attempts + max_attempts ELSE max_attempts END,
           finished_at = NULL, updated_at = now()
     WHERE id = $1 AND status IN ('failed', 'cancelled', 'pending')
    RETURNING ${jobColumnList}
), notified AS (
    SELECT pg_notify('cesar_jobs', '') FROM retried
)
SELECT retried.* FROM retried LEFT JOIN notified ON true`;

/** An operator's cancel: a pending job never runs; a running one is told through its lost lease. */
export const cancelSql = `
WITH cancelled AS (
    UPDATE job_queue
       SET status = 'cancelled', finished_at = now(), updated_at = now(), locked_by = NULL, lease_expires_at = NULL
     WHERE id = $1 AND status IN ('pending', 'in_progress')
    RETURNING ${jobColumnList}
), closed AS (
    UPDATE job_attempts SET outcome = 'cancelled', error = 'cancelled by an operator', finished_at = now()
     WHERE job_id = $1 AND outcome = 'running' AND EXISTS (SELECT 1 FROM cancelled)
)
SELECT * FROM cancelled`;

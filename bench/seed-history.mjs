// A large job history for the benches that read it (views.mjs, dashboard.mjs), seeded with
// generate_series into a migrated database:
//   - `finished` jobs over the last 7 days, one a minute per slot (completed, with 1% failed and 1%
//     cancelled), 5 job types, each with its attempt row in job_attempts (20 ms long);
//   - `pending` jobs (one in ten due in an hour, the others runnable now) and 100 running ones;
//   - when the schema has them, the workers' per-minute counters of the last day: job_throughput
//     (10 jobs per type and outcome a minute) and job_attempt_durations (10 attempts per type and
//     outcome a minute, in the 50 ms bucket);
// then VACUUM ANALYZE, so that plans see the real sizes.

/** Seed the history into the database of `pool` (a pg.Pool). */
export async function seedHistory(pool, { finished, pending }) {
  await pool.query(
    `INSERT INTO job_queue (job_type, status, attempts, claims, run_at, finished_at, created_at, updated_at, last_error)
     SELECT 'type_' || (i % 5), s.status, 1, 1, s.at, s.at, s.at, s.at,
            CASE WHEN s.status = 'failed' THEN 'boom' END
       FROM generate_series(1, $1) AS i,
            LATERAL (SELECT CASE WHEN i % 100 = 0 THEN 'failed' WHEN i % 100 = 1 THEN 'cancelled' ELSE 'completed' END AS status,
                            now() - (i % 10080) * interval '1 minute' AS at) s`,
    [finished],
  );
  await pool.query(
    `INSERT INTO job_attempts (job_id, attempt, worker_id, outcome, started_at, finished_at)
     SELECT id, 1, 'history', CASE status WHEN 'completed' THEN 'succeeded' WHEN 'failed' THEN 'failed' ELSE 'cancelled' END,
            finished_at - interval '20 milliseconds', finished_at
       FROM job_queue`,
  );
  await pool.query(
    `INSERT INTO job_queue (job_type, run_at)
     SELECT 'type_' || (i % 5), CASE WHEN i % 10 = 0 THEN now() + interval '1 hour' ELSE now() - interval '1 second' END
       FROM generate_series(1, $1) AS i`,
    [pending],
  );
  await pool.query(
    `INSERT INTO job_queue (job_type, status, attempts, claims, locked_by, lease_expires_at)
     SELECT 'type_' || (i % 5), 'in_progress', 1, 1, 'bench', now() + interval '1 hour' FROM generate_series(1, 100) AS i`,
  );
  const { rows } = await pool.query(
    `SELECT to_regclass('job_throughput') IS NOT NULL AS throughput, to_regclass('job_attempt_durations') IS NOT NULL AS durations`,
  );
  if (rows[0].throughput) {
    // What workers count in a day: every minute, each type's completions, failures and cancellations.
    await pool.query(
      `INSERT INTO job_throughput (minute, queue, job_type, outcome, jobs)
       SELECT date_trunc('minute', now()) - m * interval '1 minute', 'default', 'type_' || t, o, 10
         FROM generate_series(0, 1439) AS m, generate_series(0, 4) AS t,
              unnest(ARRAY['completed', 'retried', 'failed', 'cancelled']) AS o`,
    );
  }
  if (rows[0].durations) {
    // And the same day's attempts by outcome and duration bucket (each took 20 ms: the 0.05 s bucket).
    await pool.query(
      `INSERT INTO job_attempt_durations (minute, job_type, outcome, le, attempts, total_seconds)
       SELECT date_trunc('minute', now()) - m * interval '1 minute', 'type_' || t, o, 0.05, 10, 0.2
         FROM generate_series(0, 1439) AS m, generate_series(0, 4) AS t,
              unnest(ARRAY['succeeded', 'failed']) AS o`,
    );
  }
  await pool.query('VACUUM ANALYZE');
}

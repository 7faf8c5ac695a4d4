-- Monitoring that stays fresh and cheap. The worker's maintenance refreshes the monitoring views
-- soon after what they summarise changes (src/maintenance/refresh-views.ts) and records each refresh
-- here; workers count job outcomes per minute in job_throughput, so that no view has to scan the
-- finished history of job_queue.

-- The last refresh of each monitoring view: when (database time, at the start of the refresh), how
-- long it took, who did it and how many there were; the last failure, if any (a failure newer than
-- refreshed_at means the view is stale since then).
CREATE TABLE monitoring_view_refreshes (
    view_name     text             PRIMARY KEY,
    refreshed_at  timestamptz,
    duration_ms   double precision,
    refreshed_by  text,
    refreshes     bigint           NOT NULL DEFAULT 0,
    last_error    text,
    last_error_at timestamptz
);

-- Job outcomes per minute (the minute's start, database time), queue, type and outcome, added up by
-- the workers (completed, retried, failed) and by an operator's cancel (cancelled). Read by the
-- dashboard's charts and by mv_job_queue_backlog; rows older than 7 days are pruned.
CREATE TABLE job_throughput (
    minute   timestamptz NOT NULL,
    queue    text        NOT NULL,
    job_type text        NOT NULL,
    outcome  text        NOT NULL CHECK (outcome IN ('completed', 'retried', 'failed', 'cancelled')),
    jobs     bigint      NOT NULL CHECK (jobs >= 0),
    PRIMARY KEY (minute, queue, job_type, outcome)
);

-- The backlog without the history. Each branch reads one state through the partial index whose
-- predicate its WHERE repeats (job_queue_claim_idx, job_queue_lease_idx, job_queue_failed_idx), so
-- no branch scans the finished jobs. What `jobs` counts, by status:
--   pending, in_progress: the jobs in that state now (as of refreshed_at);
--   failed: the dead jobs kept in job_queue (out of attempts, until retried or deleted);
--   completed, cancelled: the jobs that ended so in the last 24 hours (the minutes of job_throughput
--   from 24 hours before the current minute's start), not the history retained in job_queue.
-- The columns are those of 006's view, so its readers keep working.
DROP MATERIALIZED VIEW mv_job_queue_backlog;

CREATE MATERIALIZED VIEW mv_job_queue_backlog AS
SELECT queue,
       job_type,
       'pending'::text                                                        AS status,
       count(*)                                                               AS jobs,
       count(*) FILTER (WHERE run_at <= now())                                AS runnable,
       min(run_at)                                                            AS oldest_run_at,
       EXTRACT(EPOCH FROM now() - min(run_at) FILTER (WHERE run_at <= now())) AS max_wait_seconds,
       now()                                                                  AS refreshed_at
  FROM job_queue
 WHERE status = 'pending'
 GROUP BY queue, job_type
UNION ALL
SELECT queue, job_type, 'in_progress', count(*), 0, NULL, NULL, now()
  FROM job_queue
 WHERE status = 'in_progress'
 GROUP BY queue, job_type
UNION ALL
SELECT queue, job_type, 'failed', count(*), 0, NULL, NULL, now()
  FROM job_queue
 WHERE status = 'failed'
 GROUP BY queue, job_type
UNION ALL
SELECT queue, job_type, outcome, sum(jobs)::bigint, 0, NULL, NULL, now()
  FROM job_throughput
 WHERE outcome IN ('completed', 'cancelled')
   AND minute >= date_trunc('minute', now()) - interval '24 hours'
 GROUP BY queue, job_type, outcome;

CREATE UNIQUE INDEX mv_job_queue_backlog_key ON mv_job_queue_backlog (queue, job_type, status);

-- Refreshed now, so that the first record below is true for all three.
REFRESH MATERIALIZED VIEW mv_sync_lag;
REFRESH MATERIALIZED VIEW mv_ingestion_errors;

INSERT INTO monitoring_view_refreshes (view_name, refreshed_at, refreshed_by)
VALUES ('mv_sync_lag', now(), 'cesar migrate'),
       ('mv_job_queue_backlog', now(), 'cesar migrate'),
       ('mv_ingestion_errors', now(), 'cesar migrate');

-- Monitoring views. Each has a unique index over plain columns so that
-- REFRESH MATERIALIZED VIEW CONCURRENTLY works; they are created WITH DATA (populated).
-- Times derived from now() are as of the last refresh, which refreshed_at records.

CREATE MATERIALIZED VIEW mv_sync_lag AS
SELECT 'system'::text                                    AS scope,
       s.name                                            AS name,
       s.enabled                                         AS enabled,
       st.status                                         AS status,
       st.last_success_at                                AS last_success_at,
       EXTRACT(EPOCH FROM now() - st.last_success_at)    AS lag_seconds,
       st.last_error                                     AS last_error,
       now()                                             AS refreshed_at
  FROM sync_systems s
  LEFT JOIN sync_status st ON st.system_name = s.name
UNION ALL
SELECT 'table'::text,
       t.table_name,
       t.enabled,
       CASE WHEN ss.last_error IS NOT NULL THEN 'error'
            WHEN ss.last_synced_at IS NULL THEN 'never_run'
            ELSE 'ok' END,
       ss.last_synced_at,
       EXTRACT(EPOCH FROM now() - ss.last_synced_at),
       ss.last_error,
       now()
  FROM sync_tables t
  LEFT JOIN supabase_sync_state ss ON ss.table_name = t.table_name;

CREATE UNIQUE INDEX mv_sync_lag_key ON mv_sync_lag (scope, name);

CREATE MATERIALIZED VIEW mv_job_queue_backlog AS
SELECT queue,
       job_type,
       status,
       count(*)                                                   AS jobs,
       count(*) FILTER (WHERE status = 'pending' AND run_at <= now()) AS runnable,
       min(run_at) FILTER (WHERE status = 'pending')              AS oldest_run_at,
       EXTRACT(EPOCH FROM now() - min(run_at) FILTER (WHERE status = 'pending' AND run_at <= now()))
                                                                  AS max_wait_seconds,
       now()                                                      AS refreshed_at
  FROM job_queue
 GROUP BY queue, job_type, status;

CREATE UNIQUE INDEX mv_job_queue_backlog_key ON mv_job_queue_backlog (queue, job_type, status);

CREATE MATERIALIZED VIEW mv_ingestion_errors AS
SELECT source,
       count(*)                                                      AS errors,
       count(*) FILTER (WHERE started_at > now() - interval '24 hours') AS errors_24h,
       min(started_at)                                               AS first_error_at,
       max(started_at)                                               AS last_error_at,
       (array_agg(error ORDER BY started_at DESC))[1]                AS last_error,
       now()                                                         AS refreshed_at
  FROM ingestion_log
 WHERE status = 'failed'
 GROUP BY source;

CREATE UNIQUE INDEX mv_ingestion_errors_key ON mv_ingestion_errors (source);

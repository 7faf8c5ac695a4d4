/** SQL shared by the ingesting systems (financial_api, email_ingest): the ingestion log and their sync_status row. */

/**
 * One attempt in the ingestion log, started $10 ms ago and finished now: source $1, target table $2,
 * subject $3, status $4, rows $5, error $6 and its class $7, payload hash $8, job $9.
 */
export const logAttemptSql = `
INSERT INTO ingestion_log (source, target_table, subject, status, rows_ingested, error, error_class, payload_sha256, job_id,
                           started_at, finished_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,
        clock_timestamp() - $10::float8 * interval '1 millisecond', clock_timestamp())
RETURNING id`;

/** System $5's row in sync_status after a run: status $1, failures $2 (null: none), result $3, run time $4 ms. */
export const recordRunSql = `
UPDATE sync_status
   SET status = $1,
       last_started_at = clock_timestamp() - $4::float8 * interval '1 millisecond',
       last_success_at = CASE WHEN $1 = 'ok' THEN clock_timestamp() ELSE last_success_at END,
       last_error = CASE WHEN $2::text IS NULL THEN last_error ELSE $2 END,
       last_error_at = CASE WHEN $2::text IS NULL THEN last_error_at ELSE clock_timestamp() END,
       last_result = $3::jsonb,
       note = NULL,
       updated_at = clock_timestamp()
 WHERE system_name = $5`;

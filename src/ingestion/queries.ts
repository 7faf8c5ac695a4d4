/** SQL shared by the ingesting systems (financial_api, email_ingest): the ingestion log. */

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

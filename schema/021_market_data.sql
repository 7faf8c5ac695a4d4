-- Market data ingestion (financial_api): daily bars in financial_data, one row per
-- (symbol, bar_interval, observed_at, source), and every fetch attempt in ingestion_log.

-- A bar's period ('1d': the trading day starting at observed_at, midnight UTC of that date) and the
-- close adjusted for splits and dividends, where the provider gives one.
ALTER TABLE financial_data
    ADD COLUMN bar_interval text NOT NULL DEFAULT '1d' CHECK (bar_interval IN ('1d')),
    ADD COLUMN adj_close    numeric(20, 6);

CREATE UNIQUE INDEX financial_data_bar_key ON financial_data (symbol, bar_interval, observed_at, source);
ALTER TABLE financial_data DROP CONSTRAINT financial_data_symbol_source_observed_at_key;

-- Every attempt: what was asked (subject: the symbol, or the message for email_ingest), why it failed
-- (error_class, one of src/market/bars.ts errorClasses), and the hash of the payload it read.
ALTER TABLE ingestion_log
    ADD COLUMN subject        text,
    ADD COLUMN error_class    text CHECK (error_class ~ '^[a-z_]+$'),
    ADD COLUMN payload_sha256 text CHECK (payload_sha256 ~ '^[0-9a-f]{64}$');

CREATE INDEX ingestion_log_subject_idx ON ingestion_log (source, subject, started_at);

-- Failures of the last 7 days by source, error class and hour.
DROP MATERIALIZED VIEW mv_ingestion_errors;
CREATE MATERIALIZED VIEW mv_ingestion_errors AS
SELECT source,
       coalesce(error_class, 'unclassified')                  AS error_class,
       date_trunc('hour', started_at)                         AS hour,
       count(*)                                               AS errors,
       count(DISTINCT subject)                                AS subjects,
       min(started_at)                                        AS first_error_at,
       max(started_at)                                        AS last_error_at,
       (array_agg(error ORDER BY started_at DESC))[1]         AS last_error,
       now()                                                  AS refreshed_at
  FROM ingestion_log
 WHERE status = 'failed'
   AND started_at > now() - interval '7 days'
 GROUP BY source, coalesce(error_class, 'unclassified'), date_trunc('hour', started_at);

CREATE UNIQUE INDEX mv_ingestion_errors_key ON mv_ingestion_errors (source, error_class, hour);

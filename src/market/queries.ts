/**
 * The market module's SQL. Bars arrive as JSON (one array per symbol, a few thousand at most) and
 * are written as one upsert that leaves a row alone when nothing in it changed, so running an
 * ingestion twice writes nothing the second time (and the sync has no new version to send).
 */

/** Upsert the bars $1 (JSON array); answers how many rows were inserted or changed. */
export const upsertBarsSql = `
WITH incoming AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb)
    AS b(symbol text, bar_interval text, ts date, source text, open numeric, high numeric, low numeric,
         close numeric, adj_close numeric, volume numeric)
), written AS (
  INSERT INTO financial_data AS f (symbol, bar_interval, observed_at, source, open, high, low, close, adj_close, volume)
  SELECT symbol, bar_interval, ts::timestamp AT TIME ZONE 'UTC', source, open, high, low, close, adj_close, volume
    FROM incoming
      ON CONFLICT (symbol, bar_interval, observed_at, source) DO UPDATE
     SET open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
         adj_close = excluded.adj_close, volume = excluded.volume, ingested_at = now()
   WHERE (f.open, f.high, f.low, f.close, f.adj_close, f.volume)
         IS DISTINCT FROM (excluded.open, excluded.high, excluded.low, excluded.close, excluded.adj_close, excluded.volume)
  RETURNING 1
)
SELECT count(*)::int AS written FROM written`;

/** The newest $3 daily bars of symbol $1 from source $2, newest first; days and prices as text. */
export const recentBarsSql = `
SELECT (observed_at AT TIME ZONE 'UTC')::date::text AS ts,
       open::text AS open, high::text AS high, low::text AS low, close::text AS close,
       adj_close::text AS adj_close, volume::text AS volume
  FROM financial_data
 WHERE symbol = $1 AND source = $2 AND bar_interval = '1d'
   AND open IS NOT NULL AND high IS NOT NULL AND low IS NOT NULL AND close IS NOT NULL
 ORDER BY observed_at DESC
 LIMIT $3`;

/** One analysis; nothing when the same bars were analysed before (then latestAnalysisSql finds it). */
export const insertAnalysisSql = `
INSERT INTO market_analysis (symbol, source, as_of, bars_used, bars_sha256, parameters, indicators, execution_id)
VALUES ($1, $2, $3::date, $4, $5, $6::jsonb, $7::jsonb, $8)
    ON CONFLICT (symbol, source, bar_interval, as_of, bars_sha256) DO NOTHING
RETURNING id`;

export const latestAnalysisSql = `
SELECT id FROM market_analysis WHERE symbol = $1 AND source = $2 AND bars_sha256 = $3 ORDER BY id DESC LIMIT 1`;

/** The report of day $1, written anew when the workflow runs again that day. */
export const upsertReportSql = `
INSERT INTO market_reports (report_date, summary, body, execution_id, agent_id)
VALUES ($1::date, $2::jsonb, $3, $4, $5)
    ON CONFLICT (report_date) DO UPDATE
   SET summary = excluded.summary, body = excluded.body, execution_id = excluded.execution_id,
       agent_id = excluded.agent_id, updated_at = now()
RETURNING id`;

/** The report of day $1, or the newest when $1 is null. */
export const reportSql = `
SELECT r.id, r.report_date::text AS report_date, r.summary, r.body, r.execution_id, a.name AS agent,
       r.created_at, r.updated_at
  FROM market_reports r
  LEFT JOIN agents a ON a.id = r.agent_id
 WHERE $1::date IS NULL OR r.report_date = $1::date
 ORDER BY r.report_date DESC
 LIMIT 1`;

/** The newest analysis of symbol $1, any source. */
export const newestAnalysisSql = `
SELECT id, source, as_of::text AS as_of, bars_used, bars_sha256, parameters, indicators, execution_id, computed_at
  FROM market_analysis
 WHERE symbol = $1
 ORDER BY as_of DESC, computed_at DESC, id DESC
 LIMIT 1`;

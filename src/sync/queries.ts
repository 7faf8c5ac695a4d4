import { type SyncedTable, syncedTable } from './tables.js';

/**
 * The sync's SQL, built from the table declarations (identifiers come from src/sync/tables.ts,
 * never from input). A version is (updated_at, origin); the keyset cursor is (updated_at, sync_id).
 */

const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;
const literal = (text: string): string => `'${text.replace(/'/g, "''")}'`;

/** The cursor before the first version. */
export const cursorStart = { at: '-infinity', id: '00000000-0000-0000-0000-000000000000' };

/**
 * The key of one page of the versions side $1 wrote, after the cursor ($2, $3) and before the bound
 * $4, rows and tombstones merged in cursor order, at most $5: how many there are (all, and rows), the
 * tombstones as JSON text (passed on as it is), and the page's last key (the next cursor). The rows
 * themselves are read by copyRowsOutSql, in the same snapshot.
 */
export function readPageSql(t: SyncedTable): string {
  const after = `(%.updated_at, %.sync_id) > ($2::timestamptz, $3::uuid) AND %.updated_at < $4::timestamptz`;
  return `
WITH changed AS (
  SELECT t.updated_at, t.sync_id
    FROM ${ident(t.name)} t
   WHERE t.origin = $1 AND ${after.replace(/%/g, 't')}
   ORDER BY t.updated_at, t.sync_id
   LIMIT $5
), deleted AS (
  SELECT tb.sync_id, tb.updated_at, tb.origin
    FROM sync_tombstones tb
   WHERE tb.table_name = ${literal(t.name)} AND tb.origin = $1 AND ${after.replace(/%/g, 'tb')}
   ORDER BY tb.updated_at, tb.sync_id
   LIMIT $5
), page AS (
  SELECT updated_at, sync_id, false AS deleted FROM changed
   UNION ALL
  SELECT updated_at, sync_id, true FROM deleted
   ORDER BY updated_at, sync_id
   LIMIT $5
), last AS (
  SELECT updated_at, sync_id FROM page ORDER BY updated_at DESC, sync_id DESC LIMIT 1
)
SELECT (SELECT count(*) FROM page)::int AS count,
       (SELECT count(*) FROM page WHERE NOT deleted)::int AS row_count,
       (SELECT json_agg(d) FROM deleted d, last l WHERE (d.updated_at, d.sync_id) <= (l.updated_at, l.sync_id))::text AS tombstones,
       (SELECT updated_at::text FROM last) AS cursor_at,
       (SELECT sync_id::text FROM last) AS cursor_id`;
}

/** A cursor's parts as they come from the database (a timestamp's text, a uuid): anything else is refused before it reaches SQL. */
function cursorLiteral(value: string): string {
  if (!/^[0-9A-Za-z:.+ -]+$/.test(value)) throw new Error(`not a sync cursor value: ${JSON.stringify(value)}`);
  return literal(value);
}

/** What travels of a row, in this order: its version, its columns, and its references as the referenced rows' sync_ids. */
function travellingColumns(t: SyncedTable): string[] {
  return ['sync_id', 'updated_at', 'origin', ...t.columns, ...t.references.map((r) => r.column)].map(ident);
}

/**
 * The rows of a page, in COPY's text format: the versions side `origin` wrote with keys in (after,
 * last]. COPY takes no parameters, so the values are literals; they come from readPageSql's answer.
 */
export function copyRowsOutSql(
  t: SyncedTable,
  origin: string,
  after: { at: string; id: string },
  last: { at: string; id: string },
): string {
  const joins = t.references.map((r, i) => `\n    LEFT JOIN ${ident(r.table)} r${i} ON r${i}.id = t.${ident(r.column)}`).join('');
  const columns = [
    ...['sync_id', 'updated_at', 'origin', ...t.columns].map((c) => `t.${ident(c)}`),
    ...t.references.map((r, i) => `r${i}.sync_id AS ${ident(r.column)}`),
  ];
  const key = (k: { at: string; id: string }): string => `(${cursorLiteral(k.at)}::timestamptz, ${cursorLiteral(k.id)}::uuid)`;
  return `COPY (
  SELECT ${columns.join(', ')}
    FROM ${ident(t.name)} t${joins}
   WHERE t.origin = ${cursorLiteral(origin)} AND (t.updated_at, t.sync_id) > ${key(after)} AND (t.updated_at, t.sync_id) <= ${key(last)}
   ORDER BY t.updated_at, t.sync_id
) TO STDOUT`;
}

/**
 * Settings under which the text of every value reads back as the same value on the other side,
 * whatever either server's defaults: set for the transaction, on both sides of a page.
 */
export const exactTextSql = `
SELECT set_config('DateStyle', 'ISO, YMD', true), set_config('IntervalStyle', 'postgres', true),
       set_config('extra_float_digits', '3', true)`;

/**
 * A page is read in cursor order from the cursor index and stops at the page size. A table just
 * loaded and not yet analyzed looks nearly empty to the planner, which then sorts the whole table for
 * every page: sorting is discouraged for the read's transaction, and JIT compilation is off (the
 * discouraged plans' costs would otherwise start it, at a quarter of a second a page). Set through
 * pg_settings, so that a server without these settings, such as CockroachDB, changes nothing.
 */
export const readInKeyOrderSql = `SELECT set_config(name, 'off', true) FROM pg_settings WHERE name IN ('enable_sort', 'jit')`;

/** The session's staging table of a synced table: the rows as they travel, emptied at each commit. */
function stageName(t: SyncedTable): string {
  return ident(`cesar_sync_stage_${t.name}`);
}

export function createStageSql(t: SyncedTable): string {
  const columns = [
    ...['sync_id', 'updated_at', 'origin', ...t.columns].map(ident),
    ...t.references.map((r) => `NULL::uuid AS ${ident(r.column)}`),
  ];
  return `CREATE TEMP TABLE IF NOT EXISTS ${stageName(t)} ON COMMIT DELETE ROWS AS SELECT ${columns.join(', ')} FROM ${ident(t.name)} WITH NO DATA`;
}

export function copyIntoStageSql(t: SyncedTable): string {
  return `COPY ${stageName(t)} (${travellingColumns(t).join(', ')}) FROM STDIN`;
}

/** The rows of a page straight into the table: only for a table without references, and rows new here (see newerTombstoneSql). */
export function copyIntoTableSql(t: SyncedTable): string {
  if (t.references.length > 0) throw new Error(`${t.name} has references: its rows go through the staging table`);
  return `COPY ${ident(t.name)} (${travellingColumns(t).join(', ')}) FROM STDIN`;
}

/**
 * Whether a tombstone here is as new as $1 or newer: only such a delete can beat an incoming row
 * version of that time or later (see applyRowsSql). When none is, rows new here can be copied in as
 * they are; a row that is not new is refused by the sync_id's unique index.
 */
export function newerTombstoneSql(t: SyncedTable): string {
  return `
SELECT EXISTS (SELECT 1 FROM sync_tombstones
                WHERE table_name = ${literal(t.name)} AND origin IN ('cesar', 'supabase') AND updated_at >= $1::timestamptz) AS newer`;
}

/** The staged rows, each with its version and as JSON, for applying them one by one. */
export function stagedRowsSql(t: SyncedTable): string {
  return `SELECT s.sync_id::text AS sync_id, s.updated_at::text AS updated_at, s.origin, to_jsonb(s) AS row FROM ${stageName(t)} s`;
}

/**
 * Apply the staged row versions (all, or only sync_id $3) as a conditional upsert: a version is
 * written only when it is newer than the row here and than the row's tombstone; an exact replay
 * changes nothing. The caller has set cesar.sync_applying, so the triggers keep the versions as
 * they came. ($1, $2): this side's cursor in the other direction: a row this side wrote after it
 * was not sent yet, and losing it is a conflict worth recording.
 *
 * Each staged row meets the row and tombstone here by index (LATERAL ... LIMIT 1: the staging
 * table has no statistics, and a hash join would read the whole table for every page).
 * Answers how many were written and replayed, and as JSON every version that lost or was refused.
 */
export function applyRowsSql(t: SyncedTable): string {
  const refs = t.references.map((r, i) => ({ ...r, alias: `p${i}`, local: `ref${i}_id` }));
  const joins = refs
    .map(
      (r) =>
        `\n    LEFT JOIN LATERAL (SELECT x.id FROM ${ident(r.table)} x WHERE x.sync_id = s.${ident(r.column)} LIMIT 1) ${r.alias} ON true`,
    )
    .join('');
  const columns = t.columns.map(ident);
  const written = [...columns, ...refs.map((r) => ident(r.column))];
  const missing = refs.map(
    (r) =>
      `\n           WHEN i.${ident(r.column)} IS NOT NULL AND i.${r.local} IS NULL THEN 'rejected: the ${r.table} row it references (' || i.${ident(r.column)} || ') is not here'`,
  );
  return `
WITH incoming AS (
  SELECT s AS staged, s.sync_id, s.updated_at, s.origin, ${[...columns.map((c) => `s.${c}`), ...refs.map((r) => `s.${ident(r.column)}, ${r.alias}.id AS ${r.local}`)].join(', ')}
    FROM ${stageName(t)} s${joins}
   WHERE $3::uuid IS NULL OR s.sync_id = $3::uuid
), decided AS (
  SELECT i.*, c.updated_at AS current_at, c.origin AS current_origin,
         tb.updated_at AS tombstone_at, tb.origin AS tombstone_origin,
         CASE${missing.join('')}
           WHEN (c.updated_at, c.origin) = (i.updated_at, i.origin) THEN 'replay'
           WHEN (c.updated_at, c.origin) > (i.updated_at, i.origin) THEN 'lost'
           WHEN (tb.updated_at, tb.origin) >= (i.updated_at, i.origin) THEN 'lost_to_delete'
           ELSE 'apply'
         END AS outcome
    FROM incoming i
    LEFT JOIN LATERAL (SELECT x.updated_at, x.origin FROM ${ident(t.name)} x WHERE x.sync_id = i.sync_id LIMIT 1) c ON true
    LEFT JOIN LATERAL (SELECT x.updated_at, x.origin FROM sync_tombstones x
                        WHERE x.table_name = ${literal(t.name)} AND x.sync_id = i.sync_id LIMIT 1) tb ON true
), written AS (
  INSERT INTO ${ident(t.name)} AS t (sync_id, updated_at, origin, ${written.join(', ')})
  SELECT sync_id, updated_at, origin, ${[...columns, ...refs.map((r) => r.local)].join(', ')} FROM decided WHERE outcome = 'apply'
      ON CONFLICT (sync_id) DO UPDATE
     SET updated_at = excluded.updated_at, origin = excluded.origin, ${written.map((c) => `${c} = excluded.${c}`).join(', ')}
   WHERE (t.updated_at, t.origin) < (excluded.updated_at, excluded.origin)
  RETURNING t.sync_id
), results AS (
  SELECT d.*,
         CASE WHEN d.outcome = 'apply' AND w.sync_id IS NULL THEN 'lost' ELSE d.outcome END AS final,
         (d.outcome = 'apply' AND w.sync_id IS NOT NULL AND d.current_origin = cesar_sync_origin()
          AND (d.current_at, d.sync_id) > ($1::timestamptz, $2::uuid)) AS overwrote_unsent
    FROM decided d
    LEFT JOIN written w ON w.sync_id = d.sync_id
)
-- The row a version replaced is read as it was before this statement: every part of it sees one snapshot.
SELECT count(*) FILTER (WHERE final = 'apply')::int AS applied,
       count(*) FILTER (WHERE final = 'replay')::int AS replayed,
       coalesce(json_agg(json_build_object(
           'sync_id', sync_id,
           'resolution', CASE WHEN overwrote_unsent THEN 'kept_incoming' WHEN final LIKE 'rejected%' THEN 'rejected' ELSE 'kept_current' END,
           'lost_updated_at', CASE WHEN overwrote_unsent THEN current_at ELSE updated_at END,
           'lost_origin', CASE WHEN overwrote_unsent THEN current_origin ELSE origin END,
           'lost_deleted', false,
           'lost_row', CASE WHEN overwrote_unsent THEN (SELECT to_jsonb(x) FROM ${ident(t.name)} x WHERE x.sync_id = r.sync_id)
                            ELSE to_jsonb(staged) END,
           'kept_updated_at', CASE WHEN overwrote_unsent THEN updated_at WHEN final = 'lost_to_delete' THEN tombstone_at WHEN final = 'lost' THEN current_at END,
           'kept_origin', CASE WHEN overwrote_unsent THEN origin WHEN final = 'lost_to_delete' THEN tombstone_origin WHEN final = 'lost' THEN current_origin END,
           'reason', CASE WHEN overwrote_unsent THEN 'a newer version from the other side replaced a change made here and not yet sent'
                          WHEN final = 'lost' THEN 'the version here is newer'
                          WHEN final = 'lost_to_delete' THEN 'the row was deleted here later'
                          ELSE substr(final, 11) END
         )) FILTER (WHERE final <> 'apply' AND final <> 'replay' OR overwrote_unsent), '[]')::text AS conflicts
  FROM results r`;
}

/**
 * Apply incoming tombstones ($1): a delete newer than the row here removes it, and its tombstone is
 * kept (an older update arriving later loses to it); a delete older than the row here loses.
 * ($2, $3) as for applyRowsSql.
 */
export function applyTombstonesSql(t: SyncedTable): string {
  return `
WITH incoming AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(sync_id uuid, updated_at timestamptz, origin text)
), decided AS (
  SELECT i.*, c.updated_at AS current_at, c.origin AS current_origin, to_jsonb(c) AS current_row,
         CASE
           WHEN (c.updated_at, c.origin) > (i.updated_at, i.origin) THEN 'lost'
           WHEN (tb.updated_at, tb.origin) >= (i.updated_at, i.origin) THEN 'replay'
           ELSE 'apply'
         END AS outcome
    FROM incoming i
    LEFT JOIN ${ident(t.name)} c ON c.sync_id = i.sync_id
    LEFT JOIN sync_tombstones tb ON tb.table_name = ${literal(t.name)} AND tb.sync_id = i.sync_id
), marked AS (
  INSERT INTO sync_tombstones AS tb (table_name, sync_id, updated_at, origin)
  SELECT ${literal(t.name)}, sync_id, updated_at, origin FROM decided WHERE outcome = 'apply'
      ON CONFLICT (table_name, sync_id) DO UPDATE
     SET updated_at = excluded.updated_at, origin = excluded.origin, deleted_at = now()
   WHERE (tb.updated_at, tb.origin) < (excluded.updated_at, excluded.origin)
  RETURNING tb.sync_id
), removed AS (
  DELETE FROM ${ident(t.name)} t
   USING decided d
   WHERE d.outcome = 'apply' AND t.sync_id = d.sync_id AND (t.updated_at, t.origin) < (d.updated_at, d.origin)
  RETURNING t.sync_id
), results AS (
  SELECT d.*, (d.outcome = 'apply' AND x.sync_id IS NOT NULL AND d.current_origin = cesar_sync_origin()
               AND (d.current_at, d.sync_id) > ($2::timestamptz, $3::uuid)) AS overwrote_unsent
    FROM decided d
    LEFT JOIN removed x ON x.sync_id = d.sync_id
)
SELECT count(*) FILTER (WHERE outcome = 'apply')::int AS applied,
       count(*) FILTER (WHERE outcome = 'replay')::int AS replayed,
       coalesce(json_agg(json_build_object(
           'sync_id', sync_id,
           'resolution', CASE WHEN overwrote_unsent THEN 'kept_incoming' ELSE 'kept_current' END,
           'lost_updated_at', CASE WHEN overwrote_unsent THEN current_at ELSE updated_at END,
           'lost_origin', CASE WHEN overwrote_unsent THEN current_origin ELSE origin END,
           'lost_deleted', NOT overwrote_unsent,
           'lost_row', CASE WHEN overwrote_unsent THEN current_row END,
           'kept_updated_at', CASE WHEN overwrote_unsent THEN updated_at ELSE current_at END,
           'kept_origin', CASE WHEN overwrote_unsent THEN origin ELSE current_origin END,
           'reason', CASE WHEN overwrote_unsent THEN 'a newer delete from the other side removed a change made here and not yet sent'
                          ELSE 'the row was updated here after the delete' END
         )) FILTER (WHERE outcome = 'lost' OR overwrote_unsent), '[]')::text AS conflicts
  FROM results`;
}

/** Age in seconds of the oldest version side $1 wrote after the cursor ($2, $3), rows or tombstones; null when none waits. */
export function oldestWaitingSql(t: SyncedTable): string {
  return `
SELECT EXTRACT(EPOCH FROM clock_timestamp() - min(updated_at))::float8 AS lag_seconds
  FROM (SELECT min(updated_at) AS updated_at FROM ${ident(t.name)}
         WHERE origin = $1 AND (updated_at, sync_id) > ($2::timestamptz, $3::uuid)
        UNION ALL
        SELECT min(updated_at) FROM sync_tombstones
         WHERE table_name = ${literal(t.name)} AND origin = $1 AND (updated_at, sync_id) > ($2::timestamptz, $3::uuid)) w`;
}

/**
 * Delete tombstones older than $1 ms that both directions have passed: those written by 'cesar'
 * up to the push cursor ($2, $3), those written by 'supabase' up to the pull cursor ($4, $5). The
 * same statement serves both sides: the cursors are the same versions there.
 */
export function purgeTombstonesSql(tableName: string): string {
  if (!syncedTable(tableName)) throw new Error(`${tableName} is not a synced table`);
  return `
DELETE FROM sync_tombstones
 WHERE table_name = ${literal(tableName)}
   AND deleted_at < now() - $1::float8 * interval '1 millisecond'
   AND ((origin = 'cesar' AND (updated_at, sync_id) <= ($2::timestamptz, $3::uuid))
     OR (origin = 'supabase' AND (updated_at, sync_id) <= ($4::timestamptz, $5::uuid)))`;
}

/**
 * What sync verify compares, per table: a key per live row and per tombstone, the same text on
 * both sides whatever their settings (the version as microseconds since 1970), bucketed by the
 * first $1 hex digits of the sync_id (uniform: ids are random or md5-derived).
 */
function verifyKeys(t: SyncedTable): string {
  const version = `(extract(epoch FROM updated_at) * 1000000)::bigint::text`;
  return `
SELECT substr(sync_id::text, 1, $1) AS bucket, sync_id::text || ' ' || ${version} AS key FROM ${ident(t.name)}
 UNION ALL
SELECT substr(sync_id::text, 1, $1), sync_id::text || ' ' || ${version} || ' deleted'
  FROM sync_tombstones WHERE table_name = ${literal(t.name)}`;
}

/** Per bucket: how many keys, and a digest of them. */
export function bucketsSql(t: SyncedTable): string {
  return `
SELECT bucket, count(*)::int AS count, md5(string_agg(key, ',' ORDER BY key)) AS digest
  FROM (${verifyKeys(t)}) k
 GROUP BY bucket`;
}

/** The keys of the buckets $2 (text[]). */
export function bucketKeysSql(t: SyncedTable): string {
  return `
SELECT key FROM (${verifyKeys(t)}) k WHERE bucket = ANY($2::text[])`;
}

/** How many rows a table has, to choose the bucket size. */
export function countRowsSql(t: SyncedTable): string {
  return `SELECT count(*)::int AS count FROM ${ident(t.name)}`;
}

// sync_status, the row of each sync system (supabase, financial_api, email_ingest) ------------------

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

/** System $2 is not configured: the note $1 says what to set. */
export const recordNotConfiguredSql = `
UPDATE sync_status SET status = 'not_configured', note = $1, updated_at = now() WHERE system_name = $2`;

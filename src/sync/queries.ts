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
 * One page of the versions side $1 wrote, after the cursor ($2, $3) and before the bound $4: rows and
 * tombstones merged in cursor order, at most $5. Answers the page as JSON text (passed on as it is),
 * its size and its last key (the next cursor). References travel as the referenced row's sync_id.
 */
export function readPageSql(t: SyncedTable): string {
  const joins = t.references.map((r, i) => `\n    LEFT JOIN ${ident(r.table)} r${i} ON r${i}.id = t.${ident(r.column)}`).join('');
  const columns = [...t.columns.map((c) => `t.${ident(c)}`), ...t.references.map((r, i) => `r${i}.sync_id AS ${ident(r.column)}`)];
  const after = `(%.updated_at, %.sync_id) > ($2::timestamptz, $3::uuid) AND %.updated_at < $4::timestamptz`;
  return `
WITH changed AS (
  SELECT t.sync_id, t.updated_at, t.origin, ${columns.join(', ')}
    FROM ${ident(t.name)} t${joins}
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
  SELECT updated_at, sync_id FROM changed
   UNION ALL
  SELECT updated_at, sync_id FROM deleted
   ORDER BY updated_at, sync_id
   LIMIT $5
), last AS (
  SELECT updated_at, sync_id FROM page ORDER BY updated_at DESC, sync_id DESC LIMIT 1
)
SELECT (SELECT count(*) FROM page)::int AS count,
       (SELECT json_agg(c) FROM changed c, last l WHERE (c.updated_at, c.sync_id) <= (l.updated_at, l.sync_id))::text AS rows,
       (SELECT json_agg(d) FROM deleted d, last l WHERE (d.updated_at, d.sync_id) <= (l.updated_at, l.sync_id))::text AS tombstones,
       (SELECT updated_at::text FROM last) AS cursor_at,
       (SELECT sync_id::text FROM last) AS cursor_id`;
}

/**
 * Apply incoming row versions ($1, JSON from readPageSql) as a conditional upsert: a version is
 * written only when it is newer than the row here and than the row's tombstone; an exact replay
 * changes nothing. The caller has set cesar.sync_applying, so the triggers keep the versions as
 * they came. ($2, $3): this side's cursor in the other direction: a row this side wrote after it
 * was not sent yet, and losing it is a conflict worth recording.
 *
 * Answers how many were written and replayed, and as JSON every version that lost or was refused.
 */
export function applyRowsSql(t: SyncedTable): string {
  const refs = t.references.map((r, i) => ({ ...r, alias: `p${i}` }));
  const joins = refs
    .map((r) => `\n    LEFT JOIN ${ident(r.table)} ${r.alias} ON ${r.alias}.sync_id = (e.j->>${literal(r.column)})::uuid`)
    .join('');
  const stripped = refs.reduce((json, r) => `${json} - ${literal(r.column)}`, 'e.j');
  const written = [...t.columns, ...t.references.map((r) => r.column)].map(ident);
  const incoming = [
    ...t.columns.map((c) => `r.${ident(c)}`),
    ...refs.map((r) => `${r.alias}.id AS ${ident(r.column)}`),
    ...refs.map((r, i) => `(e.j->>${literal(r.column)})::uuid AS ref${i}`),
  ];
  const missing = refs.map(
    (r, i) =>
      `\n           WHEN i.ref${i} IS NOT NULL AND i.${ident(r.column)} IS NULL THEN 'rejected: the ${r.table} row it references (' || i.ref${i} || ') is not here'`,
  );
  return `
WITH incoming AS (
  SELECT e.n, e.j, r.sync_id, r.updated_at, r.origin, ${incoming.join(', ')}
    FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(j, n)
   CROSS JOIN LATERAL jsonb_populate_record(NULL::${ident(t.name)}, ${stripped}) AS r${joins}
), decided AS (
  SELECT i.*, c.updated_at AS current_at, c.origin AS current_origin, to_jsonb(c) AS current_row,
         tb.updated_at AS tombstone_at, tb.origin AS tombstone_origin,
         CASE${missing.join('')}
           WHEN (c.updated_at, c.origin) = (i.updated_at, i.origin) THEN 'replay'
           WHEN (c.updated_at, c.origin) > (i.updated_at, i.origin) THEN 'lost'
           WHEN (tb.updated_at, tb.origin) >= (i.updated_at, i.origin) THEN 'lost_to_delete'
           ELSE 'apply'
         END AS outcome
    FROM incoming i
    LEFT JOIN ${ident(t.name)} c ON c.sync_id = i.sync_id
    LEFT JOIN sync_tombstones tb ON tb.table_name = ${literal(t.name)} AND tb.sync_id = i.sync_id
), written AS (
  INSERT INTO ${ident(t.name)} AS t (sync_id, updated_at, origin, ${written.join(', ')})
  SELECT sync_id, updated_at, origin, ${written.join(', ')} FROM decided WHERE outcome = 'apply'
      ON CONFLICT (sync_id) DO UPDATE
     SET updated_at = excluded.updated_at, origin = excluded.origin, ${written.map((c) => `${c} = excluded.${c}`).join(', ')}
   WHERE (t.updated_at, t.origin) < (excluded.updated_at, excluded.origin)
  RETURNING t.sync_id
), results AS (
  SELECT d.*,
         CASE WHEN d.outcome = 'apply' AND w.sync_id IS NULL THEN 'lost' ELSE d.outcome END AS final,
         (d.outcome = 'apply' AND w.sync_id IS NOT NULL AND d.current_origin = cesar_sync_origin()
          AND (d.current_at, d.sync_id) > ($2::timestamptz, $3::uuid)) AS overwrote_unsent
    FROM decided d
    LEFT JOIN written w ON w.sync_id = d.sync_id
)
SELECT count(*) FILTER (WHERE final = 'apply')::int AS applied,
       count(*) FILTER (WHERE final = 'replay')::int AS replayed,
       coalesce(json_agg(json_build_object(
           'sync_id', sync_id,
           'resolution', CASE WHEN overwrote_unsent THEN 'kept_incoming' WHEN final LIKE 'rejected%' THEN 'rejected' ELSE 'kept_current' END,
           'lost_updated_at', CASE WHEN overwrote_unsent THEN current_at ELSE updated_at END,
           'lost_origin', CASE WHEN overwrote_unsent THEN current_origin ELSE origin END,
           'lost_deleted', false,
           'lost_row', CASE WHEN overwrote_unsent THEN current_row ELSE j END,
           'kept_updated_at', CASE WHEN overwrote_unsent THEN updated_at WHEN final = 'lost_to_delete' THEN tombstone_at WHEN final = 'lost' THEN current_at END,
           'kept_origin', CASE WHEN overwrote_unsent THEN origin WHEN final = 'lost_to_delete' THEN tombstone_origin WHEN final = 'lost' THEN current_origin END,
           'reason', CASE WHEN overwrote_unsent THEN 'a newer version from the other side replaced a change made here and not yet sent'
                          WHEN final = 'lost' THEN 'the version here is newer'
                          WHEN final = 'lost_to_delete' THEN 'the row was deleted here later'
                          ELSE substr(final, 11) END
         )) FILTER (WHERE final <> 'apply' AND final <> 'replay' OR overwrote_unsent), '[]')::text AS conflicts
  FROM results`;
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
 * both sides (times in UTC), bucketed by the first $1 hex digits of the sync_id (uniform: ids are
 * random or md5-derived).
 */
function verifyKeys(t: SyncedTable): string {
  return `
SELECT substr(sync_id::text, 1, $1) AS bucket, sync_id::text || ' ' || (updated_at AT TIME ZONE 'UTC')::text AS key FROM ${ident(t.name)}
 UNION ALL
SELECT substr(sync_id::text, 1, $1), sync_id::text || ' ' || (updated_at AT TIME ZONE 'UTC')::text || ' deleted'
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

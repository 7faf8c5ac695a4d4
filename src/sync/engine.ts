import { copyFirstRow, copyIn, copyOut, copyRowCount } from '../db/copy.js';
import { acquireLease, releaseLease } from '../db/leases.js';
import type { Queryable } from '../db/queryable.js';
import { readBoundSql } from '../db/read-bound.js';
import { type ConnectionPool, withClientTransaction } from '../db/transaction.js';
import type { Logger } from '../log.js';
import {
  applyRowsSql,
  applyTombstonesSql,
  copyIntoStageSql,
  copyIntoTableSql,
  copyRowsOutSql,
  createStageSql,
  cursorStart,
  exactTextSql,
  newerTombstoneSql,
  oldestWaitingSql,
  purgeTombstonesSql,
  readInKeyOrderSql,
  readPageSql,
  stagedRowsSql,
} from './queries.js';
import { localOrigin, remoteOrigin, type SyncDirection, type SyncedTable } from './tables.js';

/**
 * The sync engine: one table, one direction, page by page.
 *
 * pull: read a page of the versions Supabase wrote, then in one local transaction apply them and
 * advance the cursor: a crash leaves both or neither. push: read a page of the versions written
 * here, apply it on Supabase and commit there, then advance the cursor here: a crash in between
 * only sends the page again, and replays are no-ops. Only versions the source side wrote are read,
 * and versions are written as they came, so nothing comes back.
 *
 * Rows travel in COPY's text format, parsed once, on the target. A page of rows that are all new
 * there (the first sync of a table) is copied straight into the table; any other page goes through
 * a staging table and one conditional upsert that decides, row by row, what wins.
 */

export type Side = ConnectionPool & Queryable;

export interface TableSyncOptions {
  local: Side;
  remote: Side;
  table: SyncedTable;
  direction: SyncDirection;
  /** Who runs it, for the lease: one run per table and direction at a time across all workers. */
  holder: string;
  /** Versions younger than this are left for the next run (see readBoundSql). */
  safetyLagMs: number;
  pageSize: number;
  /** Tombstones older than this, passed by both cursors, are purged after the run. */
  tombstoneRetentionMs: number;
  log: Logger;
  signal?: AbortSignal;
}

export interface TableSyncResult {
  table: string;
  direction: SyncDirection;
  /** Versions written on the target (rows and deletes). */
  applied: number;
  /** Versions the target had already (a page sent again). */
  replayed: number;
  conflicts: number;
  pages: number;
  /** Seconds between the oldest version still waiting and now; 0 when none waits. */
  lag_seconds: number;
  tombstones_purged: number;
  /** Set when the run did nothing, and why (another process holds the table). */
  skipped?: string;
}

interface Cursor {
  at: string;
  id: string;
}

interface Page {
  count: number;
  /** The page's rows in COPY's text format (null when it has none). */
  rows: Buffer | null;
  tombstones: string | null;
  cursor_at: string;
  cursor_id: string;
}

/** Whether copying rows straight into the table has worked so far in this run (see applyRows). */
interface CopyState {
  worked: boolean;
}

interface PageKeys {
  count: number;
  row_count: number;
  tombstones: string | null;
  cursor_at: string;
  cursor_id: string;
}

interface ApplyResult {
  applied: number;
  replayed: number;
  conflicts: Conflict[];
}

export interface Conflict {
  sync_id: string;
  resolution: 'kept_current' | 'kept_incoming' | 'rejected';
  lost_updated_at: string | null;
  lost_origin: string | null;
  lost_deleted: boolean;
  lost_row: unknown;
  kept_updated_at: string | null;
  kept_origin: string | null;
  reason: string;
}

const leaseSeconds = 120;

export async function syncTable(options: TableSyncOptions): Promise<TableSyncResult> {
  const { local, remote, table, direction, holder } = options;
  const result: TableSyncResult = {
    table: table.name,
    direction,
    applied: 0,
    replayed: 0,
    conflicts: 0,
    pages: 0,
    lag_seconds: 0,
    tombstones_purged: 0,
  };
  const lease = `sync:supabase:${table.name}:${direction}`;
  if (!(await acquireLease(local, lease, holder, leaseSeconds))) {
    return { ...result, skipped: `another process is syncing ${table.name} (${direction}) now` };
  }
  try {
    const [source, target] = direction === 'pull' ? [remote, local] : [local, remote];
    const sourceOrigin = direction === 'pull' ? remoteOrigin : localOrigin;
    const cursors = await readCursors(local, table.name);
    let cursor = cursors[direction];
    // On the target, the versions written there after its own cursor in the other direction were not sent yet.
    const unsent = cursors[direction === 'pull' ? 'push' : 'pull'];
    const bound = await withExactText(
      source,
      {},
      async (q) => (await q.query<{ bound: string }>({ text: readBoundSql, values: [options.safetyLagMs] })).rows[0]!.bound,
    );
    const readPage = (after: Cursor): Promise<Page> => readPageFrom(source, table, sourceOrigin, after, bound, options.pageSize);
    const copying: CopyState = { worked: true };
    let reading: Promise<Page> | undefined = readPage(cursor);
    while (reading) {
      options.signal?.throwIfAborted();
      const page: Page = await reading;
      if (page.count === 0) break;
      const next = { at: page.cursor_at, id: page.cursor_id };
      // A full page: the next one is read on the source while this one is written on the target.
      reading = page.count === options.pageSize ? readPage(next) : undefined;
      reading?.catch(() => undefined);
      let applied: ApplyResult;
      if (direction === 'pull') {
        applied = await withClientTransaction(local, async (q) => {
          const outcome = await applyPage(q, table, page, unsent, copying);
          await recordProgress(q, table.name, direction, next, outcome);
          return outcome;
        });
      } else {
        applied = await withClientTransaction(target, (q) => applyPage(q, table, page, unsent, copying));
        await withClientTransaction(local, (q) => recordProgress(q, table.name, direction, next, applied));
      }
      cursor = next;
      result.pages++;
      result.applied += applied.applied;
      result.replayed += applied.replayed;
      result.conflicts += applied.conflicts.length;
      if (!(await acquireLease(local, lease, holder, leaseSeconds))) {
        throw new Error(`lost the lease on syncing ${table.name} (${direction}) to another process; it goes on from the cursor`);
      }
    }
    const waiting = await source.query<{ lag_seconds: number | null }>({
      text: oldestWaitingSql(table),
      values: [sourceOrigin, cursor.at, cursor.id],
    });
    result.lag_seconds = Math.max(0, waiting.rows[0]?.lag_seconds ?? 0);
    await local.query({
      text: `UPDATE supabase_sync_state SET ${direction}_lag_seconds = $2, last_synced_at = now(), last_error = NULL, updated_at = now()
              WHERE table_name = $1`,
      values: [table.name, result.lag_seconds],
    });
    result.tombstones_purged = await purgeTombstones(local, remote, table.name, options.tombstoneRetentionMs);
    return result;
  } catch (err) {
    await local
      .query({
        text: 'UPDATE supabase_sync_state SET last_error = $2, updated_at = now() WHERE table_name = $1',
        values: [table.name, `${direction}: ${(err as Error).message}`.slice(0, 2000)],
      })
      .catch(() => undefined);
    throw err;
  } finally {
    await releaseLease(local, lease, holder).catch(() => undefined);
  }
}

/** One page of the source: its keys and tombstones, then its rows by COPY, in one snapshot. */
async function readPageFrom(
  source: Side,
  table: SyncedTable,
  origin: string,
  after: Cursor,
  bound: string,
  pageSize: number,
): Promise<Page> {
  return withExactText(source, { snapshot: true }, async (q) => {
    await q.query({ text: readInKeyOrderSql });
    const keys = (await q.query<PageKeys>({ text: readPageSql(table), values: [origin, after.at, after.id, bound, pageSize] })).rows[0]!;
    let rows: Buffer | null = null;
    if (keys.row_count > 0) {
      rows = await copyOut(q, copyRowsOutSql(table, origin, after, { at: keys.cursor_at, id: keys.cursor_id }));
      const copied = copyRowCount(rows);
      if (copied !== keys.row_count) throw new Error(`read ${copied} rows of ${table.name} where the page has ${keys.row_count}`);
    }
    return { count: keys.count, rows, tombstones: keys.tombstones, cursor_at: keys.cursor_at, cursor_id: keys.cursor_id };
  });
}

/**
 * Run fn in a transaction whose times read as text in ISO form (see exactTextSql): times read as text
 * travel to the other side, which may have other settings, and come back as parameters. `snapshot`:
 * a read-only transaction whose statements all see one snapshot.
 */
function withExactText<T>(pool: Side, options: { snapshot?: boolean }, fn: (q: Queryable) => Promise<T>): Promise<T> {
  return withClientTransaction(pool, async (q) => {
    if (options.snapshot) await q.query({ text: 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY' });
    await q.query({ text: exactTextSql });
    return fn(q);
  });
}

async function readCursors(local: Side, tableName: string): Promise<Record<SyncDirection, Cursor>> {
  const { rows } = await withExactText(local, {}, (q) =>
    q.query<{ push_at: string | null; push_id: string | null; pull_at: string | null; pull_id: string | null }>({
      text: `SELECT push_watermark::text AS push_at, push_cursor_id::text AS push_id,
                  pull_watermark::text AS pull_at, pull_cursor_id::text AS pull_id
             FROM supabase_sync_state WHERE table_name = $1`,
      values: [tableName],
    }),
  );
  const row = rows[0];
  if (!row) throw new Error(`table ${tableName} has no supabase_sync_state row: run cesar migrate`);
  return {
    push: row.push_at && row.push_id ? { at: row.push_at, id: row.push_id } : cursorStart,
    pull: row.pull_at && row.pull_id ? { at: row.pull_at, id: row.pull_id } : cursorStart,
  };
}

/** Apply one page in the caller's transaction, as versions from the other side. */
async function applyPage(q: Queryable, table: SyncedTable, page: Page, unsent: Cursor, copying: CopyState): Promise<ApplyResult> {
  await q.query({ text: `SELECT set_config('cesar.sync_applying', 'on', true)` });
  await q.query({ text: exactTextSql });
  const total: ApplyResult = { applied: 0, replayed: 0, conflicts: [] };
  const add = (r: ApplyResult): void => {
    total.applied += r.applied;
    total.replayed += r.replayed;
    total.conflicts.push(...r.conflicts);
  };
  if (page.rows) add(await applyRows(q, table, page.rows, unsent, copying));
  if (page.tombstones) add(await applyTombstones(q, applyTombstonesSql(table), page.tombstones, unsent));
  return total;
}

/**
 * Rows of a table without references are first copied straight in, when no delete here is as new as
 * the page's oldest version: that is all it takes when they are new here (the first sync of a
 * table). Should a row be there already (the sync_id's unique index refuses it) or a constraint
 * refuse one, the copy is rolled back and the page goes the staged way, which decides row by row; so
 * does every later page of the run.
 */
async function applyRows(q: Queryable, table: SyncedTable, rows: Buffer, unsent: Cursor, copying: CopyState): Promise<ApplyResult> {
  if (table.references.length === 0 && copying.worked) {
    const oldest = copyFirstRow(rows)[1]!;
    const newer = await q.query<{ newer: boolean }>({ text: newerTombstoneSql(table), values: [oldest] });
    if (!newer.rows[0]!.newer) {
      await q.query({ text: 'SAVEPOINT cesar_sync_copy' });
      try {
        const applied = await copyIn(q, copyIntoTableSql(table), rows);
        await q.query({ text: 'RELEASE SAVEPOINT cesar_sync_copy' });
        return { applied, replayed: 0, conflicts: [] };
      } catch (err) {
        if (!isConstraintError(err)) throw err;
        await q.query({ text: 'ROLLBACK TO SAVEPOINT cesar_sync_copy' });
        copying.worked = false;
      }
    }
  }
  await q.query({ text: createStageSql(table) });
  await copyIn(q, copyIntoStageSql(table), rows);
  const sql = applyRowsSql(table);
  const all = await applyOrRefuse(q, () => applyStatement(q, sql, [unsent.at, unsent.id, null]));
  if (all) return all;
  const staged = await q.query<{ sync_id: string; updated_at: string; origin: string; row: unknown }>({ text: stagedRowsSql(table) });
  return applyOneByOne(q, staged.rows, false, (row) => applyStatement(q, sql, [unsent.at, unsent.id, row.sync_id]));
}

async function applyTombstones(q: Queryable, sql: string, json: string, unsent: Cursor): Promise<ApplyResult> {
  const all = await applyOrRefuse(q, () => applyStatement(q, sql, [json, unsent.at, unsent.id]));
  if (all) return all;
  const tombstones = JSON.parse(json) as Array<{ sync_id: string; updated_at: string; origin: string }>;
  return applyOneByOne(q, tombstones, true, (t) => applyStatement(q, sql, [JSON.stringify([t]), unsent.at, unsent.id]));
}

/** The page's versions as one statement; undefined when a constraint refuses it (it is rolled back). */
async function applyOrRefuse(q: Queryable, apply: () => Promise<ApplyResult>): Promise<ApplyResult | undefined> {
  await q.query({ text: 'SAVEPOINT cesar_sync_page' });
  try {
    const result = await apply();
    await q.query({ text: 'RELEASE SAVEPOINT cesar_sync_page' });
    return result;
  } catch (err) {
    if (!isConstraintError(err)) throw err;
    await q.query({ text: 'ROLLBACK TO SAVEPOINT cesar_sync_page' });
    return undefined;
  }
}

/**
 * When a constraint refuses the page as a whole (a name taken here by another row, a delete of a
 * row that others here still reference): one version at a time, each refused one recorded as a
 * rejected conflict and the others written.
 */
async function applyOneByOne<V extends { sync_id: string; updated_at: string; origin: string; row?: unknown }>(
  q: Queryable,
  versions: V[],
  deletes: boolean,
  apply: (version: V) => Promise<ApplyResult>,
): Promise<ApplyResult> {
  const total: ApplyResult = { applied: 0, replayed: 0, conflicts: [] };
  for (const version of versions) {
    await q.query({ text: 'SAVEPOINT cesar_sync_row' });
    try {
      const one = await apply(version);
      total.applied += one.applied;
      total.replayed += one.replayed;
      total.conflicts.push(...one.conflicts);
      await q.query({ text: 'RELEASE SAVEPOINT cesar_sync_row' });
    } catch (err) {
      if (!isConstraintError(err)) throw err;
      await q.query({ text: 'ROLLBACK TO SAVEPOINT cesar_sync_row' });
      total.conflicts.push({
        sync_id: version.sync_id,
        resolution: 'rejected',
        lost_updated_at: version.updated_at,
        lost_origin: version.origin,
        lost_deleted: deletes,
        lost_row: deletes ? null : (version.row ?? version),
        kept_updated_at: null,
        kept_origin: null,
        reason: `refused here: ${(err as Error).message}`,
      });
    }
  }
  return total;
}

async function applyStatement(q: Queryable, sql: string, values: unknown[]): Promise<ApplyResult> {
  const { rows } = await q.query<{ applied: number; replayed: number; conflicts: string }>({ text: sql, values });
  const row = rows[0]!;
  return { applied: row.applied, replayed: row.replayed, conflicts: JSON.parse(row.conflicts) as Conflict[] };
}

/** Integrity constraint violations (SQLSTATE class 23): the row, not the connection, is at fault. */
function isConstraintError(err: unknown): boolean {
  return typeof (err as { code?: unknown }).code === 'string' && (err as { code: string }).code.startsWith('23');
}

/** Advance the cursor, count the page and record its conflicts, in the caller's local transaction. */
async function recordProgress(q: Queryable, tableName: string, direction: SyncDirection, next: Cursor, page: ApplyResult): Promise<void> {
  await q.query({
    text: `UPDATE supabase_sync_state
              SET ${direction}_watermark = $2::timestamptz, ${direction}_cursor_id = $3::uuid,
                  rows_${direction}ed = rows_${direction}ed + $4, conflicts = conflicts + $5,
                  last_${direction}_at = now(), updated_at = now()
            WHERE table_name = $1`,
    values: [tableName, next.at, next.id, page.applied, page.conflicts.length],
  });
  if (page.conflicts.length === 0) return;
  await q.query({
    text: `INSERT INTO sync_conflicts (table_name, sync_id, direction, resolution, lost_updated_at, lost_origin, lost_deleted,
                                       lost_row, kept_updated_at, kept_origin, reason)
           SELECT $1, c.sync_id, $2, c.resolution, c.lost_updated_at, c.lost_origin, c.lost_deleted,
                  c.lost_row, c.kept_updated_at, c.kept_origin, c.reason
             FROM jsonb_to_recordset($3::jsonb) AS c(sync_id uuid, resolution text, lost_updated_at timestamptz, lost_origin text,
                                                     lost_deleted boolean, lost_row jsonb, kept_updated_at timestamptz,
                                                     kept_origin text, reason text)`,
    values: [tableName, direction, JSON.stringify(page.conflicts)],
  });
}

/** Purge, on both sides, the table's tombstones older than the retention that both cursors have passed. */
async function purgeTombstones(local: Side, remote: Side, tableName: string, retentionMs: number): Promise<number> {
  const cursors = await readCursors(local, tableName);
  const values = [retentionMs, cursors.push.at, cursors.push.id, cursors.pull.at, cursors.pull.id];
  const sql = purgeTombstonesSql(tableName);
  const here = await local.query({ text: sql, values });
  const there = await remote.query({ text: sql, values });
  return (here.rowCount ?? 0) + (there.rowCount ?? 0);
}

/** How far the remote's clock is ahead of ours (negative: behind), from the best of three round trips. */
export async function measureClockSkew(local: Queryable, remote: Queryable): Promise<{ skew_ms: number; uncertainty_ms: number }> {
  const clock = `SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::float8 AS ms`;
  const read = async (q: Queryable): Promise<number> => (await q.query<{ ms: number }>({ text: clock })).rows[0]!.ms;
  let best = { skew_ms: 0, uncertainty_ms: Number.POSITIVE_INFINITY };
  for (let i = 0; i < 3; i++) {
    const before = await read(local);
    const there = await read(remote);
    const after = await read(local);
    const uncertainty = (after - before) / 2;
    if (uncertainty < best.uncertainty_ms) best = { skew_ms: there - (before + after) / 2, uncertainty_ms: uncertainty };
  }
  return { skew_ms: Math.round(best.skew_ms * 10) / 10, uncertainty_ms: Math.round(best.uncertainty_ms * 10) / 10 };
}

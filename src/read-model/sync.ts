import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/types.js';
import { iso } from './time.js';

export interface SyncSystemView {
  system: string;
  kind: string;
  enabled: boolean;
  /** never_run, not_configured, running, ok, error; "no status row" when the system has none. */
  status: string;
  last_success_at: string | null;
  last_error: string | null;
  /** Seconds since the last successful sync (the database's clock); null when it never succeeded. */
  lag_seconds: number | null;
  /** Age of the oldest change not yet sent at the end of the last run (0: none waited). */
  pending_seconds: number | null;
  /** The other server's clock lead on ours at the last run, in ms. */
  clock_skew_ms: number | null;
  /** Why it is not configured, and what to set. */
  note: string | null;
}

/** Each configured sync system with its state. */
export async function listSyncSystems(db: Kysely<Database>): Promise<SyncSystemView[]> {
  const rows = await db
    .selectFrom('sync_systems as s')
    .leftJoin('sync_status as st', 'st.system_name', 's.name')
    .select([
      's.name',
      's.kind',
      's.enabled',
      'st.status',
      'st.last_success_at',
      'st.last_error',
      'st.lag_seconds as pending_seconds',
      'st.clock_skew_ms',
      'st.note',
      sql<number | null>`EXTRACT(EPOCH FROM now() - st.last_success_at)::float8`.as('lag_seconds'),
    ])
    .orderBy('s.name')
    .execute();
  return rows.map((s) => ({
    system: s.name,
    kind: s.kind,
    enabled: s.enabled,
    status: s.status ?? 'no status row',
    last_success_at: iso(s.last_success_at),
    last_error: s.last_error,
    lag_seconds: s.lag_seconds,
    pending_seconds: s.pending_seconds,
    clock_skew_ms: s.clock_skew_ms,
    note: s.note,
  }));
}

export interface SyncTableView {
  table_name: string;
  direction: string;
  enabled: boolean;
  rows_pushed: number;
  rows_pulled: number;
  conflicts: number;
  push_lag_seconds: number | null;
  pull_lag_seconds: number | null;
  last_synced_at: string | null;
  last_error: string | null;
}

/** Each table synced with Supabase: its direction, rows moved, conflicts, lag and last error. */
export async function listSyncTables(db: Kysely<Database>): Promise<SyncTableView[]> {
  const rows = await db
    .selectFrom('supabase_sync_state as s')
    .innerJoin('sync_tables as t', 't.table_name', 's.table_name')
    .select([
      's.table_name',
      't.direction',
      't.enabled',
      's.rows_pushed',
      's.rows_pulled',
      's.conflicts',
      's.push_lag_seconds',
      's.pull_lag_seconds',
      's.last_synced_at',
      's.last_error',
    ])
    .orderBy('s.table_name')
    .execute();
  return rows.map((t) => ({ ...t, last_synced_at: iso(t.last_synced_at) }));
}

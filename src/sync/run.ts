import os from 'node:os';
import type { Queryable } from '../db/queryable.js';
import { StateError } from '../errors.js';
import type { Logger } from '../log.js';
import { measureClockSkew, type Side, syncTable, type TableSyncResult } from './engine.js';
import { notConfiguredNote, openRemote, requirePrepared } from './remote.js';
import type { SyncSettings } from './settings.js';
import { recordSystemNotConfigured } from './system-status.js';
import { type SyncDirection, syncedTables } from './tables.js';

export const skewWarningMs = 1_000;

export interface SyncRunOptions {
  local: Side;
  settings: SyncSettings;
  directions: SyncDirection[];
  /** Only these tables (default: every enabled one). */
  tables?: string[];
  holder?: string;
  log: Logger;
  signal?: AbortSignal;
}

export interface SyncRunResult {
  clock_skew_ms: number;
  warnings: string[];
  tables: TableSyncResult[];
}

/** The enabled synced tables in run order, with their direction and page size. */
export async function enabledTables(local: Queryable): Promise<Array<{ table_name: string; direction: string; batch_size: number }>> {
  const { rows } = await local.query<{ table_name: string; direction: string; batch_size: number }>({
    text: `SELECT table_name, direction, batch_size FROM sync_tables WHERE system_name = 'supabase' AND enabled`,
  });
  const order = syncedTables.map((t) => t.name);
  return rows.filter((r) => order.includes(r.table_name)).sort((a, b) => order.indexOf(a.table_name) - order.indexOf(b.table_name));
}

/**
 * One sync run: connect to Supabase, check the clocks, then each enabled table in each asked
 * direction (pull before push). Records the outcome in sync_status. Throws when the sync is not
 * configured (the caller says so), when Supabase cannot be reached or is not prepared, when the
 * clocks differ too much, or when a table fails.
 */
export async function runSync(options: SyncRunOptions): Promise<SyncRunResult> {
  const { local, settings, log } = options;
  if (!settings.supabaseDbUrl) throw new StateError(notConfiguredNote);
  const holder = options.holder ?? `${os.hostname()}:${process.pid}`;
  const tables = await enabledTables(local);
  for (const name of options.tables ?? []) {
    if (!tables.some((t) => t.table_name === name)) {
      throw new StateError(`${name} is not a table synced with Supabase`, `one of: ${tables.map((t) => t.table_name).join(', ')}`);
    }
  }
  await markStarted(local);
  try {
    const remote = await openRemote(settings.supabaseDbUrl, log);
    try {
      await requirePrepared(remote);
      const { skew_ms } = await measureClockSkew(local, remote.pool);
      await local.query({ text: `UPDATE sync_status SET clock_skew_ms = $1 WHERE system_name = 'supabase'`, values: [skew_ms] });
      const warnings: string[] = [];
      if (Math.abs(skew_ms) > settings.maxClockSkewMs) {
        throw new StateError(
          `the clocks of Supabase and this database differ by ${Math.abs(skew_ms)} ms, more than CESAR_SYNC_MAX_CLOCK_SKEW (${settings.maxClockSkewMs} ms): last writer wins would pick wrong winners`,
          'fix the servers’ time (NTP), or raise CESAR_SYNC_MAX_CLOCK_SKEW',
        );
      }
      if (Math.abs(skew_ms) > skewWarningMs) {
        warnings.push(`the clocks of Supabase and this database differ by ${Math.abs(skew_ms)} ms`);
        log.warn(warnings[warnings.length - 1]!);
      }
      const results: TableSyncResult[] = [];
      for (const direction of (['pull', 'push'] as const).filter((d) => options.directions.includes(d))) {
        for (const t of tables) {
          if (options.tables && !options.tables.includes(t.table_name)) continue;
          if (t.direction !== 'bidirectional' && t.direction !== direction) continue;
          const table = syncedTables.find((s) => s.name === t.table_name)!;
          results.push(
            await syncTable({
              local,
              remote: remote.pool,
              table,
              direction,
              holder,
              safetyLagMs: settings.safetyLagMs,
              pageSize: t.batch_size,
              tombstoneRetentionMs: settings.tombstoneRetentionMs,
              log,
              signal: options.signal,
            }),
          );
        }
      }
      return { clock_skew_ms: skew_ms, warnings, tables: results };
    } finally {
      await remote.close();
    }
  } catch (err) {
    await markFailed(local, (err as Error).message).catch(() => undefined);
    throw err;
  }
}

// sync_status of the supabase system --------------------------------------------------------------

export async function markNotConfigured(local: Queryable): Promise<void> {
  await recordSystemNotConfigured(local, 'supabase', notConfiguredNote);
}

async function markStarted(local: Queryable): Promise<void> {
  await local.query({
    text: `UPDATE sync_status SET status = 'running', note = NULL, last_started_at = now(), updated_at = now() WHERE system_name = 'supabase'`,
  });
}

async function markFailed(local: Queryable, message: string): Promise<void> {
  await local.query({
    text: `UPDATE sync_status SET status = 'error', last_error = $1, last_error_at = now(), updated_at = now() WHERE system_name = 'supabase'`,
    values: [message.slice(0, 2000)],
  });
}

/** The run succeeded: its per-table result, and the largest lag among its tables. */
export async function markSucceeded(local: Queryable, tables: TableSyncResult[]): Promise<void> {
  const lag = Math.max(0, ...tables.map((t) => t.lag_seconds));
  await local.query({
    text: `UPDATE sync_status
              SET status = 'ok', note = NULL, last_success_at = now(), last_error = NULL, lag_seconds = $1, last_result = $2::jsonb,
                  updated_at = now()
            WHERE system_name = 'supabase'`,
    values: [lag, JSON.stringify(summarize(tables))],
  });
}

export interface TableSummary {
  table: string;
  pushed: number;
  pulled: number;
  conflicts: number;
  lag_seconds: number;
  skipped?: string;
}

/** Per table: rows pushed, pulled, conflicts and lag, from the results of both directions. */
export function summarize(results: TableSyncResult[]): TableSummary[] {
  const byTable = new Map<string, TableSummary>();
  for (const r of results) {
    const s = byTable.get(r.table) ?? { table: r.table, pushed: 0, pulled: 0, conflicts: 0, lag_seconds: 0 };
    if (r.direction === 'push') s.pushed += r.applied;
    else s.pulled += r.applied;
    s.conflicts += r.conflicts;
    s.lag_seconds = Math.max(s.lag_seconds, r.lag_seconds);
    if (r.skipped) s.skipped = [s.skipped, r.skipped].filter(Boolean).join('; ');
    byTable.set(r.table, s);
  }
  return [...byTable.values()];
}

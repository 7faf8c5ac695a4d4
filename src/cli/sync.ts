import { ConfigError, UsageError } from '../errors.js';
import { listSyncSystems, listSyncTables } from '../read-model/index.js';
import type { TableSyncResult } from '../sync/engine.js';
import { initRemote } from '../sync/init.js';
import { notConfiguredNote, openRemote, requirePrepared } from '../sync/remote.js';
import { markSucceeded, runSync, summarize } from '../sync/run.js';
import { syncedTable, syncedTables } from '../sync/tables.js';
import { compareTable, inSync, type TableComparison } from '../sync/verify.js';
import { type CliContext, withDatabase } from './context.js';
import { dim, fail, pass, printJson, renderTable } from './output.js';

export interface SyncCliOptions {
  json?: boolean;
}

/** The sync's URL, or the operator line that says what to set (exit 78). */
function requireUrl(ctx: CliContext): string {
  const url = ctx.config.sync.supabaseDbUrl;
  if (!url) throw new ConfigError(notConfiguredNote, 'see "Sync with Supabase" in the README');
  return url;
}

function checkTable(table: string | undefined): void {
  if (table !== undefined && !syncedTable(table)) {
    throw new UsageError(`${table} is not a synced table`, `one of: ${syncedTables.map((t) => t.name).join(', ')}`);
  }
}

/** `cesar sync init`: prepare Supabase (tables when missing, sync columns, triggers), idempotently. */
export async function runSyncInit(ctx: CliContext, options: SyncCliOptions): Promise<number> {
  const result = await initRemote(requireUrl(ctx), ctx.log);
  if (options.json) printJson(ctx.out, result);
  else {
    ctx.out(`Prepared Supabase at ${result.where} for sync.`);
    if (result.created.length > 0) ctx.out(`  created tables: ${result.created.join(', ')}`);
    if (result.existing.length > 0) ctx.out(`  tables already there (sync columns and triggers added): ${result.existing.join(', ')}`);
  }
  return 0;
}

/** `cesar sync status`: the sync's state here (no connection to Supabase). */
export async function runSyncStatus(ctx: CliContext, options: SyncCliOptions): Promise<number> {
  return withDatabase(ctx, async (handle) => {
    const db = await handle.kysely();
    const system = (await listSyncSystems(db)).find((s) => s.system === 'supabase');
    const tables = await listSyncTables(db);
    const view = {
      configured: ctx.config.sync.supabaseDbUrl !== undefined,
      system: system ?? null,
      tables,
    };
    if (options.json) {
      printJson(ctx.out, view);
      return 0;
    }
    const out = [`Sync with Supabase: ${system?.status ?? 'no status row'}`];
    if (!view.configured) out.push(dim(`  ${notConfiguredNote}`));
    if (system?.last_success_at) out.push(`  last success: ${system.last_success_at}`);
    if (system?.clock_skew_ms !== null && system?.clock_skew_ms !== undefined) out.push(`  clock skew: ${system.clock_skew_ms} ms`);
    if (system?.last_error) out.push(`  last error: ${system.last_error}`);
    const seconds = (s: number | null): string => (s === null ? '-' : `${Math.round(s)} s`);
    out.push(
      renderTable(
        ['Table', 'Direction', 'Pushed', 'Pulled', 'Conflicts', 'Push lag', 'Pull lag', 'Last synced', 'Last error'],
        view.tables.map((t) => [
          t.table_name,
          t.enabled ? t.direction : `${t.direction} (disabled)`,
          t.rows_pushed,
          t.rows_pulled,
          t.conflicts,
          seconds(t.push_lag_seconds),
          seconds(t.pull_lag_seconds),
          t.last_synced_at ?? 'never',
          t.last_error ?? '-',
        ]),
      ),
    );
    ctx.out(out.join('\n'));
    return 0;
  });
}

/** `cesar sync run [TABLE]`: one run now, pull then push, as the workflow's steps do. */
export async function runSyncRun(ctx: CliContext, table: string | undefined, options: SyncCliOptions): Promise<number> {
  checkTable(table);
  requireUrl(ctx);
  return withDatabase(ctx, async (handle) => {
    const local = handle.pool;
    const result = await runSync({
      local,
      settings: ctx.config.sync,
      directions: ['pull', 'push'],
      tables: table ? [table] : undefined,
      log: ctx.log,
    });
    await markSucceeded(local, result.tables);
    const summary = summarize(result.tables);
    if (options.json) {
      printJson(ctx.out, { clock_skew_ms: result.clock_skew_ms, warnings: result.warnings, tables: summary, runs: result.tables });
      return 0;
    }
    ctx.out(`Synced with Supabase (clock skew ${result.clock_skew_ms} ms).`);
    ctx.out(
      renderTable(
        ['Table', 'Pushed', 'Pulled', 'Conflicts', 'Lag', 'Note'],
        summary.map((s) => [s.table, s.pushed, s.pulled, s.conflicts, `${Math.round(s.lag_seconds)} s`, s.skipped ?? '-']),
      ),
    );
    const conflicts = result.tables.reduce((n, r: TableSyncResult) => n + r.conflicts, 0);
    if (conflicts > 0) ctx.out(dim(`${conflicts} conflicts recorded in sync_conflicts.`));
    return 0;
  });
}

/** `cesar sync verify [TABLE]`: compare both sides by buckets; exit 1 when they differ. Reads only. */
export async function runSyncVerify(ctx: CliContext, table: string | undefined, options: SyncCliOptions): Promise<number> {
  checkTable(table);
  const url = requireUrl(ctx);
  return withDatabase(ctx, async (handle) => {
    const remote = await openRemote(url, ctx.log);
    try {
      await requirePrepared(remote);
      const comparisons: TableComparison[] = [];
      for (const t of syncedTables) {
        if (table === undefined || t.name === table) comparisons.push(await compareTable(handle.pool, remote.pool, t));
      }
      const same = comparisons.every(inSync);
      if (options.json) printJson(ctx.out, { in_sync: same, tables: comparisons });
      else ctx.out(formatComparisons(comparisons, remote.where));
      return same ? 0 : 1;
    } finally {
      await remote.close();
    }
  });
}

function formatComparisons(comparisons: TableComparison[], where: string): string {
  const out = [`Compared with Supabase at ${where}:`];
  out.push(
    renderTable(
      ['Table', 'Rows here', 'Rows there', 'Buckets differing', 'Only here', 'Only there', 'Different', 'Verdict'],
      comparisons.map((c) => [
        c.table,
        c.rows_here,
        c.rows_there,
        `${c.differing_buckets} of ${c.buckets}`,
        c.only_here,
        c.only_there,
        c.different,
        inSync(c) ? pass('same') : fail('DIFFERENT'),
      ]),
    ),
  );
  for (const c of comparisons) {
    for (const kind of ['only_here', 'only_there', 'different'] as const) {
      if (c.ids[kind].length === 0) continue;
      const more = c[kind] > c.ids[kind].length ? ` (first ${c.ids[kind].length} of ${c[kind]})` : '';
      out.push(`${c.table} ${kind.replace('_', ' ')}${more}: ${c.ids[kind].join(' ')}`);
    }
  }
  return out.join('\n');
}

import { listSyncSystems, type SyncSystemView } from '../read-model/index.js';
import { requiredSyncSystems, requiredSyncTables } from '../reference.js';
import { attempt, type Check } from './types.js';

/**
 * DATA_FLOW: the sync configuration (5 tables synced with Supabase, 3 enabled sync systems) and the
 * state of the sync: not configured is said as such; a failed last run fails the check.
 */
export const checkDataFlow: Check = async ({ pool, db }) => {
  const problems: string[] = [];
  const facts: string[] = [];
  const tables = await attempt(
    problems,
    'reading sync_tables',
    async () =>
      (
        await pool.query<{
          table_name: string;
          system_name: string;
          direction: string;
          enabled: boolean;
          has_state: boolean;
        }>(`SELECT t.table_name, t.system_name, t.direction, t.enabled,
             EXISTS (SELECT 1 FROM supabase_sync_state s WHERE s.table_name = t.table_name) AS has_state
        FROM sync_tables t ORDER BY t.table_name`)
      ).rows,
  );
  const systems = await attempt(problems, 'reading sync_systems', () => listSyncSystems(db));

  if (tables) {
    for (const name of requiredSyncTables) {
      const t = tables.find((r) => r.table_name === name);
      if (!t) problems.push(`no sync configuration for table ${name}`);
      else if (!t.enabled) problems.push(`sync of table ${name} is disabled`);
      else if (!t.has_state) problems.push(`table ${name} has no supabase_sync_state row`);
    }
    const ready = tables.filter((t) => t.enabled && t.has_state);
    facts.push(`Sync configurations: ${ready.length} tables configured for sync`);
    for (const t of tables) facts.push(`  - ${t.table_name} → ${t.system_name} (${t.direction}${t.enabled ? '' : ', disabled'})`);
  }
  if (systems) {
    for (const name of requiredSyncSystems) {
      const s = systems.find((r) => r.system === name);
      if (!s) problems.push(`sync system ${name} is missing`);
      else if (!s.enabled) problems.push(`sync system ${name} is disabled`);
      else if (s.status === 'no status row') problems.push(`sync system ${name} has no sync_status row`);
    }
    facts.push(`Sync systems: ${systems.filter((s) => s.enabled).length} enabled`);
    for (const s of systems) facts.push(`  - ${s.system} (${s.kind}${s.enabled ? '' : ', disabled'}): ${describeSystem(s)}`);
    for (const s of systems) {
      const failed = systemWords[s.system]?.failed;
      if (failed && s.status === 'error') problems.push(`${failed}: ${s.last_error ?? 'no error recorded'}`);
    }
  }
  return {
    passed: problems.length === 0,
    summary: `${tables?.length ?? 0} sync tables, ${systems?.length ?? 0} sync systems`,
    problems,
    facts,
  };
};

/** What each sync system's states say: what to set when it is not configured, what runs it when it never ran, what a failure means. */
const systemWords: Record<string, { notConfigured: string; neverRun: string; failed: string }> = {
  supabase: {
    notConfigured: 'SUPABASE_DB_URL is not set',
    neverRun: 'has not run yet (the supabase_sync workflow runs every 15 minutes)',
    failed: 'the sync with Supabase failed',
  },
  financial_api: {
    notConfigured: 'CESAR_MARKET_PROVIDER lacks a setting',
    neverRun: 'has not run yet (the daily_financial_analysis workflow runs at 09:00 UTC; or `cesar market fetch SYMBOL`)',
    failed: 'market data got no data for any symbol',
  },
  email_ingest: {
    notConfigured: 'CESAR_MAILDIR is not set',
    neverRun: 'has not run yet (`cesar ingest email`, or the email_ingest job: `cesar enqueue email_ingest`)',
    failed: 'email ingestion failed',
  },
};

/** What a sync system's state means, in words. */
function describeSystem(s: SyncSystemView): string {
  const words = systemWords[s.system];
  if (!words) return `unknown to this cesar (status ${s.status})`;
  switch (s.status) {
    case 'not_configured':
      return `not configured: ${s.note ?? words.notConfigured}`;
    case 'never_run':
      return words.neverRun;
    case 'ok': {
      const pending = s.pending_seconds === null ? '' : `, oldest change waiting ${Math.round(s.pending_seconds)} s`;
      const skew = s.clock_skew_ms === null ? '' : `, clock skew ${s.clock_skew_ms} ms`;
      return `ok, last success ${s.last_success_at}${pending}${skew}`;
    }
    case 'error':
      return `failed: ${s.last_error ?? 'no error recorded'}`;
    default:
      return s.status;
  }
}

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
    const supabase = systems.find((s) => s.system === 'supabase');
    if (supabase?.status === 'error') problems.push(`the sync with Supabase failed: ${supabase.last_error ?? 'no error recorded'}`);
    const market = systems.find((s) => s.system === 'financial_api');
    if (market?.status === 'error') problems.push(`market data got no data for any symbol: ${market.last_error ?? 'no error recorded'}`);
    const email = systems.find((s) => s.system === 'email_ingest');
    if (email?.status === 'error') problems.push(`email ingestion failed: ${email.last_error ?? 'no error recorded'}`);
  }
  return {
    passed: problems.length === 0,
    summary: `${tables?.length ?? 0} sync tables, ${systems?.length ?? 0} sync systems`,
    problems,
    facts,
  };
};

/** What a sync system's state means, in words: the sync with Supabase, market data and email ingestion. */
function describeSystem(s: SyncSystemView): string {
  if (s.system === 'financial_api') return describeMarketData(s);
  if (s.system === 'email_ingest') return describeEmailIngest(s);
  if (s.system !== 'supabase') return `unknown to this cesar (status ${s.status})`;
  switch (s.status) {
    case 'not_configured':
      return `not configured: ${s.note ?? 'SUPABASE_DB_URL is not set'}`;
    case 'never_run':
      return 'has not run yet (the supabase_sync workflow runs every 15 minutes)';
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

function describeMarketData(s: SyncSystemView): string {
  switch (s.status) {
    case 'never_run':
      return 'has not run yet (the daily_financial_analysis workflow runs at 09:00 UTC; or `cesar market fetch SYMBOL`)';
    case 'ok':
      return `ok, last success ${s.last_success_at}`;
    case 'error':
      return `failed: ${s.last_error ?? 'no error recorded'}`;
    default:
      return s.status;
  }
}

function describeEmailIngest(s: SyncSystemView): string {
  switch (s.status) {
    case 'not_configured':
      return `not configured: ${s.note ?? 'CESAR_MAILDIR is not set'}`;
    case 'never_run':
      return 'has not run yet (`cesar ingest email`, or the email_ingest job: `cesar enqueue email_ingest`)';
    case 'ok':
      return `ok, last success ${s.last_success_at}`;
    case 'error':
      return `failed: ${s.last_error ?? 'no error recorded'}`;
    default:
      return s.status;
  }
}

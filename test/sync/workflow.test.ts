import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { builtInJobTypes } from '../../src/jobs/index.js';
import { defaultSyncSettings, type SyncSettings } from '../../src/sync/settings.js';
import { cesar } from '../helpers/cli.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { runWorkerUntil } from '../helpers/queue.js';

/** Start a supabase_sync execution and let a real worker with these settings carry it out to its end. */
async function runSupabaseSync(url: string, settings: SyncSettings): Promise<{ id: number; status: string; result: unknown }> {
  const started = await cesar(['workflows', 'run', 'supabase_sync'], { DATABASE_URL: url });
  assert.equal(started.exitCode, 0, started.stderr);
  const id = Number(started.stdout.trim());
  const read = async () => (await sql(url, 'SELECT status, result FROM workflow_executions WHERE id = $1', [id]))[0]!;
  await runWorkerUntil(url, builtInJobTypes({ sync: settings }), `execution ${id} to end`, async () =>
    ['succeeded', 'failed'].includes((await read()).status),
  );
  const { status, result } = await read();
  return { id, status, result };
}

async function steps(url: string, id: number) {
  return sql(url, 'SELECT name, status, reason, error FROM workflow_step_runs WHERE execution_id = $1 ORDER BY step_order', [id]);
}

describe('the supabase_sync workflow', () => {
  const dbs: TestDatabase[] = [];
  after(async () => {
    for (const d of dbs) await d.drop();
  });

  it('without SUPABASE_DB_URL its steps are skipped with the line that says what to set; sync_status and verify say not configured', async () => {
    const local = await createTestDatabase();
    dbs.push(local);
    const run = await runSupabaseSync(local.url, defaultSyncSettings);
    assert.equal(run.status, 'succeeded', 'nothing is broken: nothing is configured');
    const done = await steps(local.url, run.id);
    assert.deepEqual(
      done.map((s) => [s.name, s.status]),
      [
        ['pull_remote_changes', 'skipped'],
        ['push_local_changes', 'skipped'],
        ['record_sync_status', 'skipped'],
      ],
    );
    for (const s of done) assert.match(String(s.reason), /^SUPABASE_DB_URL is not set: set it to the Supabase database/);
    const [status] = await sql(local.url, `SELECT status, last_success_at FROM sync_status WHERE system_name = 'supabase'`);
    assert.deepEqual(status, { status: 'not_configured', last_success_at: null });
    const verify = await cesar(['verify', '--json'], { DATABASE_URL: local.url });
    const dataFlow = JSON.parse(verify.stdout).checks.find((c: { name: string }) => c.name === 'DATA_FLOW');
    assert.match(JSON.stringify(dataFlow), /supabase[^"]*not configured/i);
  });

  it('configured: the execution result lists rows pushed, pulled, conflicts and lag per table, and sync_status says ok', async () => {
    const local = await createTestDatabase();
    const remote = await createTestDatabase({ migrated: false });
    dbs.push(local, remote);
    assert.equal((await cesar(['sync', 'init'], { DATABASE_URL: local.url, SUPABASE_DB_URL: remote.url })).exitCode, 0);
    const settings = { ...defaultSyncSettings, supabaseDbUrl: remote.url, safetyLagMs: 0 };
    const run = await runSupabaseSync(local.url, settings);
    assert.equal(run.status, 'succeeded', JSON.stringify(await steps(local.url, run.id)));
    const recorded = (run.result as { record_sync_status: { tables: Array<Record<string, unknown>> } }).record_sync_status;
    // The pull step's own episode (its agent's memory of the step) may be pushed too, when it committed
    // before the push read its bound: what was pushed is what Supabase holds.
    const [episodes] = await sql(remote.url, `SELECT count(*)::int AS n FROM memory_episodic`);
    assert.deepEqual(
      recorded.tables.map((t) => [t.table, t.pushed, t.pulled, t.conflicts]),
      [
        ['agents', 48, 0, 0],
        ['workflow_templates', 5, 0, 0],
        ['memory_episodic', episodes?.n, 0, 0],
        ['memory_semantic', 0, 0, 0],
        ['financial_data', 0, 0, 0],
      ],
    );
    assert.ok(recorded.tables.every((t) => typeof t.lag_seconds === 'number' && t.lag_seconds >= 0));
    const [status] = await sql(
      local.url,
      `SELECT status, last_success_at IS NOT NULL AS succeeded, last_result FROM sync_status WHERE system_name = 'supabase'`,
    );
    assert.equal(status?.status, 'ok');
    assert.equal(status?.succeeded, true);
    assert.deepEqual(status?.last_result, recorded.tables);
    const [agents] = await sql(remote.url, `SELECT count(*)::int AS n FROM agents`);
    assert.equal(agents?.n, 48);
  });

  it('configured but unreachable: the step fails with the host and the reason, password masked, after the queue’s retries', async () => {
    const local = await createTestDatabase();
    dbs.push(local);
    const settings = { ...defaultSyncSettings, supabaseDbUrl: 'postgres://postgres:hunter2secret@127.0.0.1:1/postgres' };
    const run = await runSupabaseSync(local.url, settings);
    assert.equal(run.status, 'failed');
    const [first] = await steps(local.url, run.id);
    assert.equal(first?.status, 'failed');
    assert.match(String(first?.error), /127\.0\.0\.1:1/);
    const [job] = await sql(local.url, `SELECT attempts FROM job_queue WHERE payload->>'execution_id' = $1`, [String(run.id)]);
    assert.equal(job?.attempts, 3);
    const logged = await sql(
      local.url,
      `SELECT (SELECT string_agg(coalesce(error, '') || coalesce(error_stack, ''), ' ') FROM job_attempts) || ' ' ||
              (SELECT string_agg(coalesce(error, ''), ' ') FROM workflow_step_runs) || ' ' ||
              (SELECT string_agg(payload::text, ' ') FROM agent_events) || ' ' ||
              (SELECT coalesce(last_error, '') FROM sync_status WHERE system_name = 'supabase') AS text`,
    );
    assert.doesNotMatch(String(logged[0]?.text), /hunter2secret/);
    const [status] = await sql(local.url, `SELECT status FROM sync_status WHERE system_name = 'supabase'`);
    assert.equal(status?.status, 'error');
  });
});

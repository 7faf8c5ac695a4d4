import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { builtInJobTypes } from '../../src/jobs/index.js';
import { defaultSyncSettings } from '../../src/sync/settings.js';
import { cesar } from '../helpers/cli.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { runWorkerUntil } from '../helpers/queue.js';

interface RunJson {
  clock_skew_ms: number;
  warnings: string[];
  tables: Array<{ table: string; pushed: number; pulled: number; conflicts: number }>;
  runs: Array<{ table: string; direction: string; applied: number; replayed: number }>;
}

async function syncRun(env: Record<string, string>, table?: string): Promise<RunJson> {
  const run = await cesar(['sync', 'run', ...(table ? [table] : []), '--json'], env);
  assert.equal(run.exitCode, 0, run.stderr);
  return JSON.parse(run.stdout) as RunJson;
}

/** A local cesar database and a second real database standing for Supabase, prepared by `sync init`. */
async function pair(): Promise<{ local: TestDatabase; remote: TestDatabase; env: Record<string, string> }> {
  const local = await createTestDatabase();
  const remote = await createTestDatabase({ migrated: false });
  const env = { DATABASE_URL: local.url, SUPABASE_DB_URL: remote.url, CESAR_SYNC_SAFETY_LAG: '0s' };
  const init = await cesar(['sync', 'init'], env);
  assert.equal(init.exitCode, 0, init.stderr);
  return { local, remote, env };
}

describe('sync faults, between two real databases', () => {
  const dbs: TestDatabase[] = [];
  after(async () => {
    for (const d of dbs) await d.drop();
  });

  describe('writers and crashes', () => {
    let local: TestDatabase;
    let remote: TestDatabase;
    let env: Record<string, string>;
    before(async () => {
      ({ local, remote, env } = await pair());
      dbs.push(local, remote);
      await syncRun(env);
    });

    it('a slow writer transaction that commits behind the cursor is still picked up (safety lag 0)', async () => {
      const slow = new pg.Client({ connectionString: local.url });
      await slow.connect();
      try {
        await slow.query('BEGIN');
        // Stamped now, visible only at COMMIT: older than the row the next writer commits first.
        await slow.query(`INSERT INTO memory_episodic (agent_id, content) SELECT id, 'slow writer' FROM agents WHERE name = 'Copywriter'`);
        await sql(
          local.url,
          `INSERT INTO memory_episodic (agent_id, content) SELECT id, 'quick writer' FROM agents WHERE name = 'Copywriter'`,
        );
        const slowStamp = (await slow.query(`SELECT updated_at FROM memory_episodic WHERE content = 'slow writer'`)).rows[0].updated_at;
        const [quick] = await sql(local.url, `SELECT updated_at FROM memory_episodic WHERE content = 'quick writer'`);
        assert.ok(quick?.updated_at > slowStamp, 'the row committed first is the newer version');
        // The run must not pass the open transaction's start: the quick row waits with it.
        const during = await syncRun(env, 'memory_episodic');
        assert.equal(during.tables[0]?.pushed, 0, 'nothing newer than an open writer is passed');
        await slow.query('COMMIT');
      } finally {
        await slow.end();
      }
      const later = await syncRun(env, 'memory_episodic');
      assert.equal(later.tables[0]?.pushed, 2);
      const there = await sql(remote.url, `SELECT content FROM memory_episodic WHERE content LIKE '% writer' ORDER BY content`);
      assert.deepEqual(
        there.map((r) => r.content),
        ['quick writer', 'slow writer'],
      );
    });

    it('a crash between the remote commit and the cursor advance sends the page again, and it changes nothing there', async () => {
      await sql(
        local.url,
        `INSERT INTO memory_semantic (agent_id, topic, content) SELECT id, 'crash-' || g, 'fact ' || g FROM agents, generate_series(1, 3) g WHERE name = 'Copywriter'`,
      );
      // The database refuses to move the push cursor of memory_semantic: the process fails right after Supabase committed.
      await sql(
        local.url,
        `CREATE FUNCTION test_refuse_cursor() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'test: the process died before advancing the cursor'; END $$;
         CREATE TRIGGER test_refuse_cursor BEFORE UPDATE OF push_watermark ON supabase_sync_state
            FOR EACH ROW WHEN (NEW.table_name = 'memory_semantic' AND NEW.push_watermark IS DISTINCT FROM OLD.push_watermark)
            EXECUTE FUNCTION test_refuse_cursor()`,
      );
      const crashed = await cesar(['sync', 'run', 'memory_semantic'], env);
      assert.notEqual(crashed.exitCode, 0);
      assert.match(crashed.stderr, /the process died before advancing the cursor/);
      const [sent] = await sql(remote.url, `SELECT count(*)::int AS n FROM memory_semantic WHERE topic LIKE 'crash-%'`);
      assert.equal(sent?.n, 3, 'Supabase committed the page');
      const [before] = await sql(remote.url, `SELECT max(xmin::text::bigint) AS xmin FROM memory_semantic WHERE topic LIKE 'crash-%'`);

      await sql(local.url, 'DROP TRIGGER test_refuse_cursor ON supabase_sync_state');
      const again = await syncRun(env, 'memory_semantic');
      const push = again.runs.find((r) => r.direction === 'push');
      assert.deepEqual([push?.applied, push?.replayed], [0, 3], 'the page is sent again and recognised as a replay');
      const [after] = await sql(
        remote.url,
        `SELECT count(*)::int AS n, max(xmin::text::bigint) AS xmin FROM memory_semantic WHERE topic LIKE 'crash-%'`,
      );
      assert.equal(after?.n, 3, 'no duplicate');
      assert.equal(after?.xmin, before?.xmin, 'the rows there were not rewritten');
      const conflicts = await sql(local.url, `SELECT 1 FROM sync_conflicts WHERE table_name = 'memory_semantic'`);
      assert.equal(conflicts.length, 0);
      const verify = await cesar(['sync', 'verify', 'memory_semantic'], env);
      assert.equal(verify.exitCode, 0, verify.stdout);
    });
  });

  it('clock skew is measured each run: warned above 1 s, refused above CESAR_SYNC_MAX_CLOCK_SKEW, and the step fails', async () => {
    const { local, remote, env } = await pair();
    dbs.push(local, remote);
    // Supabase's clock runs 2 s ahead: every connection there finds this clock_timestamp() first.
    await sql(
      remote.url,
      `CREATE FUNCTION public.clock_timestamp() RETURNS timestamptz LANGUAGE sql AS $$ SELECT pg_catalog.clock_timestamp() + interval '2 seconds' $$;
       ALTER DATABASE ${remote.name} SET search_path = public, pg_catalog`,
    );
    const warned = await syncRun(env);
    assert.ok(warned.clock_skew_ms > 1_500 && warned.clock_skew_ms < 2_500, String(warned.clock_skew_ms));
    assert.match(warned.warnings.join('\n'), /the clocks of Supabase and this database differ by \d+(\.\d+)? ms/);
    const [status] = await sql(local.url, `SELECT status, clock_skew_ms FROM sync_status WHERE system_name = 'supabase'`);
    assert.equal(status?.status, 'ok');
    assert.ok(Number(status?.clock_skew_ms) > 1_500);

    await sql(local.url, `UPDATE agents SET description = 'changed while the clocks differ' WHERE name = 'Copywriter'`);
    const refused = await cesar(['sync', 'run'], { ...env, CESAR_SYNC_MAX_CLOCK_SKEW: '1s' });
    assert.notEqual(refused.exitCode, 0);
    assert.match(refused.stderr, /differ by \d+(\.\d+)? ms, more than CESAR_SYNC_MAX_CLOCK_SKEW \(1000 ms\)/);
    const [there] = await sql(remote.url, `SELECT description FROM agents WHERE name = 'Copywriter'`);
    assert.notEqual(there?.description, 'changed while the clocks differ', 'nothing was sent');
    const [after] = await sql(local.url, `SELECT status, last_error FROM sync_status WHERE system_name = 'supabase'`);
    assert.equal(after?.status, 'error');
    assert.match(String(after?.last_error), /CESAR_SYNC_MAX_CLOCK_SKEW/);

    // The workflow's first step fails the same way, on every attempt the queue gives it.
    const started = await cesar(['workflows', 'run', 'supabase_sync'], env);
    assert.equal(started.exitCode, 0, started.stderr);
    const id = Number(started.stdout.trim());
    const settings = { ...defaultSyncSettings, supabaseDbUrl: remote.url, safetyLagMs: 0, maxClockSkewMs: 1_000 };
    const ended = async () => (await sql(local.url, 'SELECT status FROM workflow_executions WHERE id = $1', [id]))[0]?.status;
    await runWorkerUntil(local.url, builtInJobTypes({ sync: settings }), 'the execution to fail', async () => (await ended()) === 'failed');
    const [step] = await sql(local.url, `SELECT name, status, error FROM workflow_step_runs WHERE execution_id = $1 AND step_order = 1`, [
      id,
    ]);
    assert.equal(step?.name, 'pull_remote_changes');
    assert.equal(step?.status, 'failed');
    assert.match(String(step?.error), /more than CESAR_SYNC_MAX_CLOCK_SKEW \(1000 ms\)/);
    const [attempts] = await sql(local.url, `SELECT attempts FROM job_queue WHERE payload->>'execution_id' = $1`, [String(id)]);
    assert.equal(attempts?.attempts, 3, 'the queue retried the step');
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { cesar, cesarBin } from '../helpers/cli.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/queue.js';

describe('cesar status', () => {
  let d: TestDatabase;
  before(async () => {
    d = await createTestDatabase();
    await sql(
      d.url,
      `INSERT INTO job_queue (job_type, status) VALUES ('canary', 'pending'), ('canary', 'pending'), ('supabase_sync', 'pending')`,
    );
    await sql(
      d.url,
      `INSERT INTO job_throughput (minute, queue, job_type, outcome, jobs) VALUES (date_trunc('minute', now()), 'default', 'canary', 'completed', 7)`,
    );
    await sql(d.url, 'REFRESH MATERIALIZED VIEW CONCURRENTLY mv_job_queue_backlog');
    await sql(
      d.url,
      `UPDATE monitoring_view_refreshes SET refreshed_at = now() - interval '42 seconds', duration_ms = 12.3, refreshes = 5, refreshed_by = 'w1'
        WHERE view_name = 'mv_job_queue_backlog'`,
    );
    const [t] = await sql(d.url, `SELECT id FROM workflow_templates WHERE name = 'supabase_sync'`);
    await sql(
      d.url,
      `INSERT INTO workflow_executions (template_id, scheduled_for, status, finished_at)
                      VALUES ($1, '2026-01-01T00:15:00Z', 'succeeded', now())`,
      [t!.id],
    );
  });
  after(async () => {
    await d?.drop();
  });

  it('prints the tables of agents, templates, jobs and sync', async () => {
    const r = await cesar(['status'], { DATABASE_URL: d.url });
    assert.equal(r.exitCode, 0, r.stderr);
    for (const heading of ['Agents by type and status', 'Workflow templates', 'Job queue by type and status', 'Sync status per system']) {
      assert.ok(r.stdout.includes(heading), heading);
    }
    assert.match(r.stdout, /│ canary\s+│ pending\s+│ 2\s+│/);
    // Never fired by a scheduler (the execution was made by hand), runnable (its handlers are built), its last execution succeeded.
    assert.match(r.stdout, /│ supabase_sync\s+│ \*\/15 \* \* \* \* UTC\s+│ yes\s+│ yes\s+│ never\s+│ succeeded\s+│/);
    assert.match(r.stdout, /│ email_ingest\s+│ mailbox\s+│ yes\s+│ never_run\s+│ never/);
    assert.match(r.stdout, /schedulers alive: 0: nothing fires/);
    assert.match(r.stdout, /│ canary\s+│ completed \(24 h\)\s+│ 7\s+│/);
    assert.ok(r.stdout.includes('Monitoring views'));
    assert.match(r.stdout, /│ mv_job_queue_backlog\s+│ \S+Z\s+│ \d+ s\s+│ 12 ms\s+│ 5\s+│ w1\s+│ -\s+│/);
    for (const view of ['mv_sync_lag', 'mv_ingestion_errors']) assert.match(r.stdout, new RegExp(`│ ${view}\\s+│ \\S+Z\\s+│ \\d+ s`));
  });

  it('keeps a long sync error to one line of its table cell, and gives it whole in --json', async () => {
    const long = `first line\n${'x'.repeat(300)} the end`;
    await sql(d.url, `UPDATE sync_status SET status = 'error', last_error = $1 WHERE system_name = 'financial_api'`, [long]);
    try {
      const r = await cesar(['status'], { DATABASE_URL: d.url });
      const row = r.stdout.split('\n').find((l) => l.includes('│ financial_api'));
      assert.match(String(row), /│ first line x+…\s+│$/);
      assert.doesNotMatch(r.stdout, /the end/);
      const json = JSON.parse((await cesar(['status', '--json'], { DATABASE_URL: d.url })).stdout);
      assert.equal(json.sync.find((s: { system: string }) => s.system === 'financial_api').last_error, long);
    } finally {
      await sql(d.url, `UPDATE sync_status SET status = 'never_run', last_error = NULL WHERE system_name = 'financial_api'`);
    }
  });

  it('--watch --json prints a fresh document each interval, showing a change without a restart; SIGINT stops it (exit 0)', async () => {
    const child = execa(process.execPath, [cesarBin, 'status', '--watch', '--json', '--interval', '300ms'], {
      reject: false,
      extendEnv: false,
      env: { PATH: process.env.PATH, NO_COLOR: '1', DATABASE_URL: d.url },
    });
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const frames = () =>
      stdout
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as { generated_at: string; jobs: Array<{ job_type: string; status: string; count: number }> });
    const pendingSync = (f: ReturnType<typeof frames>[number]) =>
      f.jobs.find((j) => j.job_type === 'supabase_sync' && j.status === 'pending')?.count ?? 0;
    try {
      await waitFor('a first frame', async () => frames().length >= 1);
      const before = pendingSync(frames()[0]!);
      await sql(d.url, `INSERT INTO job_queue (job_type, status) VALUES ('supabase_sync', 'pending')`);
      await waitFor('a frame with the new job', async () => frames().some((f) => pendingSync(f) === before + 1));
      child.kill('SIGINT');
      const result = await child;
      assert.equal(result.exitCode, 0, String(result.stderr));
      assert.ok(new Set(frames().map((f) => f.generated_at)).size >= 2, 'each frame is read afresh');
    } finally {
      child.kill('SIGKILL');
      await sql(
        d.url,
        `DELETE FROM job_queue WHERE job_type = 'supabase_sync' AND id > (SELECT min(id) FROM job_queue WHERE job_type = 'supabase_sync')`,
      );
    }
  });

  it('refuses a --watch interval under 250ms in one line (exit 64)', async () => {
    const r = await cesar(['status', '--watch', '--interval', '10ms'], { DATABASE_URL: d.url });
    assert.equal(r.exitCode, 64);
    assert.match(r.stderr, /^cesar: --interval must be at least 250ms$/m);
  });

  it('prints one JSON document with --json that matches the database', async () => {
    const r = await cesar(['status', '--json'], { DATABASE_URL: d.url });
    assert.equal(r.exitCode, 0, r.stderr);
    const status = JSON.parse(r.stdout);
    assert.equal(
      status.agents.reduce((n: number, a: { count: number }) => n + a.count, 0),
      48,
    );
    assert.equal(status.templates.length, 5);
    const sync = status.templates.find((t: { name: string }) => t.name === 'supabase_sync');
    assert.equal(sync.last_run_at, '2026-01-01T00:15:00.000Z');
    assert.equal(new Date(sync.next_run_at).getUTCMinutes() % 15, 0);
    assert.ok(new Date(sync.next_run_at) > new Date(status.generated_at));
    assert.deepEqual(status.jobs, [
      { job_type: 'canary', status: 'pending', count: 2 },
      { job_type: 'supabase_sync', status: 'pending', count: 1 },
    ]);
    assert.deepEqual(status.finished_24h, [{ job_type: 'canary', status: 'completed', count: 7 }]);
    assert.deepEqual(
      status.monitoring_views.map((v: { view: string }) => v.view),
      ['mv_ingestion_errors', 'mv_job_queue_backlog', 'mv_sync_lag'],
    );
    const backlog = status.monitoring_views.find((v: { view: string }) => v.view === 'mv_job_queue_backlog');
    assert.ok(backlog.age_seconds >= 42, String(backlog.age_seconds));
    assert.deepEqual(
      {
        duration_ms: backlog.duration_ms,
        refreshes: backlog.refreshes,
        refreshed_by: backlog.refreshed_by,
        last_error: backlog.last_error,
      },
      { duration_ms: 12.3, refreshes: 5, refreshed_by: 'w1', last_error: null },
    );
    assert.match(backlog.refreshed_at, /^\d{4}-\d{2}-\d{2}T.*Z$/);
    assert.deepEqual(
      status.sync.map((s: { system: string }) => s.system),
      ['email_ingest', 'financial_api', 'supabase'],
    );
    assert.equal(status.schedulers_live, 0);
    assert.equal(sync.runnable, true);
    assert.deepEqual(sync.missing_steps, []);
    assert.deepEqual(status.workers, []);
    assert.doesNotMatch(r.stdout, /:[^:*@/]+@127/, 'no password in the printed URL');
  });
});

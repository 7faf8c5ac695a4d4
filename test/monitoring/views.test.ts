import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { refreshMonitoringViews } from '../../src/monitoring/views.js';
import { createTestDatabase, openTestDatabase, sql, type TestDatabase } from '../helpers/db.js';

describe('monitoring views', () => {
  let d: TestDatabase;
  before(async () => {
    d = await createTestDatabase();
  });
  after(async () => {
    await d?.drop();
  });

  it('refresh concurrently in one call and show the live data', async () => {
    await sql(d.url, `INSERT INTO job_queue (job_type) SELECT 'canary' FROM generate_series(1, 3)`);
    await sql(
      d.url,
      `INSERT INTO ingestion_log (source, target_table, status, error, finished_at)
                      VALUES ('financial_api', 'financial_data', 'failed', 'HTTP 503', now())`,
    );
    await sql(
      d.url,
      `UPDATE sync_status SET status = 'ok', last_success_at = now() - interval '90 seconds' WHERE system_name = 'supabase'`,
    );
    const handle = await openTestDatabase(d.url);
    try {
      const results = await refreshMonitoringViews(handle.pool);
      assert.deepEqual(
        results.map((r) => [r.view, r.concurrently]),
        [
          ['mv_sync_lag', true],
          ['mv_job_queue_backlog', true],
          ['mv_ingestion_errors', true],
        ],
      );
    } finally {
      await handle.close();
    }
    const [backlog] = await sql(d.url, `SELECT jobs, runnable FROM mv_job_queue_backlog WHERE job_type = 'canary' AND status = 'pending'`);
    assert.deepEqual({ ...backlog }, { jobs: '3', runnable: '3' });
    const [errors] = await sql(d.url, 'SELECT errors, last_error FROM mv_ingestion_errors WHERE source = $1', ['financial_api']);
    assert.deepEqual({ ...errors }, { errors: '1', last_error: 'HTTP 503' });
    const [lag] = await sql(d.url, `SELECT lag_seconds FROM mv_sync_lag WHERE scope = 'system' AND name = 'supabase'`);
    assert.ok(Number(lag!.lag_seconds) >= 90);
    assert.equal((await sql(d.url, `SELECT count(*) AS n FROM mv_sync_lag WHERE scope = 'table'`))[0]!.n, '5');
  });

  it('record each refresh: when (database time), how long, by whom, how many', async () => {
    await sql(d.url, 'UPDATE monitoring_view_refreshes SET refreshes = 0');
    const handle = await openTestDatabase(d.url);
    try {
      await refreshMonitoringViews(handle.pool, 'views-test');
      await refreshMonitoringViews(handle.pool, 'views-test');
    } finally {
      await handle.close();
    }
    const rows = await sql(
      d.url,
      `SELECT view_name, refreshes, refreshed_by, duration_ms >= 0 AS timed,
              refreshed_at BETWEEN now() - interval '1 minute' AND now() AS recent
         FROM monitoring_view_refreshes ORDER BY view_name`,
    );
    assert.deepEqual(
      rows.map((r) => [r.view_name, Number(r.refreshes), r.refreshed_by, r.timed, r.recent]),
      [
        ['mv_ingestion_errors', 2, 'views-test', true, true],
        ['mv_job_queue_backlog', 2, 'views-test', true, true],
        ['mv_sync_lag', 2, 'views-test', true, true],
      ],
    );
  });

  it('the backlog counts live jobs from job_queue, and completed and cancelled ones of the last 24 hours from job_throughput', async () => {
    await sql(
      d.url,
      `INSERT INTO job_queue (queue, job_type, status, attempts, finished_at, locked_by, lease_expires_at, run_at) VALUES
         ('q', 'kind', 'pending', 0, NULL, NULL, NULL, now() - interval '10 seconds'),
         ('q', 'kind', 'pending', 0, NULL, NULL, NULL, now() + interval '1 hour'),
         ('q', 'kind', 'in_progress', 1, NULL, 'w', now() + interval '1 minute', now()),
         ('q', 'kind', 'failed', 5, now(), NULL, NULL, now()),
         ('q', 'kind', 'completed', 1, now(), NULL, NULL, now()),
         ('q', 'kind', 'cancelled', 0, now(), NULL, NULL, now())`,
    );
    await sql(
      d.url,
      `INSERT INTO job_throughput (minute, queue, job_type, outcome, jobs) VALUES
         (date_trunc('minute', now()), 'q', 'kind', 'completed', 7),
         (date_trunc('minute', now()) - interval '23 hours', 'q', 'kind', 'completed', 5),
         (date_trunc('minute', now()) - interval '25 hours', 'q', 'kind', 'completed', 100),
         (date_trunc('minute', now()), 'q', 'kind', 'cancelled', 2),
         (date_trunc('minute', now()), 'q', 'kind', 'retried', 3),
         (date_trunc('minute', now()), 'q', 'kind', 'failed', 4)`,
    );
    await sql(d.url, 'REFRESH MATERIALIZED VIEW CONCURRENTLY mv_job_queue_backlog');
    const rows = await sql(
      d.url,
      `SELECT status, jobs, runnable, max_wait_seconds >= 10 AS waited FROM mv_job_queue_backlog WHERE job_type = 'kind' ORDER BY status`,
    );
    assert.deepEqual(
      rows.map((r) => [r.status, Number(r.jobs), Number(r.runnable), r.waited]),
      [
        ['cancelled', 2, 0, null],
        ['completed', 12, 0, null],
        ['failed', 1, 0, null],
        ['in_progress', 1, 0, null],
        ['pending', 2, 1, true],
      ],
    );
  });

  it('the backlog never reads the finished history: no branch of its plan scans job_queue', async () => {
    await sql(
      d.url,
      `INSERT INTO job_queue (job_type, status, attempts, finished_at, last_error)
       SELECT 'canary', CASE WHEN i % 100 = 0 THEN 'failed' ELSE 'completed' END, 1, now(), 'x'
         FROM generate_series(1, 200000) AS i`,
    );
    await sql(d.url, `INSERT INTO job_queue (job_type) SELECT 'canary' FROM generate_series(1, 2000)`);
    await sql(d.url, 'ANALYZE job_queue');
    const [view] = await sql(d.url, `SELECT pg_get_viewdef('mv_job_queue_backlog') AS def`);
    const plan = (await sql(d.url, `EXPLAIN ${view!.def}`)).map((r) => r['QUERY PLAN']).join('\n');
    assert.doesNotMatch(plan, /Seq Scan on job_queue/, plan);
    for (const index of ['job_queue_claim_idx', 'job_queue_lease_idx', 'job_queue_failed_idx']) assert.match(plan, new RegExp(index), plan);
  });

  it('the claim query uses the partial claim index', async () => {
    await sql(
      d.url,
      `INSERT INTO job_queue (job_type, status, finished_at)
                      SELECT 'canary', 'completed', now() FROM generate_series(1, 20000)`,
    );
    await sql(d.url, 'ANALYZE job_queue');
    const plan = await sql(
      d.url,
      `EXPLAIN SELECT id FROM job_queue
                                     WHERE status = 'pending' AND queue = 'default' AND run_at <= now()
                                     ORDER BY priority, run_at, id LIMIT 10 FOR UPDATE SKIP LOCKED`,
    );
    const text = plan.map((r) => r['QUERY PLAN']).join('\n');
    assert.match(text, /job_queue_claim_idx/);
  });
});

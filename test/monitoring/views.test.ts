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

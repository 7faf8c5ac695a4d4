import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { refreshDue, refreshViewsTask } from '../../src/maintenance/refresh-views.js';
import { ThroughputCounter } from '../../src/monitoring/throughput.js';
import { enqueueMany } from '../../src/queue/enqueue.js';
import { sql, useTestDatabase } from '../helpers/db.js';
import { memoryLogger, registryOf, startWorker, waitFor } from '../helpers/queue.js';

/** The backlog view's refresh count, and the canary rows it shows by status. */
async function backlog(url: string): Promise<{ refreshes: number; by: string | null; rows: Record<string, number> }> {
  const [record] = await sql(url, `SELECT refreshes, refreshed_by FROM monitoring_view_refreshes WHERE view_name = 'mv_job_queue_backlog'`);
  const rows = await sql(url, `SELECT status, jobs FROM mv_job_queue_backlog WHERE job_type = 'canary'`);
  return {
    refreshes: Number(record!.refreshes),
    by: record!.refreshed_by,
    rows: Object.fromEntries(rows.map((r) => [r.status, Number(r.jobs)])),
  };
}

describe('refreshDue', () => {
  const intervals = { minIntervalMs: 2000, maxIntervalMs: 60_000 };
  it('refreshes a changed view at most every minIntervalMs, and any view every maxIntervalMs', () => {
    const due = (changed: boolean, sinceMs: number | undefined, failed = false) => refreshDue({ changed, sinceMs, failed }, intervals);
    assert.equal(due(false, undefined), true, 'never refreshed here: at once');
    assert.equal(due(true, 1999), false, 'changed, but refreshed under minIntervalMs ago: debounced');
    assert.equal(due(true, 2000), true);
    assert.equal(due(false, 59_999), false, 'unchanged');
    assert.equal(due(false, 60_000), true, 'unchanged, but maxIntervalMs is up');
    assert.equal(due(true, 5000, true), false, 'a failed view waits for maxIntervalMs, changes or not');
    assert.equal(due(true, 60_000, true), true);
  });
});

describe('refresh_views', () => {
  const t = useTestDatabase();

  it('follows a burst of completed jobs: the backlog view and its refresh record catch up, by changes alone', async () => {
    const before = await backlog(t.url);
    const counter = new ThroughputCounter({ pool: t.handle.pool, log: memoryLogger() });
    counter.start();
    let id = '';
    // Default intervals: 2 s debounce, 60 s at the most; the wait below ends well before 60 s, so
    // only a refresh triggered by the changes can satisfy it.
    const task = refreshViewsTask({ pool: t.handle.pool, log: memoryLogger(), refreshedBy: () => id });
    const w = await startWorker(t.url, registryOf(), { observers: [counter], maintenance: [task] });
    id = w.worker.id;
    try {
      await enqueueMany(
        t.handle.pool,
        Array.from({ length: 40 }, () => ({ type: 'canary', payload: { sleep_ms: 5 } })),
      );
      const caughtUp = await waitFor(
        'the backlog view to show the 40 completed jobs and no pending one',
        async () => {
          const b = await backlog(t.url);
          return b.rows.completed === 40 && b.rows.pending === undefined && b.rows.in_progress === undefined && b;
        },
        30_000,
      );
      assert.ok(caughtUp.refreshes > before.refreshes);
      assert.equal(caughtUp.by, w.worker.id);
    } finally {
      await w.stop();
      await counter.stop();
    }
  });

  it('debounces: many result batches make few refreshes, at most one per minIntervalMs', async () => {
    const minIntervalMs = 1000;
    const counter = new ThroughputCounter({ pool: t.handle.pool, log: memoryLogger(), flushEveryMs: 100 });
    counter.start();
    const task = refreshViewsTask({
      pool: t.handle.pool,
      log: memoryLogger(),
      refreshedBy: () => 'debounce-test',
      minIntervalMs,
      maxIntervalMs: 3_600_000,
      pollMs: 20,
    });
    const first = await backlog(t.url);
    const started = performance.now();
    const w = await startWorker(t.url, registryOf(), { observers: [counter], maintenance: [task], concurrency: 2 });
    let batches = 0;
    let refreshes = 0;
    try {
      await enqueueMany(
        t.handle.pool,
        Array.from({ length: 150 }, () => ({ type: 'canary', payload: { sleep_ms: 10 } })),
      );
      const expected = (first.rows.completed ?? 0) + 150;
      await waitFor(`the view to show ${expected} completed jobs`, async () => (await backlog(t.url)).rows.completed === expected, 30_000);
      batches = w.worker.stats.writeQueries;
    } finally {
      await w.stop();
      await counter.stop();
    }
    refreshes = (await backlog(t.url)).refreshes - first.refreshes;
    const elapsedMs = performance.now() - started;
    // Tries of one view start at least minIntervalMs apart (maxIntervalMs never came): within the
    // elapsed time there is room for at most this many.
    const bound = 1 + Math.floor(elapsedMs / minIntervalMs);
    assert.ok(refreshes >= 1, 'refreshed');
    assert.ok(refreshes <= bound, `${refreshes} refreshes, bound ${bound}`);
    assert.ok(batches > refreshes, `${batches} result batches, ${refreshes} refreshes`);
  });

  it('records a failed refresh, warns once, and goes on with the other views', async () => {
    await sql(t.url, `UPDATE monitoring_view_refreshes SET refreshes = 0`);
    await sql(t.url, 'DROP MATERIALIZED VIEW mv_ingestion_errors');
    const log = memoryLogger();
    const task = refreshViewsTask({ pool: t.handle.pool, log, refreshedBy: () => 'test' });
    await task.run(new AbortController().signal);
    await task.run(new AbortController().signal);
    const rows = await sql(t.url, 'SELECT view_name, refreshes, last_error FROM monitoring_view_refreshes ORDER BY view_name');
    assert.deepEqual(
      rows.map((r) => [r.view_name, Number(r.refreshes), r.last_error]),
      [
        ['mv_ingestion_errors', 0, 'relation "mv_ingestion_errors" does not exist'],
        ['mv_job_queue_backlog', 1, null],
        ['mv_sync_lag', 1, null],
      ],
    );
    const warnings = log.lines.filter((l) => /refreshing monitoring view mv_ingestion_errors failed \(tried again in 60 s\)/.test(l));
    assert.equal(warnings.length, 1, log.lines.join('\n'));
  });
});

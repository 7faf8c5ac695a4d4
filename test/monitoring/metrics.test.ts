import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics } from '../../src/monitoring/metrics.js';
import { sql, useTestDatabase } from '../helpers/db.js';
import { napMs, napperAttempts, napTimeoutMs, runNappers } from './napper-jobs.js';

/** The cumulative count of one bucket of cesar_job_attempt_duration_seconds. */
function attemptBucket(text: string, type: string, le: string): number {
  const line = new RegExp(`^cesar_job_attempt_duration_seconds_bucket\\{type="${type}",le="${le.replace('+', '\\+')}"\\} (\\d+)$`, 'm');
  return Number(line.exec(text)?.[1]);
}

describe('/metrics', () => {
  const t = useTestDatabase();

  it("reports live job counts, and attempt counts and a monotonic duration histogram per type from the workers' counters", async () => {
    await sql(
      t.url,
      `INSERT INTO job_queue (id, job_type, status, attempts, claims, finished_at, locked_by, lease_expires_at) OVERRIDING SYSTEM VALUE VALUES
         (501, 'canary', 'completed', 1, 1, now(), NULL, NULL),
         (502, 'canary', 'failed', 2, 2, now(), NULL, NULL),
         (503, 'canary', 'in_progress', 1, 1, NULL, 'w', now() + interval '1 minute')`,
    );
    // History that /metrics does not read: attempts no worker counted.
    await sql(
      t.url,
      `INSERT INTO job_attempts (job_id, attempt, worker_id, outcome, started_at, finished_at) VALUES
         (501, 1, 'w', 'succeeded', now() - interval '2 milliseconds', now()),
         (502, 1, 'w', 'timed_out', now() - interval '200 milliseconds', now()),
         (502, 2, 'w', 'timed_out', now() - interval '20 seconds', now()),
         (503, 1, 'w', 'running', now(), NULL)`,
    );
    // The workers' counters: three canary attempts (0.002 s, 0.2 s and 20 s), in two minutes; one row per bucket.
    await sql(
      t.url,
      `INSERT INTO job_attempt_durations (minute, job_type, outcome, le, attempts, total_seconds) VALUES
         (date_trunc('minute', now()), 'canary', 'succeeded', 0.005, 1, 0.002),
         (date_trunc('minute', now()), 'canary', 'failed', 0.5, 1, 0.2),
         (date_trunc('minute', now()) - interval '1 day', 'canary', 'failed', 30, 1, 20)`,
    );
    const text = await createMetrics(await t.handle.kysely(), t.handle.pool).render();
    // Live states only: finished jobs are counted by the workers, not read from the history.
    assert.match(text, /^cesar_jobs\{type="canary",status="failed"\} 1$/m);
    assert.match(text, /^cesar_jobs\{type="canary",status="in_progress"\} 1$/m);
    assert.doesNotMatch(text, /^cesar_jobs\{type="canary",status="completed"\}/m);
    assert.match(text, /^cesar_job_attempts\{type="canary",outcome="succeeded"\} 1$/m);
    assert.match(text, /^cesar_job_attempts\{type="canary",outcome="failed"\} 2$/m);
    assert.doesNotMatch(text, /^cesar_job_attempts\{type="canary",outcome="(timed_out|running)"\}/m);
    assert.deepEqual(
      ['0.005', '0.1', '0.5', '10', '30', '+Inf'].map((le) => attemptBucket(text, 'canary', le)),
      [1, 1, 2, 2, 3, 3],
    );
    assert.match(text, /^cesar_job_attempt_duration_seconds_count\{type="canary"\} 3$/m);
    const sum = Number(/^cesar_job_attempt_duration_seconds_sum\{type="canary"\} ([\d.]+)$/m.exec(text)?.[1]);
    assert.ok(Math.abs(sum - 20.202) < 1e-9, String(sum));
  });

  it('sums the live event publishers: sent, dropped, and those whose Redis is away (rows older than 5 minutes left out)', async () => {
    await sql(
      t.url,
      `INSERT INTO event_publishers (holder, transport, published, dropped, connected, updated_at) VALUES
         ('worker:a:1', 'redis', 100, 3, true, now()),
         ('worker:b:2', 'redis', 50, 7, false, now()),
         ('worker:c:3', 'redis', 1000, 1000, false, now() - interval '10 minutes')`,
    );
    const text = await createMetrics(await t.handle.kysely(), t.handle.pool).render();
    assert.match(text, /^cesar_events_published 150$/m);
    assert.match(text, /^cesar_events_dropped 10$/m);
    assert.match(text, /^cesar_event_publishers_disconnected 1$/m);
  });

  it('reports the attempts a real worker made, by outcome, and their durations', async () => {
    await runNappers(t);
    const truth = await napperAttempts(t.url);
    assert.deepEqual(truth, { succeeded: 4, failed: 4, timed_out: 4 });
    const text = await createMetrics(await t.handle.kysely(), t.handle.pool).render();
    for (const [outcome, n] of Object.entries(truth)) {
      assert.match(text, new RegExp(`^cesar_job_attempts\\{type="napper",outcome="${outcome}"\\} ${n}$`, 'm'));
    }
    assert.match(text, /^cesar_job_attempt_duration_seconds_count\{type="napper"\} 12$/m);
    const buckets = [...text.matchAll(/^cesar_job_attempt_duration_seconds_bucket\{type="napper",le="[^"]+"\} (\d+)$/gm)].map((m) =>
      Number(m[1]),
    );
    assert.equal(buckets.length, 12);
    assert.deepEqual(
      buckets,
      [...buckets].sort((a, b) => a - b),
      'cumulative buckets never decrease',
    );
    assert.equal(buckets.at(-1), 12);
    // Every attempt lasted at least its sleep (or its timeout, less any early timer).
    assert.equal(attemptBucket(text, 'napper', '0.1'), 0);
    const sum = Number(/^cesar_job_attempt_duration_seconds_sum\{type="napper"\} ([\d.]+)$/m.exec(text)?.[1]);
    assert.ok(sum >= (8 * napMs + 4 * (napTimeoutMs - 100)) / 1000, String(sum));
  });

  it("reports each monitoring view's age and last refresh duration, and the jobs finished in the last 24 hours", async () => {
    await sql(
      t.url,
      `UPDATE monitoring_view_refreshes SET refreshed_at = now() - interval '90 seconds', duration_ms = 250 WHERE view_name = 'mv_sync_lag'`,
    );
    await sql(
      t.url,
      `INSERT INTO job_throughput (minute, queue, job_type, outcome, jobs) VALUES
         (date_trunc('minute', now()), 'default', 'canary', 'completed', 41),
         (date_trunc('minute', now()), 'default', 'canary', 'cancelled', 2)`,
    );
    await sql(t.url, 'REFRESH MATERIALIZED VIEW CONCURRENTLY mv_job_queue_backlog');
    const text = await createMetrics(await t.handle.kysely(), t.handle.pool).render();
    const age = Number(/^cesar_monitoring_view_age_seconds\{view="mv_sync_lag"\} ([\d.]+)$/m.exec(text)?.[1]);
    assert.ok(age >= 90, String(age));
    assert.match(text, /^cesar_monitoring_view_refresh_duration_seconds\{view="mv_sync_lag"\} 0\.25$/m);
    for (const view of ['mv_job_queue_backlog', 'mv_ingestion_errors']) {
      assert.match(text, new RegExp(`^cesar_monitoring_view_age_seconds\\{view="${view}"\\} [\\d.e-]+$`, 'm'));
    }
    assert.match(text, /^cesar_jobs_finished_24h\{type="canary",status="completed"\} 41$/m);
    assert.match(text, /^cesar_jobs_finished_24h\{type="canary",status="cancelled"\} 2$/m);
  });

  it('reports workflow executions and step durations of the last 7 days (older history left out), tick lag, live schedulers and late schedules', async () => {
    // supabase_sync is late (active for an hour, never fired); the other templates are paused, so that a
    // tick of theirs falling due during the run (at midnight, say) does not count.
    await sql(t.url, `UPDATE workflow_templates SET is_active = (name = 'supabase_sync')`);
    await sql(t.url, `UPDATE workflow_templates SET active_since = now() - interval '1 hour' WHERE name = 'supabase_sync'`);
    const templateId = (await sql(t.url, `SELECT id FROM workflow_templates WHERE name = 'knowledge_graph_update'`))[0]!.id;
    const executionId = (
      await sql(
        t.url,
        `INSERT INTO workflow_executions (template_id, scheduled_for, status, started_at, finished_at)
         VALUES ($1, '2026-01-01T00:30:00Z', 'succeeded', now(), now()) RETURNING id`,
        [templateId],
      )
    )[0]!.id;
    await sql(
      t.url,
      `INSERT INTO workflow_step_runs (execution_id, step_order, name, handler, status, duration_ms, finished_at)
       VALUES ($1, 1, 'extract_entities', 'extract_entities', 'succeeded', 40, now())`,
      [executionId],
    );
    await sql(
      t.url,
      `INSERT INTO workflow_ticks (template_id, tick_at, fate, execution_id, source, recorded_by, recorded_at)
       VALUES ($1, now() - interval '10 seconds', 'fired', $2, 'scheduler', 's', now() - interval '9.7 seconds')`,
      [templateId, executionId],
    );
    await sql(t.url, `INSERT INTO schedulers (id, hostname, pid, version) VALUES ('s', 'h', 1, 'test')`);
    // History older than the 7-day window: kept in the tables, left out of the metrics.
    const old = (
      await sql(
        t.url,
        `INSERT INTO workflow_executions (template_id, scheduled_for, status, started_at, finished_at, created_at)
         VALUES ($1, '2025-01-01T00:30:00Z', 'succeeded', now() - interval '8 days', now() - interval '8 days', now() - interval '8 days')
         RETURNING id`,
        [templateId],
      )
    )[0]!.id;
    await sql(
      t.url,
      `INSERT INTO workflow_step_runs (execution_id, step_order, name, handler, status, duration_ms, finished_at)
       VALUES ($1, 1, 'extract_entities', 'extract_entities', 'succeeded', 5, now() - interval '8 days')`,
      [old],
    );
    const text = await createMetrics(await t.handle.kysely(), t.handle.pool).render();
    assert.match(text, /^cesar_workflow_runs\{template="knowledge_graph_update",status="succeeded"\} 1$/m);
    assert.match(text, /^cesar_workflow_step_duration_seconds_count\{template="knowledge_graph_update",step="extract_entities"\} 1$/m);
    assert.match(
      text,
      /^cesar_workflow_step_duration_seconds_bucket\{template="knowledge_graph_update",step="extract_entities",le="0.05"\} 1$/m,
    );
    assert.match(
      text,
      /^cesar_workflow_step_duration_seconds_bucket\{template="knowledge_graph_update",step="extract_entities",le="0.01"\} 0$/m,
    );
    assert.match(text, /^cesar_workflow_tick_lag_seconds_bucket\{template="knowledge_graph_update",le="0.25"\} 0$/m);
    assert.match(text, /^cesar_workflow_tick_lag_seconds_bucket\{template="knowledge_graph_update",le="0.5"\} 1$/m);
    assert.match(text, /^cesar_schedulers_live 1$/m);
    // supabase_sync runs every 15 minutes and has been active for an hour with no tick on record: late.
    assert.match(text, /^cesar_workflow_schedules_late 1$/m);
    assert.match(text, /^cesar_workflow_schedule_late_seconds\{template="supabase_sync"\} \d+$/m);
  });
});

import type pg from 'pg';
import client from 'prom-client';

/** Upper bounds (seconds) of the job attempt duration histogram. */
const durationBuckets = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300];

/**
 * Prometheus metrics, read from the database at each scrape, so that any API process reports the
 * whole system (every worker on every machine). Counts cover the retained history
 * (CESAR_JOB_RETENTION): they fall when old jobs are pruned, so use rate() over shorter windows.
 */
export function createMetrics(pool: pg.Pool): { contentType: string; render(): Promise<string> } {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'cesar_api_' });
  const jobs = new client.Gauge({
    name: 'cesar_jobs',
    help: 'Jobs by type and state',
    labelNames: ['type', 'status'],
    registers: [registry],
  });
  const attempts = new client.Gauge({
    name: 'cesar_job_attempts',
    help: 'Job attempts by type and outcome (retained history)',
    labelNames: ['type', 'outcome'],
    registers: [registry],
  });
  const workflowRuns = new client.Gauge({
    name: 'cesar_workflow_runs',
    help: 'Workflow executions by template and status',
    labelNames: ['template', 'status'],
    registers: [registry],
  });
  const syncLag = new client.Gauge({
    name: 'cesar_sync_lag_seconds',
    help: 'Seconds since the last successful sync per system (absent: never synced)',
    labelNames: ['system'],
    registers: [registry],
  });
  const workers = new client.Gauge({
    name: 'cesar_workers_live',
    help: 'Workers with a heartbeat in the last 2 minutes',
    registers: [registry],
  });

  return {
    contentType: registry.contentType,
    async render() {
      const [j, a, w, s, live, durations] = await Promise.all([
        pool.query<{ job_type: string; status: string; n: number }>('SELECT job_type, status, count(*) AS n FROM job_queue GROUP BY 1, 2'),
        pool.query<{ job_type: string; outcome: string; n: number }>(
          'SELECT q.job_type, a.outcome, count(*) AS n FROM job_attempts a JOIN job_queue q ON q.id = a.job_id GROUP BY 1, 2',
        ),
        pool.query<{ name: string; status: string; n: number }>(
          'SELECT t.name, e.status, count(*) AS n FROM workflow_executions e JOIN workflow_templates t ON t.id = e.template_id GROUP BY 1, 2',
        ),
        pool.query<{ system_name: string; lag: number | null }>(
          'SELECT system_name, EXTRACT(EPOCH FROM now() - last_success_at)::float8 AS lag FROM sync_status',
        ),
        pool.query<{ n: number }>(
          `SELECT count(*) AS n FROM workers WHERE stopped_at IS NULL AND last_heartbeat_at > now() - interval '2 minutes'`,
        ),
        pool.query<{ job_type: string; le: number | null; n: number; total: number }>(
          `SELECT q.job_type, b.le, count(*) FILTER (WHERE EXTRACT(EPOCH FROM a.finished_at - a.started_at) <= b.le) AS n,
                  sum(EXTRACT(EPOCH FROM a.finished_at - a.started_at))::float8 AS total
             FROM job_attempts a
             JOIN job_queue q ON q.id = a.job_id
            CROSS JOIN unnest($1::float8[]) AS b(le)
            WHERE a.finished_at IS NOT NULL
            GROUP BY 1, 2`,
          [durationBuckets],
        ),
      ]);
      jobs.reset();
      for (const r of j.rows) jobs.set({ type: r.job_type, status: r.status }, r.n);
      attempts.reset();
      for (const r of a.rows) attempts.set({ type: r.job_type, outcome: r.outcome }, r.n);
      workflowRuns.reset();
      for (const r of w.rows) workflowRuns.set({ template: r.name, status: r.status }, r.n);
      syncLag.reset();
      for (const r of s.rows) if (r.lag !== null) syncLag.set({ system: r.system_name }, r.lag);
      workers.set(live.rows[0]?.n ?? 0);
      return (await registry.metrics()) + histogram(durations.rows, a.rows);
    },
  };
}

/** The attempt-duration histogram in Prometheus text format (bucket counts come from SQL). */
function histogram(
  rows: Array<{ job_type: string; le: number | null; n: number; total: number }>,
  attempts: Array<{ job_type: string; outcome: string; n: number }>,
): string {
  const name = 'cesar_job_attempt_duration_seconds';
  const lines = [`# HELP ${name} Duration of finished job attempts (retained history)`, `# TYPE ${name} histogram`];
  const types = [...new Set(rows.map((r) => r.job_type))].sort();
  for (const type of types) {
    const label = type.replace(/["\\\n]/g, '_');
    const ofType = rows.filter((r) => r.job_type === type).sort((x, y) => (x.le ?? 0) - (y.le ?? 0));
    for (const r of ofType) lines.push(`${name}_bucket{type="${label}",le="${r.le}"} ${r.n}`);
    const count = attempts.filter((x) => x.job_type === type && x.outcome !== 'running').reduce((s, x) => s + x.n, 0);
    lines.push(`${name}_bucket{type="${label}",le="+Inf"} ${count}`);
    lines.push(`${name}_sum{type="${label}"} ${ofType[0]?.total ?? 0}`);
    lines.push(`${name}_count{type="${label}"} ${count}`);
  }
  return `${lines.join('\n')}\n`;
}

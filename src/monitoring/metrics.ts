import type { Kysely } from 'kysely';
import client from 'prom-client';
import type { Database } from '../db/types.js';
import { attemptCounts, attemptDurationBuckets, jobCounts, listSyncSystems, workerCounts, workflowRunCounts } from '../read-model/index.js';

/** Upper bounds (seconds) of the job attempt duration histogram. */
const durationBuckets = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300];

/**
 * Prometheus metrics, read from the database at each scrape, so that any API process reports the
 * whole system (every worker on every machine). Counts cover the retained history
 * (CESAR_JOB_RETENTION): they fall when old jobs are pruned, so use rate() over shorter windows.
 */
export function createMetrics(db: Kysely<Database>): { contentType: string; render(): Promise<string> } {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'cesar_api_' });
  const jobsGauge = new client.Gauge({
    name: 'cesar_jobs',
    help: 'Jobs by type and state',
    labelNames: ['type', 'status'],
    registers: [registry],
  });
  const attemptsGauge = new client.Gauge({
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
  const workersLive = new client.Gauge({
    name: 'cesar_workers_live',
    help: 'Live workers (heartbeat within the live window, 2 minutes)',
    registers: [registry],
  });

  return {
    contentType: registry.contentType,
    async render() {
      const [jobs, attempts, runs, sync, workers, durations] = await Promise.all([
        jobCounts(db),
        attemptCounts(db),
        workflowRunCounts(db),
        listSyncSystems(db),
        workerCounts(db),
        attemptDurationBuckets(db, durationBuckets),
      ]);
      jobsGauge.reset();
      for (const r of jobs) jobsGauge.set({ type: r.job_type, status: r.status }, r.count);
      attemptsGauge.reset();
      for (const r of attempts) attemptsGauge.set({ type: r.job_type, outcome: r.outcome }, r.count);
      workflowRuns.reset();
      for (const r of runs) workflowRuns.set({ template: r.template, status: r.status }, r.count);
      syncLag.reset();
      for (const r of sync) if (r.lag_seconds !== null) syncLag.set({ system: r.system }, r.lag_seconds);
      workersLive.set(workers.live);
      return (await registry.metrics()) + histogram(durations, attempts);
    },
  };
}

/** The attempt-duration histogram in Prometheus text format (bucket counts come from SQL). */
function histogram(
  rows: Array<{ job_type: string; le: number; count: number; total_seconds: number }>,
  attempts: Array<{ job_type: string; outcome: string; count: number }>,
): string {
  const name = 'cesar_job_attempt_duration_seconds';
  const lines = [`# HELP ${name} Duration of finished job attempts (retained history)`, `# TYPE ${name} histogram`];
  const types = [...new Set(rows.map((r) => r.job_type))].sort();
  for (const type of types) {
    const label = type.replace(/["\\\n]/g, '_');
    const ofType = rows.filter((r) => r.job_type === type).sort((x, y) => x.le - y.le);
    for (const r of ofType) lines.push(`${name}_bucket{type="${label}",le="${r.le}"} ${r.count}`);
    const count = attempts.filter((x) => x.job_type === type && x.outcome !== 'running').reduce((s, x) => s + x.count, 0);
    lines.push(`${name}_bucket{type="${label}",le="+Inf"} ${count}`);
    lines.push(`${name}_sum{type="${label}"} ${ofType[0]?.total_seconds ?? 0}`);
    lines.push(`${name}_count{type="${label}"} ${count}`);
  }
  return `${lines.join('\n')}\n`;
}

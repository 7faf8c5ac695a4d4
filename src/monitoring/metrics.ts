import type { Kysely } from 'kysely';
import client from 'prom-client';
import type { Database } from '../db/types.js';
import {
  type AttemptDurations,
  attemptCounts,
  attemptDurations,
  jobCounts,
  listSyncSystems,
  workerCounts,
  workflowRunCounts,
} from '../read-model/index.js';

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
        attemptDurations(db, durationBuckets),
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
      return (await registry.metrics()) + histogram(durations);
    },
  };
}

/** The attempt-duration histogram in Prometheus text format (counts from one SQL pass, so the buckets are monotonic). */
function histogram(rows: AttemptDurations[]): string {
  const name = 'cesar_job_attempt_duration_seconds';
  const lines = [`# HELP ${name} Duration of finished job attempts (retained history)`, `# TYPE ${name} histogram`];
  for (const r of rows) {
    const label = r.job_type.replace(/["\\\n]/g, '_');
    durationBuckets.forEach((le, i) => {
      lines.push(`${name}_bucket{type="${label}",le="${le}"} ${r.buckets[i]}`);
    });
    lines.push(`${name}_bucket{type="${label}",le="+Inf"} ${r.count}`);
    lines.push(`${name}_sum{type="${label}"} ${r.total_seconds}`);
    lines.push(`${name}_count{type="${label}"} ${r.count}`);
  }
  return `${lines.join('\n')}\n`;
}

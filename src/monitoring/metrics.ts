import type { Kysely } from 'kysely';
import client from 'prom-client';
import type { Queryable } from '../db/queryable.js';
import type { Database } from '../db/types.js';
import { eventPublisherTotals } from '../events/stats.js';
import {
  type AttemptDurations,
  attemptDurations,
  databaseNow,
  listSyncSystems,
  listTemplates,
  liveSchedulerCount,
  llmAnswerDurations,
  llmCacheCounts,
  stepDurations,
  tickLags,
  type WorkflowHistogram,
  workerCounts,
  workflowRunCounts,
} from '../read-model/index.js';
import { finishedJobCounts, liveJobCounts } from '../read-model/jobs.js';
import { viewRefreshes } from '../read-model/status.js';
import { attemptDurationBuckets } from './throughput.js';

/** Upper bounds (seconds) of the job attempt and workflow step duration histograms: the buckets the workers count attempts in. */
const durationBuckets = attemptDurationBuckets;
/** Upper bounds (seconds) of the tick lag histogram: fire time minus tick time. */
const tickLagBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 30, 60];
/** Upper bounds (seconds) of the Ollama answer time histogram. */
const llmAnswerBuckets = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/**
 * Prometheus metrics, read from the database at each scrape, so that any API process reports the
 * whole system (every worker on every machine). Jobs pending, running and failed are exact counts of
 * now, read through the partial indexes; jobs completed and cancelled are those of the last 24 hours
 * (the backlog view). Attempt counts and durations are the workers' per-minute counters summed over
 * the minutes kept (the last 7 days, job_attempt_durations): they fall as old minutes are pruned, so
 * use rate() over shorter windows.
 */
export function createMetrics(db: Kysely<Database>, pool: Queryable): { contentType: string; render(): Promise<string> } {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'cesar_api_' });
  const jobsGauge = new client.Gauge({
    name: 'cesar_jobs',
    help: 'Jobs pending, in progress and failed (dead, kept), by type and state',
    labelNames: ['type', 'status'],
    registers: [registry],
  });
  const finishedGauge = new client.Gauge({
    name: 'cesar_jobs_finished_24h',
    help: 'Jobs completed and cancelled in the last 24 hours, by type and state (as of the backlog view refresh)',
    labelNames: ['type', 'status'],
    registers: [registry],
  });
  const viewAge = new client.Gauge({
    name: 'cesar_monitoring_view_age_seconds',
    help: 'Seconds since the monitoring view was last refreshed (database clock)',
    labelNames: ['view'],
    registers: [registry],
  });
  const viewRefreshDuration = new client.Gauge({
    name: 'cesar_monitoring_view_refresh_duration_seconds',
    help: 'How long the last refresh of the monitoring view took',
    labelNames: ['view'],
    registers: [registry],
  });
  const attemptsGauge = new client.Gauge({
    name: 'cesar_job_attempts',
    help: 'Job attempts by type and outcome (last 7 days)',
    labelNames: ['type', 'outcome'],
    registers: [registry],
  });
  const workflowRuns = new client.Gauge({
    name: 'cesar_workflow_runs',
    help: 'Workflow executions created in the last 7 days, by template and status',
    labelNames: ['template', 'status'],
    registers: [registry],
  });
  const syncLag = new client.Gauge({
    name: 'cesar_sync_lag_seconds',
    help: 'Seconds since the last successful sync per system (absent: never synced)',
    labelNames: ['system'],
    registers: [registry],
  });
  const schedulersLive = new client.Gauge({
    name: 'cesar_schedulers_live',
    help: 'Live scheduler processes (heartbeat within 30 s); with none, no template fires',
    registers: [registry],
  });
  const lateSchedules = new client.Gauge({
    name: 'cesar_workflow_schedules_late',
    help: 'Active templates whose next tick is overdue by more than 5 s',
    registers: [registry],
  });
  const lateBy = new client.Gauge({
    name: 'cesar_workflow_schedule_late_seconds',
    help: 'How long a late template has been overdue (only late templates)',
    labelNames: ['template'],
    registers: [registry],
  });
  const eventsPublished = new client.Gauge({
    name: 'cesar_events_published',
    help: 'Events the live publishers (workers, schedulers, API, dashboard; rows updated in the last 5 minutes) have sent since they started',
    registers: [registry],
  });
  const eventsDropped = new client.Gauge({
    name: 'cesar_events_dropped',
    help: 'Events the live publishers could not send (Redis down, buffer full) since they started',
    registers: [registry],
  });
  const publishersDisconnected = new client.Gauge({
    name: 'cesar_event_publishers_disconnected',
    help: 'Live publishers whose event transport (Redis) is not connected',
    registers: [registry],
  });
  const llmEntries = new client.Gauge({
    name: 'cesar_llm_cache_entries',
    help: 'LLM cache entries by model and state (fresh, expired, stale: from an older model build)',
    labelNames: ['model', 'state'],
    registers: [registry],
  });
  const llmHits = new client.Gauge({
    name: 'cesar_llm_cache_hits',
    help: 'Requests answered from the LLM cache, counted on the entries it holds (evicted entries take theirs along)',
    labelNames: ['model'],
    registers: [registry],
  });
  const llmMisses = new client.Gauge({
    name: 'cesar_llm_cache_misses',
    help: 'Requests that asked the model and stored the answer, counted on the entries the cache holds',
    labelNames: ['model'],
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
      const now = await databaseNow(db);
      const [jobs, finished, views, attempts, runs, sync, workers, templates, schedulers, steps, lags, events, llm, llmDurations] =
        await Promise.all([
          liveJobCounts(db),
          finishedJobCounts(db),
          viewRefreshes(db),
          // The attempt counts and their histogram from one read, so that they agree.
          attemptDurations(db, durationBuckets),
          workflowRunCounts(db),
          listSyncSystems(db),
          workerCounts(db),
          // Runnability is not a metric: no handler set is needed here.
          listTemplates(db, now, new Set()),
          liveSchedulerCount(db),
          stepDurations(db, durationBuckets),
          tickLags(db, tickLagBuckets),
          eventPublisherTotals(pool),
          llmCacheCounts(db),
          llmAnswerDurations(db, llmAnswerBuckets),
        ]);
      llmEntries.reset();
      llmHits.reset();
      llmMisses.reset();
      for (const m of llm) {
        for (const state of ['fresh', 'expired', 'stale'] as const) llmEntries.set({ model: m.model, state }, m[state]);
        llmHits.set({ model: m.model }, m.hits);
        llmMisses.set({ model: m.model }, m.misses);
      }
      eventsPublished.set(events.published);
      eventsDropped.set(events.dropped);
      publishersDisconnected.set(events.disconnected);
      jobsGauge.reset();
      for (const r of jobs) jobsGauge.set({ type: r.job_type, status: r.status }, r.count);
      finishedGauge.reset();
      for (const r of finished) finishedGauge.set({ type: r.job_type, status: r.status }, r.count);
      viewAge.reset();
      viewRefreshDuration.reset();
      for (const v of views) {
        if (v.age_seconds !== null) viewAge.set({ view: v.view }, v.age_seconds);
        if (v.duration_ms !== null) viewRefreshDuration.set({ view: v.view }, v.duration_ms / 1000);
      }
      attemptsGauge.reset();
      for (const r of attempts) attemptsGauge.set({ type: r.job_type, outcome: r.outcome }, r.count);
      workflowRuns.reset();
      for (const r of runs) workflowRuns.set({ template: r.template, status: r.status }, r.count);
      syncLag.reset();
      for (const r of sync) if (r.lag_seconds !== null) syncLag.set({ system: r.system }, r.lag_seconds);
      workersLive.set(workers.live);
      schedulersLive.set(schedulers);
      const late = templates.filter((t) => t.late_by_seconds !== null);
      lateSchedules.set(late.length);
      lateBy.reset();
      for (const t of late) lateBy.set({ template: t.name }, t.late_by_seconds!);
      return (
        (await registry.metrics()) +
        histogram(
          'cesar_job_attempt_duration_seconds',
          'Duration of finished job attempts (last 7 days)',
          durationBuckets,
          attemptsByType(attempts),
        ) +
        histogram(
          'cesar_workflow_step_duration_seconds',
          'Duration of workflow steps finished in the last 7 days, by template and step',
          durationBuckets,
          steps,
        ) +
        histogram('cesar_workflow_tick_lag_seconds', 'Fire time minus tick time of the ticks fired in the last day', tickLagBuckets, lags) +
        histogram(
          'cesar_llm_answer_duration_seconds',
          'How long Ollama took for the answers the LLM cache holds (asked on a miss or a refresh)',
          llmAnswerBuckets,
          llmDurations,
        )
      );
    },
  };
}

/** The attempt histogram per job type: its outcomes' counts added up. */
function attemptsByType(rows: AttemptDurations[]): WorkflowHistogram[] {
  const byType = new Map<string, WorkflowHistogram>();
  for (const r of rows) {
    const h = byType.get(r.job_type);
    if (!h) {
      byType.set(r.job_type, { labels: { type: r.job_type }, buckets: [...r.buckets], count: r.count, total_seconds: r.total_seconds });
      continue;
    }
    r.buckets.forEach((n, i) => {
      h.buckets[i] = (h.buckets[i] ?? 0) + n;
    });
    h.count += r.count;
    h.total_seconds += r.total_seconds;
  }
  return [...byType.values()];
}

/** A histogram in Prometheus text format (counts from one SQL pass, so the buckets are monotonic). */
function histogram(name: string, help: string, bounds: number[], rows: WorkflowHistogram[]): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
  for (const r of rows) {
    const labels = Object.entries(r.labels)
      .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`)
      .join(',');
    bounds.forEach((le, i) => {
      lines.push(`${name}_bucket{${labels},le="${le}"} ${r.buckets[i]}`);
    });
    lines.push(`${name}_bucket{${labels},le="+Inf"} ${r.count}`);
    lines.push(`${name}_sum{${labels}} ${r.total_seconds}`);
    lines.push(`${name}_count{${labels}} ${r.count}`);
  }
  return `${lines.join('\n')}\n`;
}

import type { ClaimedJob } from '../queue/claimer.js';
import type { JobLifecycleObserver, JobOutcome } from '../queue/observer.js';
import { processEvents } from './process-events.js';

/** Job ids one grouped event names at most (its envelope stays well under NOTIFY's 8,000 bytes). */
export const maxIdsPerEvent = 200;

/**
 * A worker's jobs as events: job.started when claimed, then job.succeeded, job.retried or job.failed.
 *
 * A job claimed or completed alone is one event naming it ({"id", "type", "queue", "attempt"}). Under
 * load the worker claims and completes jobs in batches, and each batch's jobs of one type and queue
 * become ONE job.started or job.succeeded event naming them all ({"ids", "attempts", "count", "type",
 * "queue"}): every job is still reported, but at 30,000 jobs a second the bus carries a few hundred
 * events, not 60,000, so publishing does not take the worker's CPU from its jobs. Retries and
 * failures, which carry their error, are always one event per job.
 */
export function jobEventsObserver(): JobLifecycleObserver {
  return {
    claimed(jobs) {
      publishGrouped('job.started', jobs.map(claimedRef));
    },
    finished(outcomes) {
      const events = processEvents();
      const succeeded: JobRef[] = [];
      for (const o of outcomes) {
        if (o.status === 'completed') succeeded.push(outcomeRef(o));
        else
          events.publish(o.status === 'retried' ? 'job.retried' : 'job.failed', {
            id: o.id,
            type: o.job_type,
            queue: o.queue,
            attempt: o.attempt,
            error: o.error,
          });
      }
      publishGrouped('job.succeeded', succeeded);
    },
  };
}

interface JobRef {
  id: number;
  type: string;
  queue: string;
  attempt: number;
}

const claimedRef = (j: ClaimedJob): JobRef => ({ id: j.id, type: j.job_type, queue: j.queue, attempt: j.attempts });
const outcomeRef = (o: JobOutcome): JobRef => ({ id: o.id, type: o.job_type, queue: o.queue, attempt: o.attempt });

function publishGrouped(type: 'job.started' | 'job.succeeded', jobs: JobRef[]): void {
  if (jobs.length === 0) return;
  const events = processEvents();
  if (jobs.length === 1) {
    events.publish(type, { ...jobs[0]! });
    return;
  }
  const groups = new Map<string, JobRef[]>();
  for (const j of jobs) {
    const key = `${j.queue}\u0000${j.type}`;
    const group = groups.get(key);
    if (group) group.push(j);
    else groups.set(key, [j]);
  }
  for (const group of groups.values()) {
    for (let i = 0; i < group.length; i += maxIdsPerEvent) {
      const part = group.slice(i, i + maxIdsPerEvent);
      if (part.length === 1) {
        events.publish(type, { ...part[0]! });
        continue;
      }
      events.publish(type, {
        ids: part.map((j) => j.id),
        attempts: part.map((j) => j.attempt),
        count: part.length,
        type: part[0]!.type,
        queue: part[0]!.queue,
      });
    }
  }
}

/** A job enqueued by an operator or cron (the CLI, the API, the dashboard): after its statement committed. */
export function publishEnqueued(job: { id: number; type: string; queue: string; runAt: Date; deduplicated: boolean }): void {
  if (job.deduplicated) return;
  processEvents().publish('job.enqueued', { id: job.id, type: job.type, queue: job.queue, run_at: job.runAt.toISOString() });
}

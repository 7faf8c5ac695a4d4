import type { JobLifecycleObserver } from '../queue/observer.js';
import { processEvents } from './process-events.js';

/** A worker's jobs as events: job.started when claimed, then job.succeeded, job.retried or job.failed. */
export function jobEventsObserver(): JobLifecycleObserver {
  return {
    claimed(jobs) {
      const events = processEvents();
      for (const j of jobs) events.publish('job.started', { id: j.id, type: j.job_type, queue: j.queue, attempt: j.attempts });
    },
    finished(outcomes) {
      const events = processEvents();
      for (const o of outcomes) {
        const data = { id: o.id, type: o.job_type, queue: o.queue, attempt: o.attempt };
        if (o.status === 'completed') events.publish('job.succeeded', data);
        else events.publish(o.status === 'retried' ? 'job.retried' : 'job.failed', { ...data, error: o.error });
      }
    },
  };
}

/** A job enqueued by an operator or cron (the CLI, the API, the dashboard): after its statement committed. */
export function publishEnqueued(job: { id: number; type: string; queue: string; runAt: Date; deduplicated: boolean }): void {
  if (job.deduplicated) return;
  processEvents().publish('job.enqueued', { id: job.id, type: job.type, queue: job.queue, run_at: job.runAt.toISOString() });
}

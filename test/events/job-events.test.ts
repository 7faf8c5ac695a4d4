import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { type EventPublisher, type EventType, noEvents } from '../../src/events/envelope.js';
import { jobEventsObserver, maxIdsPerEvent } from '../../src/events/job-events.js';
import { setProcessEvents } from '../../src/events/process-events.js';
import type { ClaimedJob } from '../../src/queue/claimer.js';
import type { JobOutcome } from '../../src/queue/observer.js';

/** The process's publisher, kept in memory: what the observer hands to the bus, in order. */
function recordingPublisher(): EventPublisher & { published: Array<{ type: EventType; data: Record<string, unknown> }> } {
  const published: Array<{ type: EventType; data: Record<string, unknown> }> = [];
  return {
    published,
    publish: (type, data) => published.push({ type, data }),
    flush: async () => {},
    close: async () => {},
    stats: () => ({ transport: 'none', published: published.length, dropped: 0, connected: true }),
  };
}

const claimed = (id: number, type = 'canary', queue = 'default'): ClaimedJob => ({
  id,
  job_type: type,
  queue,
  payload: {},
  attempts: 1,
  max_attempts: 5,
});

const outcome = (id: number, status: JobOutcome['status'], type = 'canary'): JobOutcome => ({
  id,
  queue: 'default',
  job_type: type,
  attempt: 2,
  status,
  attempt_outcome: status === 'completed' ? 'succeeded' : 'failed',
  duration_ms: 1,
  ...(status === 'completed' ? {} : { error: `boom ${id}` }),
});

describe('job events from a worker', () => {
  afterEach(() => setProcessEvents(noEvents));

  it('a job claimed or completed alone is one event naming it', () => {
    const p = recordingPublisher();
    setProcessEvents(p);
    const observer = jobEventsObserver();
    observer.claimed!([claimed(7)]);
    observer.finished!([outcome(7, 'completed')]);
    assert.deepEqual(p.published, [
      { type: 'job.started', data: { id: 7, type: 'canary', queue: 'default', attempt: 1 } },
      { type: 'job.succeeded', data: { id: 7, type: 'canary', queue: 'default', attempt: 2 } },
    ]);
  });

  it('a batch becomes one event per type and queue naming every job, at most maxIdsPerEvent ids each', () => {
    const p = recordingPublisher();
    setProcessEvents(p);
    const many = Array.from({ length: maxIdsPerEvent * 2 + 5 }, (_, i) => claimed(1000 + i));
    jobEventsObserver().claimed!([claimed(1, 'other'), ...many, claimed(2, 'canary', 'slow')]);
    assert.deepEqual(
      p.published.map((e) => [e.type, e.data.type, e.data.queue, e.data.count ?? 1]),
      [
        ['job.started', 'other', 'default', 1],
        ['job.started', 'canary', 'default', maxIdsPerEvent],
        ['job.started', 'canary', 'default', maxIdsPerEvent],
        ['job.started', 'canary', 'default', 5],
        ['job.started', 'canary', 'slow', 1],
      ],
    );
    const named = p.published.flatMap((e) => (e.data.ids as number[] | undefined) ?? [e.data.id as number]);
    assert.deepEqual(
      named.sort((a, b) => a - b),
      [1, 2, ...many.map((j) => j.id)].sort((a, b) => a - b),
    );
    assert.deepEqual(p.published[1]!.data.attempts, Array(maxIdsPerEvent).fill(1));
  });

  it('retries and failures are one event per job with its error; the successes of the batch are grouped', () => {
    const p = recordingPublisher();
    setProcessEvents(p);
    jobEventsObserver().finished!([outcome(1, 'completed'), outcome(2, 'retried'), outcome(3, 'completed'), outcome(4, 'failed')]);
    assert.deepEqual(p.published, [
      { type: 'job.retried', data: { id: 2, type: 'canary', queue: 'default', attempt: 2, error: 'boom 2' } },
      { type: 'job.failed', data: { id: 4, type: 'canary', queue: 'default', attempt: 2, error: 'boom 4' } },
      { type: 'job.succeeded', data: { ids: [1, 3], attempts: [2, 2], count: 2, type: 'canary', queue: 'default' } },
    ]);
  });
});

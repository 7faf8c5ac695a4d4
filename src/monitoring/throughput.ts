import type { Queryable } from '../db/queryable.js';
import { isDatabaseUnreachable, OutageReporter } from '../db/wait.js';
import type { Logger } from '../log.js';
import type { JobLifecycleObserver, JobOutcome } from '../queue/observer.js';

/** Upper bounds (seconds) of the attempt duration buckets the workers count in: /metrics reports these. */
export const attemptDurationBuckets = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300];

/**
 * Add counts to job_throughput and job_attempt_durations, in one statement: both take them or
 * neither does. Arrays, one element per row: the age in ms (by this process's clock) of the middle
 * of the count's minute, queue, type, outcome (completed, retried, failed), the attempt's own
 * outcome (succeeded, failed, timed_out), the upper bound of its duration bucket, the attempts and
 * their total seconds. The minute is placed by the database's now() less that age: a worker clock
 * that is off moves no count to another minute.
 */
export const addThroughputSql = `
WITH counts AS (
    SELECT date_trunc('minute', now() - u.age_ms * interval '1 millisecond') AS minute,
           u.queue, u.job_type, u.outcome, u.attempt_outcome, u.le, u.jobs, u.seconds
      FROM unnest($1::float8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::bigint[], $8::float8[])
           AS u(age_ms, queue, job_type, outcome, attempt_outcome, le, jobs, seconds)
), throughput AS (
    INSERT INTO job_throughput (minute, queue, job_type, outcome, jobs)
    SELECT minute, queue, job_type, outcome, sum(jobs)
      FROM counts
     GROUP BY minute, queue, job_type, outcome
        ON CONFLICT (minute, queue, job_type, outcome) DO UPDATE
       SET jobs = job_throughput.jobs + EXCLUDED.jobs
)
INSERT INTO job_attempt_durations (minute, job_type, outcome, le, attempts, total_seconds)
SELECT minute, job_type, attempt_outcome, le, sum(jobs), sum(seconds)
  FROM counts
 GROUP BY minute, job_type, attempt_outcome, le
    ON CONFLICT (minute, job_type, outcome, le) DO UPDATE
   SET attempts = job_attempt_durations.attempts + EXCLUDED.attempts,
       total_seconds = job_attempt_durations.total_seconds + EXCLUDED.total_seconds`;

interface Count {
  /** Minutes since the epoch, by this process's clock. */
  minute: number;
  queue: string;
  jobType: string;
  outcome: JobOutcome['status'];
  attemptOutcome: JobOutcome['attempt_outcome'];
  /** The upper bound (seconds) of the attempts' duration bucket; Infinity above the last. */
  le: number;
  jobs: number;
  /** The attempts' total duration. */
  seconds: number;
}

export interface ThroughputCounterOptions {
  pool: Queryable;
  log: Logger;
  /** Default 2 s. */
  flushEveryMs?: number;
  /**
   * Rows (minute, queue, type, outcome, attempt outcome, duration bucket) kept through failed
   * flushes; beyond it the oldest minutes are dropped. Default 10,000.
   */
  maxRows?: number;
}

/**
 * The worker's per-minute counts of job outcomes (completed, retried, failed) and of attempts by
 * outcome and duration bucket. On the hot path it only adds to counts in memory; every flushEveryMs
 * one statement adds them to job_throughput and job_attempt_durations, on the pool and outside any
 * job's transaction. A failed flush keeps its counts for the next one.
 */
export class ThroughputCounter implements JobLifecycleObserver {
  private counts = new Map<string, Count>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly outage: OutageReporter;

  constructor(private readonly options: ThroughputCounterOptions) {
    this.outage = new OutageReporter(options.log, 'the job throughput counters', 60_000);
  }

  finished(outcomes: readonly JobOutcome[]): void {
    const minute = Math.floor(Date.now() / 60_000);
    for (const o of outcomes) {
      const seconds = o.duration_ms / 1000;
      this.add({
        minute,
        queue: o.queue,
        jobType: o.job_type,
        outcome: o.status,
        attemptOutcome: o.attempt_outcome,
        le: bucketOf(seconds),
        jobs: 1,
        seconds,
      });
    }
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.options.flushEveryMs ?? 2000);
    this.timer.unref();
  }

  /** Stop the timer and write what is counted (call it after the worker has written its last results). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flushing;
    await this.flush();
    const left = this.jobsCounted();
    if (left > 0) this.options.log.warn(`${left} job outcome(s) were not added to job_throughput (the database did not answer)`);
  }

  /** Write the counts now (one flush at a time: a call during one waits for it). */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private add(c: Count): void {
    const key = `${c.minute}\n${c.queue}\n${c.jobType}\n${c.outcome}\n${c.attemptOutcome}\n${c.le}`;
    const known = this.counts.get(key);
    if (known) {
      known.jobs += c.jobs;
      known.seconds += c.seconds;
    } else this.counts.set(key, { ...c });
  }

  private jobsCounted(): number {
    let jobs = 0;
    for (const c of this.counts.values()) jobs += c.jobs;
    return jobs;
  }

  private async write(): Promise<void> {
    if (this.counts.size === 0) return;
    const batch = [...this.counts.values()];
    this.counts = new Map();
    const now = Date.now();
    try {
      await this.options.pool.query({
        name: 'cesar_throughput',
        text: addThroughputSql,
        values: [
          batch.map((c) => now - (c.minute * 60_000 + 30_000)),
          batch.map((c) => c.queue),
          batch.map((c) => c.jobType),
          batch.map((c) => c.outcome),
          batch.map((c) => c.attemptOutcome),
          batch.map((c) => c.le),
          batch.map((c) => c.jobs),
          batch.map((c) => c.seconds),
        ],
      });
      this.outage.recovered();
    } catch (err) {
      for (const c of batch) this.add(c);
      this.dropOldest();
      if (isDatabaseUnreachable(err)) this.outage.failed(err, `${this.jobsCounted()} job outcome(s) counted, written once it answers`);
      else this.options.log.warn(`adding to job_throughput failed (the counts are kept for the next try): ${(err as Error).message}`);
    }
  }

  /** Keep memory bounded through a long outage: the oldest minutes go first. */
  private dropOldest(): void {
    const max = this.options.maxRows ?? 10_000;
    if (this.counts.size <= max) return;
    const oldestFirst = [...this.counts.entries()].sort((a, b) => a[1].minute - b[1].minute);
    let dropped = 0;
    for (const [key, c] of oldestFirst.slice(0, this.counts.size - max)) {
      dropped += c.jobs;
      this.counts.delete(key);
    }
    this.options.log.warn(
      `dropped ${dropped} job outcome count(s) of the oldest minutes: more than ${max} rows were waiting for the database`,
    );
  }
}

/** The bucket of a duration: the first upper bound at or above it (Infinity above the last). */
function bucketOf(seconds: number): number {
  for (const le of attemptDurationBuckets) if (seconds <= le) return le;
  return Number.POSITIVE_INFINITY;
}

import type { Queryable } from '../db/queryable.js';
import { isDatabaseUnreachable, OutageReporter } from '../db/wait.js';
import type { Logger } from '../log.js';
import type { JobLifecycleObserver, JobOutcome } from '../queue/observer.js';

/**
 * Add counts to job_throughput. Arrays, one element per row: the age in ms (by this process's clock)
 * of the middle of the count's minute, queue, type, outcome, jobs. The minute is placed by the
 * database's now() less that age: a worker clock that is off moves no count to another minute.
 */
export const addThroughputSql = `
INSERT INTO job_throughput (minute, queue, job_type, outcome, jobs)
SELECT date_trunc('minute', now() - c.age_ms * interval '1 millisecond'), c.queue, c.job_type, c.outcome, c.jobs
  FROM unnest($1::float8[], $2::text[], $3::text[], $4::text[], $5::bigint[]) AS c(age_ms, queue, job_type, outcome, jobs)
    ON CONFLICT (minute, queue, job_type, outcome) DO UPDATE
   SET jobs = job_throughput.jobs + EXCLUDED.jobs`;

interface Count {
  /** Minutes since the epoch, by this process's clock. */
  minute: number;
  queue: string;
  jobType: string;
  outcome: JobOutcome['status'];
  jobs: number;
}

export interface ThroughputCounterOptions {
  pool: Queryable;
  log: Logger;
  /** Default 2 s. */
  flushEveryMs?: number;
  /** Rows (minute, queue, type, outcome) kept through failed flushes; beyond it the oldest minutes are dropped. Default 10,000. */
  maxRows?: number;
}

/**
 * The worker's per-minute counts of job outcomes (completed, retried, failed). On the hot path it
 * only adds to counts in memory; every flushEveryMs one statement adds them to job_throughput, on
 * the pool and outside any job's transaction. A failed flush keeps its counts for the next one.
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
      this.add({ minute, queue: o.queue, jobType: o.job_type, outcome: o.status, jobs: 1 });
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
    const key = `${c.minute}\n${c.queue}\n${c.jobType}\n${c.outcome}`;
    const known = this.counts.get(key);
    if (known) known.jobs += c.jobs;
    else this.counts.set(key, { ...c });
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
          batch.map((c) => c.jobs),
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

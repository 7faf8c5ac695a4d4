import type { Queryable } from '../db/queryable.js';
import { isDatabaseUnreachable, type OutageReporter } from '../db/wait.js';
import type { Logger } from '../log.js';
import type { ClaimedJob } from './claimer.js';
import type { JobLifecycleObserver, JobOutcome } from './observer.js';
import { completeSql, failSql, returnSql } from './queries.js';

/** A succeeded attempt waiting to be written. */
export interface Completion {
  job: ClaimedJob;
  /** From the attempt's start to its settling. */
  durationMs: number;
}

/** A failed attempt waiting to be written. */
export interface Failure {
  job: ClaimedJob;
  outcome: 'failed' | 'timed_out';
  error: string;
  stack: string | null;
  /** Retry delay; ignored when the job is out of attempts. */
  delayMs: number;
  /** From the attempt's start to its settling. */
  durationMs: number;
}

/** What the completer counts (a slice of WorkerStats). */
export interface WriteStats {
  /** Result statements run (round trips). */
  writeQueries: number;
  returned: number;
}

export interface CompleterOptions {
  pool: Queryable;
  workerId: string;
  log: Logger;
  /** The worker's outage log (one for its claims, heartbeats and writes, so one outage is one story). */
  outage: OutageReporter;
  stats: WriteStats;
  /** Called when a retry written back falls due, so that it is claimed then rather than at the next poll. */
  wake: () => void;
  /** After a failed write: true when retrying is pointless (stopping, and our leases are gone). */
  giveUp: () => boolean;
  /** Told of each batch of outcomes once it is written. */
  observers?: readonly JobLifecycleObserver[];
}

/**
 * Writes the outcomes of a worker's attempts. Results gather while one write is in flight; the next
 * write takes all of them at once (one statement for completions, one for failures), so under load
 * a round trip records many jobs. Also gives back jobs claimed but not finished, on stop.
 */
export class Completer {
  private completions: Completion[] = [];
  private failures: Failure[] = [];
  private writing: Promise<void> | undefined;
  /** The results of the write in flight (references, not copies: this is the hot path). */
  private inFlight: { completions: Completion[]; failures: Failure[] } = { completions: [], failures: [] };
  constructor(private readonly options: CompleterOptions) {}

  /** Writes retried every second through an outage are logged through the worker's reporter. */
  private get outage(): OutageReporter {
    return this.options.outage;
  }

  complete(job: ClaimedJob, durationMs: number): void {
    this.completions.push({ job, durationMs });
    this.schedule();
  }

  fail(failure: Failure): void {
    this.failures.push(failure);
    this.schedule();
  }

  /** Write every pending result; resolves when all are written. */
  async flush(): Promise<void> {
    while (this.writing || this.pending()) {
      if (this.writing) await this.writing;
      else this.schedule();
    }
  }

  /** Put jobs back to pending without counting the attempt (they were not finished here). */
  async giveBack(jobs: ClaimedJob[]): Promise<void> {
    const { pool, workerId, log, stats } = this.options;
    try {
      const { rows } = await pool.query({ text: returnSql, values: [workerId, jobs.map((j) => j.id)] });
      stats.returned += rows.length;
      if (rows.length > 0) log.info(`Returned ${rows.length} unfinished job(s) to the queue`);
    } catch (err) {
      log.error(`could not return unfinished jobs (their leases will expire and the rescuer will retake them): ${(err as Error).message}`);
    }
  }

  /** Jobs whose result is not written yet: their leases must still be renewed by the heartbeat. */
  unwritten(): number[] {
    const { completions, failures } = this.inFlight;
    return [...this.completions, ...completions, ...this.failures, ...failures].map((r) => r.job.id);
  }

  private pending(): boolean {
    return this.completions.length > 0 || this.failures.length > 0;
  }

  /** Start writing unless a write is in flight: that one's loop takes what gathers meanwhile. */
  private schedule(): void {
    if (this.writing) return;
    const drain = async (): Promise<void> => {
      while (this.pending()) await this.writeBatch();
    };
    // Cleared in .finally, which runs after this assignment even when drain() settles at once.
    this.writing = drain().finally(() => {
      this.writing = undefined;
    });
  }

  private async writeBatch(): Promise<void> {
    let completions = this.completions.splice(0);
    const failures = this.failures.splice(0);
    this.inFlight = { completions, failures };
    try {
      if (completions.length > 0) await this.writeCompletions(completions);
      completions = []; // written: not kept again if the failures' write fails
      this.inFlight = { completions, failures };
      if (failures.length > 0) await this.writeFailures(failures);
      this.outage.recovered();
    } catch (err) {
      // Keep them and try again; if the lease runs out first, the rescuer hands the jobs to another worker.
      const kept = completions.length + failures.length;
      if (isDatabaseUnreachable(err)) this.outage.failed(err, `${kept} job result(s) kept, written once it answers`);
      else this.options.log.error(`recording job results failed, retrying: ${(err as Error).message}`);
      this.inFlight = { completions: [], failures: [] };
      this.completions.unshift(...completions);
      this.failures.unshift(...failures);
      await new Promise((r) => setTimeout(r, 1000));
      if (this.options.giveUp()) {
        this.completions = [];
        this.failures = [];
      }
    } finally {
      this.inFlight = { completions: [], failures: [] };
    }
  }

  private async writeCompletions(completions: Completion[]): Promise<void> {
    this.options.stats.writeQueries += 1;
    const ids = completions.map((c) => c.job.id);
    const { rows } = await this.options.pool.query<{ job_id: number }>({
      name: 'cesar_complete',
      text: completeSql,
      values: [this.options.workerId, ids],
    });
    const { observers } = this.options;
    if (!observers?.length) return;
    // Only the jobs written: one whose lease was lost meanwhile is not this worker's to report.
    const written = rows.length === completions.length ? undefined : new Set(rows.map((r) => Number(r.job_id)));
    const outcomes: JobOutcome[] = [];
    for (const { job, durationMs } of completions) {
      if (written && !written.has(job.id)) continue;
      outcomes.push({
        id: job.id,
        queue: job.queue,
        job_type: job.job_type,
        attempt: job.attempts,
        status: 'completed',
        attempt_outcome: 'succeeded',
        duration_ms: durationMs,
      });
    }
    this.notify(outcomes);
  }

  private notify(outcomes: JobOutcome[]): void {
    if (outcomes.length === 0) return;
    for (const o of this.options.observers ?? []) {
      try {
        o.finished?.(outcomes);
      } catch (err) {
        this.options.log.warn(`a job observer failed (ignored): ${(err as Error).message}`);
      }
    }
  }

  private async writeFailures(failures: Failure[]): Promise<void> {
    this.options.stats.writeQueries += 1;
    const { rows } = await this.options.pool.query<{ id: number; status: string; run_at: Date }>({
      name: 'cesar_fail',
      text: failSql,
      values: [
        this.options.workerId,
        failures.map((f) => f.job.id),
        failures.map((f) => f.outcome),
        failures.map((f) => f.error),
        failures.map((f) => f.stack),
        failures.map((f) => f.delayMs),
      ],
    });
    if (this.options.observers?.length) {
      const byId = new Map(failures.map((f) => [f.job.id, f]));
      const outcomes: JobOutcome[] = [];
      for (const r of rows) {
        const f = byId.get(Number(r.id));
        if (!f) continue;
        const { job } = f;
        const status = r.status === 'pending' ? 'retried' : 'failed';
        outcomes.push({
          id: job.id,
          queue: job.queue,
          job_type: job.job_type,
          attempt: job.attempts,
          status,
          attempt_outcome: f.outcome,
          duration_ms: f.durationMs,
          error: f.error,
        });
      }
      this.notify(outcomes);
    }
    for (const r of rows) {
      if (r.status !== 'pending') continue;
      const timer = setTimeout(this.options.wake, Math.max(0, r.run_at.getTime() - Date.now()) + 5);
      timer.unref();
    }
  }
}

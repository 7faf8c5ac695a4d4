import type { Kysely } from 'kysely';
import type { Queryable } from '../db/queryable.js';
import type { Database } from '../db/types.js';
import type { Logger } from '../log.js';
import { storableText } from '../text.js';
import { type BackoffPolicy, backoffDelayMs } from './backoff.js';
import type { ClaimedJob } from './claimer.js';
import type { Failure } from './completer.js';
import type { JobContext, RunnableJobType } from './job-types.js';

/** Why an attempt was aborted: decides what (if anything) gets written. */
export type AbortReason = 'timeout' | 'shutdown' | 'lease_lost';

/** One attempt in progress. */
export interface RunningJob {
  job: ClaimedJob;
  abortReason?: AbortReason;
  abortError?: Error;
  /** Made when the handler first reads ctx.signal (most never do: an AbortController per job costs). */
  controller?: AbortController;
  /** Settles the attempt as aborted, whether or not the handler honours its signal. */
  rejectAttempt?: (reason: Error) => void;
  /** Resolves once the attempt is settled and its outcome handed on. */
  done: Promise<void>;
}

/** What the executor counts (a slice of WorkerStats). */
export interface RunStats {
  succeeded: number;
  failed: number;
}

/** Where settled attempts go (with their duration in ms): the completer. */
export interface Results {
  complete(job: ClaimedJob, durationMs: number): void;
  fail(failure: Failure): void;
}

export interface ExecutorOptions {
  /** The loaded job types, by name: every claimed job's type is among them. */
  handlers: ReadonlyMap<string, RunnableJobType>;
  db: Kysely<Database>;
  pool: Queryable;
  log: Logger;
  backoff: BackoffPolicy;
  stats: RunStats;
  results: Results;
  /** Called once per attempt, after its outcome went to `results` (or was dropped, when aborted). */
  onSettled: (entry: RunningJob) => void;
}

const abortMessages: Record<AbortReason, string> = {
  timeout: 'job timed out',
  shutdown: 'worker shutting down',
  lease_lost: 'lease lost',
};

/**
 * Runs one claimed job's attempt: builds its context, enforces the type's timeout, and settles the
 * attempt as a success or a failure (with the retry delay). An aborted attempt settles at once,
 * whether or not the handler honours its signal; shutdown and lease loss write nothing.
 */
export class Executor {
  constructor(private readonly options: ExecutorOptions) {}

  run(job: ClaimedJob): RunningJob {
    const type = this.options.handlers.get(job.job_type)!;
    const entry: RunningJob = { job, done: Promise.resolve() };
    const started = performance.now();
    const timeout = setTimeout(() => abortJob(entry, 'timeout'), type.spec.timeoutMs);
    const ctx = this.contextFor(entry);
    entry.done = (async () => {
      try {
        await new Promise<void>((resolve, reject) => {
          entry.rejectAttempt = reject;
          try {
            // Promise.resolve: a plain-JavaScript handler may return a value rather than a promise.
            Promise.resolve(type.run(ctx)).then(() => resolve(), reject);
          } catch (err) {
            reject(err);
          }
        });
        const durationMs = performance.now() - started;
        this.options.stats.succeeded += 1;
        this.options.results.complete(job, durationMs);
        this.options.log.info(`Job ${job.id} ${job.job_type} succeeded on attempt ${job.attempts} in ${durationMs.toFixed(1)} ms`);
      } catch (err) {
        this.settleFailure(entry, type, err, ctx.log, performance.now() - started);
      } finally {
        clearTimeout(timeout);
        this.options.onSettled(entry);
      }
    })();
    return entry;
  }

  /** The handler's context; its signal and logger are made on first use. */
  private contextFor(entry: RunningJob): JobContext {
    const { job } = entry;
    const parent = this.options.log;
    let log: Logger | undefined;
    return {
      jobId: job.id,
      jobType: job.job_type,
      payload: job.payload,
      attempt: job.attempts,
      maxAttempts: job.max_attempts,
      db: this.options.db,
      pool: this.options.pool,
      get signal() {
        if (!entry.controller) {
          entry.controller = new AbortController();
          if (entry.abortError) entry.controller.abort(entry.abortError);
        }
        return entry.controller.signal;
      },
      get log() {
        log ??= parent.child({ jobId: job.id });
        return log;
      },
    };
  }

  private settleFailure(entry: RunningJob, type: RunnableJobType, err: unknown, log: Logger, durationMs: number): void {
    const { job } = entry;
    if (entry.abortReason === 'shutdown') return; // returned to the queue by stop()
    if (entry.abortReason === 'lease_lost') {
      log.warn('lease lost (job cancelled, or taken over after the lease expired): its outcome is not recorded');
      return;
    }
    const timedOut = entry.abortReason === 'timeout';
    const error = err instanceof Error ? err : new Error(String(err));
    // A handler's own text: a NUL in it would make PostgreSQL refuse the whole batch of failures.
    const message = timedOut ? `timed out after ${type.spec.timeoutMs} ms` : storableText(String(error.message), 8_192);
    const dead = job.attempts >= job.max_attempts;
    const delayMs = dead ? 0 : backoffDelayMs(job.attempts, this.options.backoff);
    this.options.stats.failed += 1;
    log.warn(
      `Job ${job.id} ${job.job_type} attempt ${job.attempts} ${dead ? `failed for good (${job.attempts} of ${job.max_attempts} attempts made): ${message}` : `failed, retrying in ${(delayMs / 1000).toFixed(1)} s: ${message}`}`,
    );
    this.options.results.fail({
      job,
      outcome: timedOut ? 'timed_out' : 'failed',
      error: message,
      stack: timedOut || error.stack === undefined ? null : storableText(String(error.stack), 32_768),
      delayMs,
      durationMs,
    });
  }
}

/** Abort an attempt (the first reason wins): its signal fires and the attempt settles now. */
export function abortJob(entry: RunningJob, reason: AbortReason): void {
  if (entry.abortReason) return;
  entry.abortReason = reason;
  entry.abortError = new Error(abortMessages[reason]);
  entry.controller?.abort(entry.abortError);
  entry.rejectAttempt?.(entry.abortError);
}

import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Kysely } from 'kysely';
import { type Listener, listen } from '../db/listen.js';
import type { Queryable } from '../db/queryable.js';
import type { Database } from '../db/types.js';
import type { Logger } from '../log.js';
import { type BackoffPolicy, backoffDelayMs, defaultBackoff } from './backoff.js';
import type { JobContext, JobTypeRegistry, RunnableJobType } from './job-types.js';
import {
  claimSql,
  completeSql,
  failSql,
  heartbeatSql,
  pruneSql,
  registerWorkerSql,
  rescueSql,
  returnSql,
  stopWorkerSql,
} from './queries.js';

export interface WorkerOptions {
  pool: Queryable;
  db: Kysely<Database>;
  /** The job types this worker may run; their handlers are loaded at start. */
  registry: JobTypeRegistry;
  /** Run only these types (default: every type of the registry). */
  types?: string[];
  log: Logger;
  /** URL for the dedicated LISTEN connection; undefined: poll only. */
  listenUrl?: string;
  concurrency: number;
  pollIntervalMs: number;
  leaseSeconds: number;
  queues: string[];
  /** How long running jobs get to finish on stop before they are returned to the queue. */
  shutdownGraceMs: number;
  /** Completed and cancelled jobs older than this are deleted; failed jobs are kept. */
  retentionMs: number;
  version: string;
  backoff?: BackoffPolicy;
  /** Claim up to this many jobs ahead of free slots, to save round trips (default: concurrency). */
  prefetch?: number;
}

interface ClaimedJob {
  id: number;
  job_type: string;
  payload: Record<string, unknown>;
  attempts: number;
  max_attempts: number;
  queue: string;
}

interface RunningJob {
  job: ClaimedJob;
  /** Why it was aborted: decides what (if anything) gets written. */
  abortReason?: 'timeout' | 'shutdown' | 'lease_lost';
  abortError?: Error;
  /** Made when the handler first reads ctx.signal (most never do: an AbortController per job costs). */
  controller?: AbortController;
  /** Settles the attempt as aborted, whether or not the handler honours its signal. */
  rejectAttempt?: (reason: Error) => void;
  done: Promise<void>;
}

interface Failure {
  jobId: number;
  outcome: 'failed' | 'timed_out';
  error: string;
  stack: string | null;
  delayMs: number;
}

export interface WorkerStats {
  /** Round trips of the hot path: claim statements and result writes. */
  claimQueries: number;
  writeQueries: number;
  claimed: number;
  succeeded: number;
  failed: number;
  returned: number;
  rescued: number;
}

/**
 * A worker process's engine: claims jobs with FOR UPDATE SKIP LOCKED, runs up to `concurrency` at
 * once, wakes on LISTEN/NOTIFY and polls as the fallback, keeps leases alive by heartbeat, records
 * every attempt, retries with backoff, rescues jobs of dead workers and prunes old history.
 * Completions and failures are written in batches: while one write is in flight, the next gathers.
 */
export class Worker {
  readonly id: string;
  readonly stats: WorkerStats = { claimQueries: 0, writeQueries: 0, claimed: 0, succeeded: 0, failed: 0, returned: 0, rescued: 0 };
  private readonly running = new Map<number, RunningJob>();
  private readonly ready: ClaimedJob[] = [];
  private types: string[] = [];
  private handlers = new Map<string, RunnableJobType>();
  private completions: number[] = [];
  private failures: Failure[] = [];
  private flushing: Promise<void> | undefined;
  private fetching: Promise<void> | undefined;
  private fetchAgain = false;
  private stopping = false;
  private listener: Listener | undefined;
  private timers: NodeJS.Timeout[] = [];
  private pollTimer: NodeJS.Timeout | undefined;
  private lastHeartbeatOk = Date.now();
  private idleWaiters: Array<() => void> = [];
  private nextQueue = 0;

  constructor(private readonly options: WorkerOptions) {
    this.id = `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  }

  private get log(): Logger {
    return this.options.log;
  }

  async start(): Promise<void> {
    const o = this.options;
    const { loaded, failed } = await o.registry.load(o.types);
    for (const [name, err] of failed) {
      this.log.error(
        `job type ${name} cannot run here: its handler failed to load (${err.message}); its jobs stay pending for another worker`,
      );
    }
    this.handlers = loaded;
    this.types = [...loaded.keys()].sort();
    await o.pool.query({ text: registerWorkerSql, values: [this.id, os.hostname(), process.pid, o.queues, o.concurrency, o.version] });
    await this.rescue();
    if (o.listenUrl) this.listener = listen(o.listenUrl, 'cesar_jobs', () => this.wake(), this.log);
    this.log.info(`Polling for jobs every ${(o.pollIntervalMs / 1000).toFixed(1)} seconds`, {
      worker: this.id,
      concurrency: o.concurrency,
      queues: o.queues.join(','),
      listen: Boolean(o.listenUrl),
    });
    this.schedulePoll();
    this.every((o.leaseSeconds * 1000) / 3, () => this.heartbeat());
    this.every(Math.max(1000, o.leaseSeconds * 500), () => this.rescue());
    this.every(10 * 60_000, () => this.prune());
    this.wake();
    // Prune in the background at start too, so that history older than the retention goes soon.
    setTimeout(() => void this.prune(), 1000).unref();
  }

  /** Stop claiming, let running jobs finish within the grace period, return the rest, write everything. */
  async stop(force?: AbortSignal): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    if (this.pollTimer) clearTimeout(this.pollTimer);
    await this.listener?.stop();
    await this.fetching;
    // Prefetched jobs that never started go straight back.
    const unstarted = this.ready.splice(0);
    if (this.running.size > 0) {
      this.log.info(`Stopping: waiting up to ${Math.round(this.options.shutdownGraceMs / 1000)} s for ${this.running.size} running job(s)`);
      let graceTimer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.idle(),
        new Promise((r) => {
          graceTimer = setTimeout(r, this.options.shutdownGraceMs);
          force?.addEventListener('abort', r, { once: true });
        }),
      ]);
      clearTimeout(graceTimer);
    }
    const unfinished = [...this.running.values()];
    for (const r of unfinished) this.abort(r, 'shutdown');
    await Promise.all(unfinished.map((r) => r.done));
    await this.flush();
    const toReturn = [...unstarted, ...unfinished.map((r) => r.job)];
    if (toReturn.length > 0) await this.giveBack(toReturn);
    await this.options.pool.query({ text: stopWorkerSql, values: [this.id] }).catch(() => undefined);
    const { claimed, succeeded, failed, returned, rescued } = this.stats;
    this.log.info('Worker stopped', { claimed, succeeded, failed, returned, rescued });
  }

  /** Resolves when no job is running (for tests and benchmarks). */
  idle(): Promise<void> {
    if (this.running.size === 0 && this.ready.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Start buffered jobs, and claim if there is room: on NOTIFY, on the poll, and whenever a slot frees. */
  wake(): void {
    if (this.stopping) return;
    if (this.fetching) {
      this.fetchAgain = true;
      return;
    }
    this.startReady();
    if (this.wanted() === 0) return;
    this.fetching = this.fetchLoop().finally(() => {
      this.fetching = undefined;
    });
  }

  /**
   * How many jobs to claim now: none while every slot is busy and more than half the buffer
   * (concurrency + prefetch) is full; otherwise enough to fill it. Claiming at half empty keeps the
   * claim in flight while the other half runs, so slots never wait for a round trip.
   */
  private wanted(): number {
    const capacity = this.options.concurrency + (this.options.prefetch ?? this.options.concurrency);
    const want = capacity - this.running.size - this.ready.length;
    const slotIdle = this.running.size < this.options.concurrency;
    return want > 0 && (slotIdle || want >= capacity / 2) ? want : 0;
  }

  private async fetchLoop(): Promise<void> {
    try {
      do {
        this.fetchAgain = false;
        this.startReady();
        const want = this.wanted();
        if (want === 0) break;
        if (Date.now() - this.lastHeartbeatOk > this.options.leaseSeconds * 1000) {
          this.log.warn('not claiming: heartbeats have failed for longer than the lease');
          break;
        }
        const rows = await this.claim(want);
        this.stats.claimed += rows.length;
        this.ready.push(...rows);
        this.startReady();
        if (rows.length === want) this.fetchAgain = true;
      } while (this.fetchAgain && !this.stopping);
    } catch (err) {
      this.log.error(`claiming jobs failed: ${(err as Error).message}`);
    }
  }

  /** Claim up to `want` jobs, taking the queues in turn (the first queue rotates for fairness). */
  private async claim(want: number): Promise<ClaimedJob[]> {
    const queues = this.options.queues;
    const first = this.nextQueue++ % queues.length;
    const claimed: ClaimedJob[] = [];
    for (let i = 0; i < queues.length && claimed.length < want; i++) {
      this.stats.claimQueries += 1;
      const { rows } = await this.options.pool.query<ClaimedJob>({
        name: 'cesar_claim',
        text: claimSql,
        values: [queues[(first + i) % queues.length], want - claimed.length, this.id, this.options.leaseSeconds, this.types],
      });
      claimed.push(...rows);
    }
    return claimed;
  }

  private startReady(): void {
    while (!this.stopping && this.running.size < this.options.concurrency && this.ready.length > 0) {
      this.run(this.ready.shift()!);
    }
  }

  private run(job: ClaimedJob): void {
    const type = this.handlers.get(job.job_type)!;
    const entry: RunningJob = { job, done: Promise.resolve() };
    const started = performance.now();
    this.running.set(job.id, entry);
    const timeout = setTimeout(() => this.abort(entry, 'timeout'), type.spec.timeoutMs);
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
        this.stats.succeeded += 1;
        this.completions.push(job.id);
        this.log.info(
          `Job ${job.id} ${job.job_type} succeeded on attempt ${job.attempts} in ${(performance.now() - started).toFixed(1)} ms`,
        );
      } catch (err) {
        this.settleFailure(entry, err, ctx.log);
      } finally {
        clearTimeout(timeout);
        this.running.delete(job.id);
        this.scheduleFlush();
        if (this.running.size === 0 && this.ready.length === 0) for (const w of this.idleWaiters.splice(0)) w();
        this.wake();
      }
    })();
  }

  /** The handler's context; its signal and logger are made on first use. */
  private contextFor(entry: RunningJob): JobContext {
    const { job } = entry;
    const worker = this;
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
        log ??= worker.log.child({ jobId: job.id });
        return log;
      },
    };
  }

  private settleFailure(entry: RunningJob, err: unknown, log: Logger): void {
    const { job } = entry;
    if (entry.abortReason === 'shutdown') return; // returned to the queue by stop()
    if (entry.abortReason === 'lease_lost') {
      log.warn('lease lost (job cancelled, or taken over after the lease expired): its outcome is not recorded');
      return;
    }
    const timedOut = entry.abortReason === 'timeout';
    const error = err instanceof Error ? err : new Error(String(err));
    const message = timedOut ? `timed out after ${this.handlers.get(job.job_type)!.spec.timeoutMs} ms` : error.message;
    const dead = job.attempts >= job.max_attempts;
    const delayMs = dead ? 0 : backoffDelayMs(job.attempts, this.options.backoff ?? defaultBackoff);
    this.stats.failed += 1;
    log.warn(
      `Job ${job.id} ${job.job_type} attempt ${job.attempts} ${dead ? `failed for good (${job.attempts} of ${job.max_attempts} attempts made): ${message}` : `failed, retrying in ${(delayMs / 1000).toFixed(1)} s: ${message}`}`,
    );
    this.failures.push({
      jobId: job.id,
      outcome: timedOut ? 'timed_out' : 'failed',
      error: message,
      stack: timedOut ? null : (error.stack ?? null),
      delayMs,
    });
  }

  private abort(entry: RunningJob, reason: NonNullable<RunningJob['abortReason']>): void {
    if (entry.abortReason) return;
    entry.abortReason = reason;
    entry.abortError = new Error(reason === 'timeout' ? 'job timed out' : reason === 'shutdown' ? 'worker shutting down' : 'lease lost');
    entry.controller?.abort(entry.abortError);
    entry.rejectAttempt?.(entry.abortError);
  }

  private scheduleFlush(): void {
    if (this.flushing || (this.completions.length === 0 && this.failures.length === 0)) return;
    const drain = async (): Promise<void> => {
      while (this.completions.length > 0 || this.failures.length > 0) await this.writeBatch();
    };
    // Cleared in .finally, which runs after this assignment even when drain() settles at once.
    this.flushing = drain().finally(() => {
      this.flushing = undefined;
    });
  }

  /** Write every pending completion and failure; resolves when all are written. */
  async flush(): Promise<void> {
    while (this.flushing || this.completions.length > 0 || this.failures.length > 0) {
      if (this.flushing) await this.flushing;
      else this.scheduleFlush();
    }
  }

  private async writeBatch(): Promise<void> {
    const completions = this.completions.splice(0);
    const failures = this.failures.splice(0);
    try {
      if (completions.length > 0) {
        this.stats.writeQueries += 1;
        await this.options.pool.query({
          name: 'cesar_complete',
          text: completeSql,
          values: [this.id, completions],
        });
      }
      if (failures.length > 0) {
        this.stats.writeQueries += 1;
        const { rows } = await this.options.pool.query<{ id: number; status: string; run_at: Date }>({
          name: 'cesar_fail',
          text: failSql,
          values: [
            this.id,
            failures.map((f) => f.jobId),
            failures.map((f) => f.outcome),
            failures.map((f) => f.error),
            failures.map((f) => f.stack),
            failures.map((f) => f.delayMs),
          ],
        });
        // Wake when the retries are due rather than at the next poll.
        for (const r of rows) {
          if (r.status !== 'pending') continue;
          const timer = setTimeout(() => this.wake(), Math.max(0, r.run_at.getTime() - Date.now()) + 5);
          timer.unref();
        }
      }
    } catch (err) {
      // Keep them and try again; if the lease runs out first, the rescuer hands the jobs to another worker.
      this.log.error(`recording job results failed, retrying: ${(err as Error).message}`);
      this.completions.unshift(...completions);
      this.failures.unshift(...failures);
      await new Promise((r) => setTimeout(r, 1000));
      if (this.stopping && Date.now() - this.lastHeartbeatOk > this.options.leaseSeconds * 1000) {
        this.completions = [];
        this.failures = [];
      }
    }
  }

  private async giveBack(jobs: ClaimedJob[]): Promise<void> {
    try {
      const { rows } = await this.options.pool.query({ text: returnSql, values: [this.id, jobs.map((j) => j.id)] });
      this.stats.returned += rows.length;
      if (rows.length > 0) this.log.info(`Returned ${rows.length} unfinished job(s) to the queue`);
    } catch (err) {
      this.log.error(
        `could not return unfinished jobs (their leases will expire and the rescuer will retake them): ${(err as Error).message}`,
      );
    }
  }

  private async heartbeat(): Promise<void> {
    const held = [...this.running.keys(), ...this.ready.map((j) => j.id)];
    try {
      const { rows } = await this.options.pool.query<{ id: number }>({
        name: 'cesar_heartbeat',
        text: heartbeatSql,
        values: [this.id, held, this.options.leaseSeconds],
      });
      this.lastHeartbeatOk = Date.now();
      // Only the jobs we asked about: others were claimed while the heartbeat was in flight.
      const still = new Set(rows.map((r) => r.id));
      const lost = new Set(held.filter((id) => !still.has(id)));
      for (const id of lost) {
        const entry = this.running.get(id);
        if (entry) this.abort(entry, 'lease_lost');
      }
      for (let i = this.ready.length - 1; i >= 0; i--) if (lost.has(this.ready[i]!.id)) this.ready.splice(i, 1);
    } catch (err) {
      this.log.warn(`heartbeat failed: ${(err as Error).message}`);
      if (Date.now() - this.lastHeartbeatOk > this.options.leaseSeconds * 1000) {
        // Our leases have run out: another worker may take these jobs, so stop running them.
        for (const entry of this.running.values()) this.abort(entry, 'lease_lost');
        this.ready.splice(0);
      }
    }
  }

  private async rescue(): Promise<void> {
    try {
      const { rows } = await this.options.pool.query<{ id: number; status: string }>({ name: 'cesar_rescue', text: rescueSql, values: [] });
      if (rows.length > 0) {
        this.stats.rescued += rows.length;
        this.log.warn(`Rescued ${rows.length} job(s) whose worker stopped renewing its lease`, {
          jobs: rows.map((r) => r.id).slice(0, 20),
        });
        this.wake();
      }
    } catch (err) {
      this.log.warn(`rescuing expired leases failed: ${(err as Error).message}`);
    }
  }

  private async prune(): Promise<void> {
    try {
      let total = 0;
      for (;;) {
        const { rowCount } = await this.options.pool.query({ text: pruneSql, values: [this.options.retentionMs / 1000, 10_000] });
        total += rowCount ?? 0;
        if ((rowCount ?? 0) < 10_000 || this.stopping) break;
      }
      if (total > 0) this.log.info(`Pruned ${total} finished job(s) older than the retention period`);
    } catch (err) {
      this.log.warn(`pruning finished jobs failed: ${(err as Error).message}`);
    }
  }

  private schedulePoll(): void {
    const jitter = this.options.pollIntervalMs * (0.9 + Math.random() * 0.2);
    this.pollTimer = setTimeout(() => {
      this.wake();
      if (!this.stopping) this.schedulePoll();
    }, jitter);
  }

  private every(ms: number, fn: () => Promise<void>): void {
    this.timers.push(setInterval(() => void fn(), ms));
  }
}

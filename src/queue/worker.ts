import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Kysely } from 'kysely';
import { type Listener, listen } from '../db/listen.js';
import type { Queryable } from '../db/queryable.js';
import type { Database } from '../db/types.js';
import { isDatabaseUnreachable, OutageReporter, retryWhileUnreachable } from '../db/wait.js';
import { DatabaseError } from '../errors.js';
import type { Logger } from '../log.js';
import { pruneJobsTask } from '../maintenance/prune-jobs.js';
import { rescueJobsTask } from '../maintenance/rescue-jobs.js';
import { MaintenanceRunner, type MaintenanceTask } from '../maintenance/runner.js';
import { type BackoffPolicy, defaultBackoff } from './backoff.js';
import { type ClaimedJob, Claimer } from './claimer.js';
import { Completer } from './completer.js';
import { abortJob, Executor, type RunningJob } from './executor.js';
import type { JobTypeRegistry } from './job-types.js';
import type { JobLifecycleObserver } from './observer.js';
import { heartbeatSql, registerWorkerSql, stopWorkerSql } from './queries.js';

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
  /** More periodic tasks for the worker's maintenance runner, beside the rescue and the pruning of jobs. */
  maintenance?: MaintenanceTask[];
  /** Told of the jobs this worker claims and of their written outcomes (events, counters). */
  observers?: JobLifecycleObserver[];
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
 * A worker process's engine, composed of: the claimer (claims with FOR UPDATE SKIP LOCKED), the
 * executor (runs one attempt), the completer (writes results in batches) and a maintenance runner
 * (rescues jobs of dead workers, prunes old history). The worker itself keeps the local buffer of
 * claimed jobs, runs up to `concurrency` at once, wakes on LISTEN/NOTIFY with polling as the
 * fallback, and keeps its leases alive by heartbeat.
 */
export class Worker {
  readonly id: string;
  readonly stats: WorkerStats = { claimQueries: 0, writeQueries: 0, claimed: 0, succeeded: 0, failed: 0, returned: 0, rescued: 0 };
  private readonly running = new Map<number, RunningJob>();
  /** Claimed, not started yet. */
  private readonly ready: ClaimedJob[] = [];
  private readonly completer: Completer;
  private readonly maintenance: MaintenanceRunner;
  /** Made at start, once the handlers are loaded. */
  private claimer: Claimer | undefined;
  private executor: Executor | undefined;
  private fetching: Promise<void> | undefined;
  private fetchAgain = false;
  private stopping = false;
  private listener: Listener | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private lastHeartbeatOk = Date.now();
  private beating: Promise<void> | undefined;
  /** Claims and heartbeats failing because the database is unreachable: logged at most every 10 s. */
  private readonly outage: OutageReporter;
  private readonly stopSignal = new AbortController();
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: WorkerOptions) {
    this.id = `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    const { pool, log } = options;
    this.outage = new OutageReporter(log, 'the worker', 10_000);
    this.completer = new Completer({
      pool,
      workerId: this.id,
      log,
      outage: this.outage,
      stats: this.stats,
      wake: () => this.wake(),
      giveUp: () => this.stopping && this.leaseRunOut(),
      observers: options.observers,
    });
    this.maintenance = new MaintenanceRunner({ pool, holder: this.id, log });
    this.maintenance.add(
      rescueJobsTask({
        pool,
        log,
        everyMs: Math.max(1000, options.leaseSeconds * 500),
        onRescued: (count) => {
          this.stats.rescued += count;
          this.wake();
        },
      }),
    );
    this.maintenance.add(pruneJobsTask({ pool, log, retentionMs: options.retentionMs }));
    for (const task of options.maintenance ?? []) this.maintenance.add(task);
  }

  private get log(): Logger {
    return this.options.log;
  }

  /** signal: stop waiting for an unreachable database at start-up (a shutdown came). */
  async start(signal?: AbortSignal): Promise<void> {
    const o = this.options;
    const { loaded, failed } = await o.registry.load(o.types);
    for (const [name, err] of failed) {
      this.log.error(
        `job type ${name} cannot run here: its handler failed to load (${err.message}); its jobs stay pending for another worker`,
      );
    }
    this.claimer = new Claimer({
      pool: o.pool,
      workerId: this.id,
      queues: o.queues,
      types: [...loaded.keys()].sort(),
      leaseSeconds: o.leaseSeconds,
      stats: this.stats,
    });
    this.executor = new Executor({
      handlers: loaded,
      db: o.db,
      pool: o.pool,
      log: this.log,
      backoff: o.backoff ?? defaultBackoff,
      stats: this.stats,
      results: this.completer,
      onSettled: (entry) => this.settled(entry),
    });
    const stopWaiting = signal ? AbortSignal.any([signal, this.stopSignal.signal]) : this.stopSignal.signal;
    await retryWhileUnreachable(() => this.register(), { log: this.log, who: 'the worker', signal: stopWaiting });
    if (this.stopping) {
      // stop() came while we registered: it found nothing to stop, so start nothing.
      await o.pool.query({ text: stopWorkerSql, values: [this.id] }).catch(() => undefined);
      return;
    }
    if (o.listenUrl) this.listener = listen(o.listenUrl, 'cesar_jobs', () => this.wake(), this.log);
    this.log.info(`Polling for jobs every ${(o.pollIntervalMs / 1000).toFixed(1)} seconds`, {
      worker: this.id,
      concurrency: o.concurrency,
      queues: o.queues.join(','),
      listen: Boolean(o.listenUrl),
    });
    this.schedulePoll();
    this.lastHeartbeatOk = Date.now();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), (o.leaseSeconds * 1000) / 3);
    this.maintenance.start();
    this.wake();
  }

  /** Stop claiming, let running jobs finish within the grace period, return the rest, write everything. */
  async stop(force?: AbortSignal): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.stopSignal.abort(new Error('worker stopping'));
    const maintenanceStopped = this.maintenance.stop();
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
    for (const r of unfinished) abortJob(r, 'shutdown');
    await Promise.all(unfinished.map((r) => r.done));
    // The heartbeat kept the leases of jobs running through the grace period; none is left now.
    clearInterval(this.heartbeatTimer);
    await this.completer.flush();
    const toReturn = [...unstarted, ...unfinished.map((r) => r.job)];
    if (toReturn.length > 0) await this.completer.giveBack(toReturn);
    await maintenanceStopped;
    await this.options.pool.query({ text: stopWorkerSql, values: [this.id] }).catch(() => undefined);
    const { claimed, succeeded, failed, returned, rescued } = this.stats;
    this.log.info('Worker stopped', { claimed, succeeded, failed, returned, rescued });
  }

  /** Resolves when no job is running (for tests and benchmarks). */
  idle(): Promise<void> {
    if (this.running.size === 0 && this.ready.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Write every pending completion and failure; resolves when all are written. */
  flush(): Promise<void> {
    return this.completer.flush();
  }

  /** Start buffered jobs, and claim if there is room: on NOTIFY, on the poll, and whenever a slot frees. */
  wake(): void {
    if (this.stopping || !this.claimer) return;
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
        if (this.leaseRunOut() && !(await this.reestablish())) break;
        const rows = await this.claimer!.claim(want);
        this.outage.recovered();
        if (rows.length > 0) this.observeClaimed(rows);
        this.ready.push(...rows);
        this.startReady();
        if (rows.length === want) this.fetchAgain = true;
      } while (this.fetchAgain && !this.stopping);
    } catch (err) {
      if (isDatabaseUnreachable(err)) this.outage.failed(err, 'claiming again at the next poll');
      else this.log.error(`claiming jobs failed: ${(err as Error).message}`);
    }
  }

  /**
   * Our leases have run out (no heartbeat succeeded for a whole lease, e.g. a database outage):
   * every job held here may belong to another worker by now, so drop them all, then beat at once,
   * rather than at the next heartbeat tick, to claim again as soon as the database answers.
   */
  private async reestablish(): Promise<boolean> {
    this.dropAll();
    await this.heartbeat();
    if (!this.leaseRunOut()) return true;
    if (!this.outage.down) this.log.warn('not claiming: heartbeats have failed for longer than the lease');
    return false;
  }

  /** Abort every running job (its outcome is not recorded) and forget the buffered ones. */
  private dropAll(): void {
    for (const entry of this.running.values()) abortJob(entry, 'lease_lost');
    this.ready.splice(0);
  }

  private async register(): Promise<void> {
    const o = this.options;
    try {
      await o.pool.query({ text: registerWorkerSql, values: [this.id, os.hostname(), process.pid, o.queues, o.concurrency, o.version] });
    } catch (err) {
      if ((err as { code?: string }).code === '42P01') {
        throw new DatabaseError('the database has no cesar schema', 'schema_missing', 'run `cesar migrate`', { cause: err });
      }
      throw err;
    }
  }

  private observeClaimed(jobs: ClaimedJob[]): void {
    for (const o of this.options.observers ?? []) {
      try {
        o.claimed?.(jobs);
      } catch (err) {
        this.log.warn(`a job observer failed (ignored): ${(err as Error).message}`);
      }
    }
  }

  private startReady(): void {
    while (!this.stopping && this.running.size < this.options.concurrency && this.ready.length > 0) {
      const job = this.ready.shift()!;
      // Settling is always asynchronous, so the entry is in the map before its attempt ends.
      this.running.set(job.id, this.executor!.run(job));
    }
  }

  /** An attempt ended (its outcome is with the completer): free its slot. */
  private settled(entry: RunningJob): void {
    // An attempt dropped with its lease may settle after the job was claimed here again.
    if (this.running.get(entry.job.id) === entry) this.running.delete(entry.job.id);
    if (this.running.size === 0 && this.ready.length === 0) for (const w of this.idleWaiters.splice(0)) w();
    this.wake();
  }

  /** Our leases may have run out: no heartbeat has succeeded for a whole lease. */
  private leaseRunOut(): boolean {
    return Date.now() - this.lastHeartbeatOk > this.options.leaseSeconds * 1000;
  }

  /** One heartbeat at a time: the timer's and the claim path's share it. */
  private heartbeat(): Promise<void> {
    this.beating ??= this.beat().finally(() => {
      this.beating = undefined;
    });
    return this.beating;
  }

  private async beat(): Promise<void> {
    // Not the attempts dropped with their leases: they may still be settling.
    const running = [...this.running.values()].filter((r) => r.abortReason !== 'lease_lost').map((r) => r.job.id);
    // And the jobs whose results wait to be written (an outage): their leases must hold until then.
    const held = [...running, ...this.ready.map((j) => j.id), ...this.completer.unwritten()];
    try {
      const { rows } = await this.options.pool.query<{ id: number }>({
        name: 'cesar_heartbeat',
        text: heartbeatSql,
        values: [this.id, held, this.options.leaseSeconds],
      });
      this.lastHeartbeatOk = Date.now();
      this.outage.recovered();
      // Only the jobs we asked about: others were claimed while the heartbeat was in flight.
      const still = new Set(rows.map((r) => r.id));
      const lost = new Set(held.filter((id) => !still.has(id)));
      for (const id of lost) {
        const entry = this.running.get(id);
        if (entry) abortJob(entry, 'lease_lost');
      }
      for (let i = this.ready.length - 1; i >= 0; i--) if (lost.has(this.ready[i]!.id)) this.ready.splice(i, 1);
    } catch (err) {
      if (isDatabaseUnreachable(err)) this.outage.failed(err, 'heartbeat failed');
      else this.log.warn(`heartbeat failed: ${(err as Error).message}`);
      // Our leases have run out: another worker may take these jobs, so stop running them.
      if (this.leaseRunOut()) this.dropAll();
    }
  }

  private schedulePoll(): void {
    const jitter = this.options.pollIntervalMs * (0.9 + Math.random() * 0.2);
    this.pollTimer = setTimeout(() => {
      this.wake();
      if (!this.stopping) this.schedulePoll();
    }, jitter);
  }
}

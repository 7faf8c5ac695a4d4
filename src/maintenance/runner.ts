import { acquireLease, releaseLease } from '../db/leases.js';
import type { Queryable } from '../db/queryable.js';
import { isDatabaseUnreachable, OutageReporter } from '../db/wait.js';
import type { Logger } from '../log.js';

/** A periodic chore: adding one to a runner is adding one of these. */
export interface MaintenanceTask {
  /** snake_case; for a one-process task, also the name of its lease in leader_leases. */
  name: string;
  /**
   * every_process: each runner runs it (it must be safe to run in many processes at once).
   * one_process: only the runner holding the task's lease runs it; the others try again each period
   * and take over once the holder releases the lease (on stop) or lets it expire (crash).
   */
  scope: 'every_process' | 'one_process';
  /** Pause between the end of one run and the start of the next (with jitter). */
  everyMs: number;
  /** Pause before the first run (default everyMs; 0: at start). */
  firstRunMs?: number;
  /**
   * one_process: how long the lease outlives its last renewal (default twice everyMs, at least 30 s),
   * so that the holder keeps it from one run to the next. Renewed every third of it while a run lasts.
   */
  leaseMs?: number;
  /** One run. The signal aborts when the runner stops or the lease is lost: stop early then. */
  run(signal: AbortSignal): Promise<void>;
}

export interface MaintenanceRunnerOptions {
  pool: Queryable;
  /** Who this process is in leader_leases.holder: unique per process (a worker uses its id). */
  holder: string;
  log: Logger;
  /** Each pause is stretched or shrunk by up to half of this at random (default 0.2: ±10%). */
  jitter?: number;
}

interface Scheduled {
  task: MaintenanceTask;
  timer?: NodeJS.Timeout;
  running?: Promise<void>;
  /** Whether this runner held the task's lease after its last attempt to take it. */
  leader: boolean;
}

/**
 * Runs maintenance tasks on their periods: never two runs of one task at once (the next run is
 * scheduled when the last one ends), failures logged at warn and retried next period, one-process
 * tasks only under their lease. stop() aborts running tasks' signals, waits for them to end and
 * releases the leases held.
 */
export class MaintenanceRunner {
  private readonly scheduled = new Map<string, Scheduled>();
  private readonly stopping = new AbortController();
  private started = false;
  private stopped: Promise<void> | undefined;
  /** While the database is unreachable, one line a minute rather than one per task and period. */
  private readonly outage: OutageReporter;

  constructor(private readonly options: MaintenanceRunnerOptions) {
    this.outage = new OutageReporter(options.log, 'maintenance', 60_000);
  }

  add(task: MaintenanceTask): this {
    if (this.scheduled.has(task.name)) throw new Error(`maintenance task ${task.name} is added twice`);
    const s: Scheduled = { task, leader: false };
    this.scheduled.set(task.name, s);
    if (this.started) this.schedule(s, task.firstRunMs ?? task.everyMs);
    return this;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (const s of this.scheduled.values()) this.schedule(s, s.task.firstRunMs ?? s.task.everyMs);
  }

  /** Stop scheduling, abort and await running tasks, release the leases held. */
  stop(): Promise<void> {
    this.stopped ??= this.shutDown();
    return this.stopped;
  }

  private async shutDown(): Promise<void> {
    this.stopping.abort(new Error('maintenance stopping'));
    const all = [...this.scheduled.values()];
    for (const s of all) clearTimeout(s.timer);
    await Promise.all(all.map((s) => s.running));
    await Promise.all(all.filter((s) => s.leader).map((s) => this.release(s)));
  }

  private schedule(s: Scheduled, ms: number): void {
    if (this.stopping.signal.aborted) return;
    const jitter = this.options.jitter ?? 0.2;
    s.timer = setTimeout(
      () => {
        s.running = this.runOnce(s).finally(() => {
          s.running = undefined;
          this.schedule(s, s.task.everyMs);
        });
      },
      ms * (1 - jitter / 2 + Math.random() * jitter),
    );
    s.timer.unref();
  }

  private async runOnce(s: Scheduled): Promise<void> {
    const run = new AbortController();
    const onStop = () => run.abort(this.stopping.signal.reason);
    this.stopping.signal.addEventListener('abort', onStop, { once: true });
    try {
      if (s.task.scope === 'one_process') await this.runLeased(s, run);
      else await s.task.run(run.signal);
      this.outage.recovered();
    } catch (err) {
      if (isDatabaseUnreachable(err)) this.outage.failed(err, `task ${s.task.name} runs again next period`);
      else this.options.log.warn(`maintenance task ${s.task.name} failed (it runs again next period): ${(err as Error).message}`);
    } finally {
      this.stopping.signal.removeEventListener('abort', onStop);
    }
  }

  /** Run under the task's lease: take or renew it first, renew it while the run lasts, abort if it is lost. */
  private async runLeased(s: Scheduled, run: AbortController): Promise<void> {
    const { pool, holder, log } = this.options;
    const { name } = s.task;
    const leaseMs = s.task.leaseMs ?? Math.max(2 * s.task.everyMs, 30_000);
    let confirmed = performance.now();
    const leader = await acquireLease(pool, name, holder, leaseMs / 1000);
    if (leader !== s.leader)
      log.info(leader ? `Maintenance task ${name} runs in this process` : `Maintenance task ${name} moved to another process`);
    s.leader = leader;
    if (!leader || run.signal.aborted) return;

    let renewing = false;
    const lose = (why: string) => {
      s.leader = false;
      if (!run.signal.aborted) log.warn(`maintenance task ${name}: ${why}; aborting its run`);
      run.abort(new Error(why));
    };
    const renew = async () => {
      // Our own clock, counted from when the last successful renewal was sent: the lease may have run out.
      if (performance.now() - confirmed > leaseMs) return lose('lease not renewed in time');
      if (renewing) return;
      renewing = true;
      const asked = performance.now();
      try {
        if (await acquireLease(pool, name, holder, leaseMs / 1000)) confirmed = asked;
        else lose('lease taken over by another process');
      } catch (err) {
        log.warn(`maintenance task ${name}: renewing its lease failed: ${(err as Error).message}`);
      } finally {
        renewing = false;
      }
    };
    const timer = setInterval(() => void renew(), leaseMs / 3);
    try {
      await s.task.run(run.signal);
    } finally {
      clearInterval(timer);
    }
  }

  private async release(s: Scheduled): Promise<void> {
    try {
      await releaseLease(this.options.pool, s.task.name, this.options.holder);
      s.leader = false;
    } catch (err) {
      this.options.log.warn(`releasing the lease of maintenance task ${s.task.name} failed (it expires): ${(err as Error).message}`);
    }
  }
}

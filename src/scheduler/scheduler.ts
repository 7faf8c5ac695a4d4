import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Queryable } from '../db/queryable.js';
import { type ConnectionPool, withClientTransaction } from '../db/transaction.js';
import { isDatabaseUnreachable, OutageReporter } from '../db/wait.js';
import type { Logger } from '../log.js';
import { sleep } from '../sleep.js';
import { cronProblem } from '../workflows/cron.js';
import { failOrphanedExecutions, startStrandedQueued } from '../workflows/executions.js';
import type { StepHandlerRegistry } from '../workflows/step-handlers.js';
import { type ActiveTemplateRow, loadActiveTemplates, type TemplateRow } from '../workflows/templates.js';
import { publishTick, recordTick, recordUnfiredTicks } from '../workflows/ticks.js';
import { dueTicks, nextTick, type PlannedTick } from './slots.js';

/**
 * The scheduler: fires the due cron ticks of every active template. Any number run at once, on
 * any machines, with no leader: each reads the templates from the database every pass and records
 * each due tick; the tick's primary key lets exactly one of them fire it. Between passes it sleeps
 * until the next tick of any template, or at most pollMs, so that a template edited or paused in
 * the database takes effect within seconds.
 *
 * Time is the database's: each pass reads now() and the scheduler keeps its offset from the local
 * clock, so machines whose clocks disagree still agree on what is due. Tests inject `now`.
 */

export interface SchedulerOptions {
  pool: ConnectionPool & Queryable;
  steps: StepHandlerRegistry;
  log: Logger;
  version: string;
  /** Longest sleep between passes (default 1 s). */
  pollMs?: number;
  /** A tick older than this when first seen was missed and goes by the catch-up policy (default 60 s). */
  missedAfterMs?: number;
  /** The clock, for tests; default: the database's time (the local clock corrected by its offset). */
  now?: () => Date;
  /** How often orphaned executions and stranded queued ones are looked for (default 5 s). */
  reconcileMs?: number;
  /**
   * Whether a template whose first_run is at_once, and that never ran, runs as soon as it is seen
   * (default true; CESAR_FIRST_RUNS=off). Otherwise every template waits for its first tick.
   */
  firstRuns?: boolean;
}

export interface SchedulerStats {
  passes: number;
  fired: number;
  skipped: number;
  coalesced: number;
  /** Ticks another scheduler had recorded first. */
  lost: number;
}

export class Scheduler {
  readonly id = `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  readonly stats: SchedulerStats = { passes: 0, fired: 0, skipped: 0, coalesced: 0, lost: 0 };
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private offsetMs = 0;
  /** The active templates as the last pass read them. */
  templates: readonly ActiveTemplateRow[] = [];
  private lastReconcile = 0;
  private lastHeartbeat = 0;
  private readonly warnedInvalid = new Set<string>();
  private readonly outage: OutageReporter;

  constructor(private readonly options: SchedulerOptions) {
    this.outage = new OutageReporter(options.log, 'the scheduler');
  }

  private get pollMs(): number {
    return this.options.pollMs ?? 1000;
  }

  now(): Date {
    return this.options.now ? this.options.now() : new Date(Date.now() + this.offsetMs);
  }

  /** Register, run the first pass, then keep passing in the background until stop(). */
  async start(): Promise<void> {
    await this.options.pool.query({
      text: `INSERT INTO schedulers (id, hostname, pid, version) VALUES ($1, $2, $3, $4)`,
      values: [this.id, os.hostname(), process.pid, this.options.version],
    });
    this.lastHeartbeat = Date.now();
    await this.pass();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort(new Error('scheduler stopping'));
    await this.loop;
    await this.options.pool
      .query({ text: 'UPDATE schedulers SET stopped_at = now(), last_heartbeat_at = now() WHERE id = $1', values: [this.id] })
      .catch(() => undefined);
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      let waitMs = this.pollMs;
      try {
        waitMs = await this.pass();
        this.outage.recovered();
      } catch (err) {
        if (isDatabaseUnreachable(err)) this.outage.failed(err, 'ticks due meanwhile are recorded by the catch-up policy');
        else this.options.log.error(`scheduler pass failed (next in ${this.pollMs} ms): ${(err as Error).message}`);
      }
      await sleep(waitMs, signal).catch(() => undefined);
    }
  }

  /**
   * One pass: record every due tick of every active template. Returns how long to sleep: until the
   * next tick of any template (a few ms after it), at most pollMs.
   */
  async pass(): Promise<number> {
    const { pool, log } = this.options;
    const before = Date.now();
    const { now: dbNow, templates } = await loadActiveTemplates(pool);
    this.templates = templates;
    // The database's clock, read half-way through the round trip.
    this.offsetMs = dbNow.getTime() - (before + Date.now()) / 2;
    const now = this.now();
    this.stats.passes++;
    let sleepMs = this.pollMs;
    for (const template of templates) {
      const problem = cronProblem(template.cron_expression, template.timezone);
      if (problem) {
        if (!this.warnedInvalid.has(template.name)) log.warn(`template ${template.name} cannot be scheduled: ${problem}`);
        this.warnedInvalid.add(template.name);
        continue;
      }
      this.warnedInvalid.delete(template.name);
      await this.fireDue(template, now);
      const next = nextTick(template.cron_expression, template.timezone, now);
      if (next) sleepMs = Math.min(sleepMs, next.getTime() - now.getTime() + 2);
    }
    if (Date.now() - this.lastReconcile >= (this.options.reconcileMs ?? 5000)) await this.reconcile();
    if (Date.now() - this.lastHeartbeat >= 5000) {
      await pool.query({ text: 'UPDATE schedulers SET last_heartbeat_at = now(), stopped_at = NULL WHERE id = $1', values: [this.id] });
      this.lastHeartbeat = Date.now();
    }
    return Math.max(1, sleepMs);
  }

  private async fireDue(template: ActiveTemplateRow, now: Date): Promise<void> {
    const after = template.last_tick_at && template.last_tick_at > template.active_since ? template.last_tick_at : template.active_since;
    const scheduled = dueTicks(
      {
        cron: template.cron_expression,
        timezone: template.timezone,
        catchup: template.catchup,
        catchupMaxCount: template.catchup_max_count,
        catchupMaxAgeSeconds: template.catchup_max_age_seconds,
      },
      after,
      now,
      this.options.missedAfterMs ?? 60_000,
    );
    const planned = this.isFirstRun(template, now) ? [firstRunTick(template), ...scheduled] : scheduled;
    if (planned.length === 0) return;
    const unfired = planned.filter((t) => t.fate !== 'fire');
    if (unfired.length > 0) {
      const recorded = await recordUnfiredTicks(this.options.pool, template.id, unfired, 'scheduler', this.id);
      // Which of them another scheduler recorded first is not known here: publish them all only when all were ours.
      if (recorded === unfired.length) {
        for (const t of unfired)
          publishTick(template.name, t.at, t.fate === 'coalesced' ? 'coalesced' : 'skipped', null, t.reason ?? null, 'scheduler');
      }
      for (const t of unfired.slice(0, recorded)) this.stats[t.fate === 'coalesced' ? 'coalesced' : 'skipped']++;
      this.stats.lost += unfired.length - recorded;
      if (recorded > 0) {
        this.options.log.info(
          `${template.name}: ${recorded} missed tick(s) recorded as ${template.catchup === 'latest' ? 'coalesced' : 'skipped'} (catch-up policy ${template.catchup})`,
        );
      }
    }
    for (const tick of planned.filter((t) => t.fate === 'fire')) {
      const outcome = await recordTick(this.options.pool, this.options.steps, {
        template: template.name,
        tick,
        source: 'scheduler',
        recordedBy: this.id,
      });
      if (!outcome) continue;
      if (!outcome.recorded) {
        this.stats.lost++;
        continue;
      }
      if (outcome.fate === 'fired') {
        this.stats.fired++;
        this.options.log.info(
          `${template.name}: tick ${tick.at.toISOString()} fired execution ${outcome.executionId}${outcome.reason ? ` (${outcome.reason})` : ''}`,
        );
      } else {
        this.stats.skipped++;
        this.options.log.info(`${template.name}: tick ${tick.at.toISOString()} skipped: ${outcome.reason}`);
      }
    }
  }

  /**
   * A template marked first_run at_once that never ran (no tick, no execution) runs now, by a tick at
   * the time it became active: every scheduler plans the same tick, and its primary key lets one fire it.
   */
  private isFirstRun(template: ActiveTemplateRow, now: Date): boolean {
    return (
      this.options.firstRuns !== false &&
      template.first_run === 'at_once' &&
      template.last_tick_at === null &&
      !template.has_run &&
      template.active_since.getTime() <= now.getTime()
    );
  }

  /** Fail executions whose step job died unrecorded; start queued executions left waiting. */
  private async reconcile(): Promise<void> {
    this.lastReconcile = Date.now();
    const failed = await withClientTransaction(this.options.pool, (q) => failOrphanedExecutions(q));
    if (failed > 0) this.options.log.warn(`${failed} execution(s) failed: their step's job ended without the step recording it`);
    await withClientTransaction(this.options.pool, (q) => startStrandedQueued(q));
  }
}

/** The tick of a template's first run: at the time it became active. */
function firstRunTick(template: TemplateRow): PlannedTick {
  return { at: template.active_since, fate: 'fire', reason: 'first run: the template had never run (first_run at_once)' };
}

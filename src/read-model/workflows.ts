import { type Kysely, sql } from 'kysely';
import type { CatchupPolicy, Database, ExecutionStatus, FirstRun, OverlapPolicy, StepRunStatus } from '../db/types.js';
import { nextRun } from '../workflows/cron.js';
import { missingSteps } from '../workflows/templates.js';
import { bucketCounts } from './histogram.js';
import { iso } from './time.js';

/** The database's time: what "now" means for due ticks and lateness, whatever the local clock says. */
export async function databaseNow(db: Kysely<Database>): Promise<Date> {
  const { rows } = await sql<{ now: Date }>`SELECT now() AS now`.execute(db);
  return rows[0]!.now;
}

/** A scheduler that beat its heart within this many seconds is alive (it beats every 5 s). */
export const liveSchedulerSeconds = 30;

/** A tick overdue by more than this is late: a live scheduler records a tick within about a second. */
export const lateAfterSeconds = 5;

export interface TemplateView {
  name: string;
  description: string;
  cron_expression: string;
  timezone: string;
  catchup: CatchupPolicy;
  overlap: OverlapPolicy;
  /** at_once: runs as soon as a scheduler sees it, if it never ran; on_schedule: at its first tick. */
  first_run: FirstRun;
  is_active: boolean;
  /** Every step has a registered handler. */
  runnable: boolean;
  /** The steps that have no handler, as "step (handler h)". */
  missing_steps: string[];
  steps: string[];
  /** The newest tick that fired. */
  last_fired_at: string | null;
  last_execution_id: number | null;
  last_status: ExecutionStatus | null;
  /** The first tick not on record yet: the next one a scheduler fires (in the past when late). */
  next_due_at: string | null;
  /** How long that tick is overdue, when more than lateAfterSeconds; null when on time or inactive. */
  late_by_seconds: number | null;
  /** Kept for the original's queries: the latest execution's scheduled time, and the next cron slot after now. */
  last_run_at: string | null;
  last_run_status: ExecutionStatus | null;
  next_run_at: string | null;
}

/**
 * Every workflow template with its schedule, policies, runnability, last fire, next due tick and
 * lateness, as of `now` (the database's time). `handlers` are the step handlers this cesar has.
 */
export async function listTemplates(db: Kysely<Database>, now: Date, handlers: ReadonlySet<string>): Promise<TemplateView[]> {
  const rows = await db
    .selectFrom('workflow_templates as t')
    .leftJoinLateral(
      (eb) =>
        eb
          .selectFrom('workflow_executions as x')
          .select(['x.id', 'x.scheduled_for', 'x.status'])
          .whereRef('x.template_id', '=', 't.id')
          .orderBy('x.id', 'desc')
          .limit(1)
          .as('e'),
      (join) => join.onTrue(),
    )
    .select((eb) => [
      't.name',
      't.description',
      't.cron_expression',
      't.timezone',
      't.catchup',
      't.overlap',
      't.first_run',
      't.is_active',
      't.active_since',
      'e.id as last_execution_id',
      'e.scheduled_for as last_run_at',
      'e.status as last_status',
      eb
        .selectFrom('workflow_ticks as k')
        .select((k) => k.fn.max('k.tick_at').as('m'))
        .whereRef('k.template_id', '=', 't.id')
        .as('last_tick_at'),
      eb
        .selectFrom('workflow_ticks as k')
        .select((k) => k.fn.max('k.tick_at').as('m'))
        .whereRef('k.template_id', '=', 't.id')
        .where('k.fate', '=', 'fired')
        .as('last_fired_at'),
      sql<
        Array<{ name: string; handler: string }>
      >`coalesce((SELECT json_agg(json_build_object('name', s.name, 'handler', s.action) ORDER BY s.step_order)
          FROM workflow_steps s WHERE s.template_id = t.id), '[]')`.as('steps'),
    ])
    .orderBy('t.id')
    .execute();
  return rows.map((t) => {
    const missing = missingSteps(t.steps, handlers);
    const lastTick = t.last_tick_at as Date | null;
    const after = lastTick && lastTick > t.active_since ? lastTick : t.active_since;
    const nextDue = t.is_active ? nextRun(t.cron_expression, t.timezone, after) : undefined;
    const overdueSeconds = nextDue ? (now.getTime() - nextDue.getTime()) / 1000 : 0;
    return {
      name: t.name,
      description: t.description,
      cron_expression: t.cron_expression,
      timezone: t.timezone,
      catchup: t.catchup,
      overlap: t.overlap,
      first_run: t.first_run,
      is_active: t.is_active,
      runnable: missing.length === 0 && t.steps.length > 0,
      missing_steps: missing,
      steps: t.steps.map((s) => s.name),
      last_fired_at: iso(t.last_fired_at as Date | null),
      last_execution_id: t.last_execution_id === null ? null : Number(t.last_execution_id),
      last_status: t.last_status ?? null,
      next_due_at: iso(nextDue ?? null),
      late_by_seconds: overdueSeconds > lateAfterSeconds ? Math.round(overdueSeconds) : null,
      last_run_at: iso(t.last_run_at),
      last_run_status: t.last_status ?? null,
      next_run_at: t.is_active ? iso(nextRun(t.cron_expression, t.timezone, now) ?? null) : null,
    };
  });
}

/** How many scheduler processes beat their heart within liveSchedulerSeconds. */
export async function liveSchedulerCount(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('schedulers')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('stopped_at', 'is', null)
    .where('last_heartbeat_at', '>', sql<Date>`now() - make_interval(secs => ${liveSchedulerSeconds})`)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export interface StepRunView {
  order: number;
  name: string;
  handler: string;
  agent_type: string;
  agent: string | null;
  status: StepRunStatus;
  attempts: number;
  job_id: number | null;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  output: unknown;
  error: string | null;
  reason: string | null;
}

export interface ExecutionView {
  id: number;
  template: string;
  trigger: string;
  status: ExecutionStatus;
  scheduled_for: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  template_version: string;
  retries: number;
  queued: boolean;
  current_step: number | null;
  error: string | null;
  input: unknown;
  result: unknown;
  steps: StepRunView[];
}

/** The step an execution under way is on: its first step not done yet (null once it has ended). */
const currentStep = sql<number | null>`(SELECT min(r.step_order) FROM workflow_step_runs r
  WHERE r.execution_id = e.id AND r.status IN ('pending', 'running') AND e.status IN ('pending', 'running'))`.as('current_step');

/** The columns of an execution's summary (list and show). */
const summaryColumns = [
  'e.id',
  't.name as template',
  'e.trigger',
  'e.status',
  'e.scheduled_for',
  'e.created_at',
  'e.started_at',
  'e.finished_at',
  'e.template_version',
  'e.retries',
  'e.queued',
  currentStep,
  'e.error',
] as const;

function summaries(db: Kysely<Database>) {
  return db.selectFrom('workflow_executions as e').innerJoin('workflow_templates as t', 't.id', 'e.template_id').select(summaryColumns);
}

type ExecutionRow = Awaited<ReturnType<ReturnType<typeof summaries>['execute']>>[number];

/** One execution with its steps (agent, attempts, durations, outputs, errors), or undefined. */
export async function getExecution(db: Kysely<Database>, id: number): Promise<ExecutionView | undefined> {
  const row = await summaries(db).select(['e.input', 'e.result', 'e.steps']).where('e.id', '=', id).executeTakeFirst();
  if (!row) return undefined;
  const runs = await db
    .selectFrom('workflow_step_runs as r')
    .leftJoin('agents as a', 'a.id', 'r.agent_id')
    .selectAll('r')
    .select('a.name as agent')
    .where('r.execution_id', '=', id)
    .orderBy('r.step_order')
    .execute();
  const definitions = new Map((row.steps as Array<{ order: number; agent_type: string }>).map((s) => [s.order, s]));
  return {
    ...executionSummary(row),
    input: row.input,
    result: row.result ?? null,
    steps: runs.map((r) => ({
      order: r.step_order,
      name: r.name,
      handler: r.handler,
      agent_type: definitions.get(r.step_order)?.agent_type ?? '',
      agent: r.agent ?? null,
      status: r.status,
      attempts: r.attempts,
      job_id: r.job_id === null ? null : Number(r.job_id),
      started_at: r.status === 'pending' && r.attempts === 0 ? null : iso(r.started_at),
      finished_at: iso(r.finished_at),
      duration_ms: r.duration_ms === null ? null : Math.round(r.duration_ms * 10) / 10,
      output: r.output ?? null,
      error: r.error,
      reason: r.reason,
    })),
  };
}

export type ExecutionSummary = Omit<ExecutionView, 'steps' | 'input' | 'result'>;

function executionSummary(row: ExecutionRow): ExecutionSummary {
  return {
    id: Number(row.id),
    template: row.template,
    trigger: row.trigger,
    status: row.status,
    scheduled_for: iso(row.scheduled_for)!,
    created_at: iso(row.created_at)!,
    started_at: iso(row.started_at),
    finished_at: iso(row.finished_at),
    duration_ms: row.started_at && row.finished_at ? row.finished_at.getTime() - row.started_at.getTime() : null,
    template_version: row.template_version,
    retries: row.retries,
    queued: row.queued,
    current_step: row.current_step,
    error: row.error,
  };
}

export interface ExecutionFilter {
  template?: string;
  status?: ExecutionStatus;
  limit?: number;
}

/** Executions, newest first. */
export async function listExecutions(db: Kysely<Database>, filter: ExecutionFilter = {}): Promise<ExecutionSummary[]> {
  let query = summaries(db)
    .orderBy('e.id', 'desc')
    .limit(filter.limit ?? 50);
  if (filter.template !== undefined) query = query.where('t.name', '=', filter.template);
  if (filter.status !== undefined) query = query.where('e.status', '=', filter.status);
  const rows = await query.execute();
  return rows.map(executionSummary);
}

export interface HistoryEntry {
  /** The tick's time (or, for a manual run, when it was asked for). */
  at: string;
  /** fired, skipped or coalesced for a tick; manual for a manual run (no tick). */
  fate: 'fired' | 'skipped' | 'coalesced' | 'manual';
  reason: string | null;
  source: string | null;
  execution: ExecutionSummary | null;
}

/** A template's recent ticks and executions, newest first: what fired, what was skipped and why. */
export async function workflowHistory(db: Kysely<Database>, template: string, limit = 20): Promise<HistoryEntry[] | undefined> {
  const found = await db.selectFrom('workflow_templates').select('id').where('name', '=', template).executeTakeFirst();
  if (!found) return undefined;
  const ticks = await db
    .selectFrom('workflow_ticks')
    .select(['tick_at', 'fate', 'reason', 'source', 'execution_id'])
    .where('template_id', '=', found.id)
    .orderBy('tick_at', 'desc')
    .limit(limit)
    .execute();
  const executions = await listExecutions(db, { template, limit });
  const byId = new Map(executions.map((e) => [e.id, e]));
  const entries: HistoryEntry[] = ticks.map((k) => {
    const execution = k.execution_id === null ? null : (byId.get(Number(k.execution_id)) ?? null);
    if (execution) byId.delete(execution.id);
    return { at: iso(k.tick_at)!, fate: k.fate, reason: k.reason, source: k.source, execution };
  });
  // Executions with no tick among those: manual runs (and fired ticks older than the limit).
  for (const e of byId.values()) {
    if (e.trigger === 'manual') entries.push({ at: e.scheduled_for, fate: 'manual', reason: null, source: null, execution: e });
  }
  return entries.sort((a, b) => b.at.localeCompare(a.at)).slice(0, limit);
}

/** Workflow executions by template and status. */
/** The window of workflow history /metrics reads (executions and step runs are kept for good). */
export const metricsWindowDays = 7;

/** Executions created in the last metricsWindowDays, per template and status. */
export async function workflowRunCounts(
  db: Kysely<Database>,
): Promise<Array<{ template: string; status: ExecutionStatus; count: number }>> {
  return db
    .selectFrom('workflow_executions as e')
    .innerJoin('workflow_templates as t', 't.id', 'e.template_id')
    .select(['t.name as template', 'e.status', sql<number>`count(*)`.as('count')])
    .where(sql<boolean>`e.created_at > now() - ${sql.raw(`interval '${metricsWindowDays} days'`)}`)
    .groupBy(['t.name', 'e.status'])
    .execute();
}

export interface WorkflowHistogram {
  /** Label values, e.g. { template, step }. */
  labels: Record<string, string>;
  /** Counts at or under each bound (seconds), cumulative. */
  buckets: number[];
  count: number;
  total_seconds: number;
}

/** Step runs finished (succeeded, failed or skipped) in the last metricsWindowDays, per template and step, counted under each bound. */
export async function stepDurations(db: Kysely<Database>, bounds: number[]): Promise<WorkflowHistogram[]> {
  const result = await sql<{ template: string; step: string; buckets: Array<number | string>; count: number; total_seconds: number }>`
    SELECT d.template, d.step, ${bucketCounts(bounds)} AS buckets, count(*) AS count, coalesce(sum(d.seconds), 0)::float8 AS total_seconds
      FROM (SELECT t.name AS template, r.name AS step, r.duration_ms / 1000.0 AS seconds
              FROM workflow_step_runs r
              JOIN workflow_executions e ON e.id = r.execution_id
              JOIN workflow_templates t ON t.id = e.template_id
             WHERE r.finished_at > now() - ${sql.raw(`interval '${metricsWindowDays} days'`)}
               AND r.duration_ms IS NOT NULL AND r.status IN ('succeeded', 'failed', 'skipped')) d
     GROUP BY d.template, d.step
     ORDER BY d.template, d.step`.execute(db);
  return result.rows.map((r) => ({
    labels: { template: r.template, step: r.step },
    buckets: r.buckets.map(Number),
    count: Number(r.count),
    total_seconds: r.total_seconds,
  }));
}

/** Tick lag (recorded minus tick time) of the ticks that fired in the last day, per template. */
export async function tickLags(db: Kysely<Database>, bounds: number[]): Promise<WorkflowHistogram[]> {
  const result = await sql<{ template: string; buckets: Array<number | string>; count: number; total_seconds: number }>`
    SELECT d.template, ${bucketCounts(bounds)} AS buckets, count(*) AS count, coalesce(sum(d.seconds), 0)::float8 AS total_seconds
      FROM (SELECT t.name AS template, EXTRACT(EPOCH FROM k.recorded_at - k.tick_at)::float8 AS seconds
              FROM workflow_ticks k
              JOIN workflow_templates t ON t.id = k.template_id
             WHERE k.fate = 'fired' AND k.tick_at > now() - interval '1 day') d
     GROUP BY d.template
     ORDER BY d.template`.execute(db);
  return result.rows.map((r) => ({
    labels: { template: r.template },
    buckets: r.buckets.map(Number),
    count: Number(r.count),
    total_seconds: r.total_seconds,
  }));
}

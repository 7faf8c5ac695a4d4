import { createHash } from 'node:crypto';
import type { Queryable } from '../db/queryable.js';
import type { CatchupPolicy, FirstRun, OverlapPolicy } from '../db/types.js';
import type { StepHandlerRegistry } from './step-handlers.js';

/** One step of a template, as an execution keeps it (snake_case: it is stored as JSON). */
export interface TemplateStep {
  order: number;
  name: string;
  agent_type: string;
  handler: string;
  config: Record<string, unknown>;
  timeout_seconds: number;
  max_attempts: number;
}

/** A template with its steps, as the scheduler and the engine read it. */
export interface TemplateRow {
  id: number;
  name: string;
  description: string;
  cron_expression: string;
  timezone: string;
  is_active: boolean;
  catchup: CatchupPolicy;
  catchup_max_count: number;
  catchup_max_age_seconds: number;
  overlap: OverlapPolicy;
  active_since: Date;
  /** The newest tick on record, whatever its fate. */
  last_tick_at: Date | null;
  /** at_once: runs as soon as a scheduler sees it, if it never ran; on_schedule: at its first tick (schema/028). */
  first_run: FirstRun;
  steps: TemplateStep[];
}

/** A template as the scheduler's pass reads it. */
export interface ActiveTemplateRow extends TemplateRow {
  /** Whether it ever ran: an execution of it is on record (for its first run). */
  has_run: boolean;
}

const templateSql = `
SELECT t.id, t.name, t.description, t.cron_expression, t.timezone, t.is_active, t.catchup,
       t.catchup_max_count, t.catchup_max_age_seconds, t.overlap, t.active_since,
       (SELECT max(k.tick_at) FROM workflow_ticks k WHERE k.template_id = t.id) AS last_tick_at,
       t.first_run,
       coalesce((SELECT json_agg(json_build_object(
                    'order', s.step_order, 'name', s.name, 'agent_type', s.agent_type, 'handler', s.action,
                    'config', s.config, 'timeout_seconds', s.timeout_seconds, 'max_attempts', s.max_attempts)
                  ORDER BY s.step_order)
                   FROM workflow_steps s WHERE s.template_id = t.id), '[]') AS steps
  FROM workflow_templates t`;

/** Every active template with its steps and its newest tick, and the database's time. */
export async function loadActiveTemplates(q: Queryable): Promise<{ now: Date; templates: ActiveTemplateRow[] }> {
  const { rows } = await q.query<ActiveTemplateRow & { db_now: Date }>({
    text: `SELECT x.*, EXISTS (SELECT 1 FROM workflow_executions e WHERE e.template_id = x.id) AS has_run, now() AS db_now
             FROM (${templateSql} WHERE t.is_active) x ORDER BY x.id`,
  });
  // now() is also read when there are no templates, so the scheduler always learns the time.
  const now = rows[0]?.db_now ?? (await q.query<{ now: Date }>({ text: 'SELECT now() AS now' })).rows[0]!.now;
  return { now, templates: rows.map(normalise) };
}

/** One template by name, or undefined. `lock` takes its row lock (firing a tick, changing it). */
export async function loadTemplate(q: Queryable, name: string, lock = false): Promise<TemplateRow | undefined> {
  if (lock) await q.query({ text: 'SELECT id FROM workflow_templates WHERE name = $1 FOR UPDATE', values: [name] });
  const { rows } = await q.query<TemplateRow>({ text: `${templateSql} WHERE t.name = $1`, values: [name] });
  return rows[0] && normalise(rows[0]);
}

/** bigint ids come back as strings from pg unless the pool parses them. */
function normalise<T extends TemplateRow>(row: T): T {
  return { ...row, id: Number(row.id) };
}

/** The step handlers a cesar has: its registry, or their names. */
export type KnownHandlers = Pick<StepHandlerRegistry, 'has'> | ReadonlySet<string>;

/** The steps whose handlers this cesar does not have, as "step (handler h)": non-empty means not runnable. */
export function missingSteps(steps: ReadonlyArray<Pick<TemplateStep, 'name' | 'handler'>>, handlers: KnownHandlers): string[] {
  return steps.filter((s) => !handlers.has(s.handler)).map((s) => `${s.name} (handler ${s.handler})`);
}

/** Why a template cannot run, in one line, or undefined when it can. */
export function notRunnableReason(
  template: { steps: ReadonlyArray<Pick<TemplateStep, 'name' | 'handler'>> },
  handlers: KnownHandlers,
): string | undefined {
  if (template.steps.length === 0) return 'not runnable: the template has no steps';
  const missing = missingSteps(template.steps, handlers);
  if (missing.length === 0) return undefined;
  return `not runnable: no step handler for ${missing.join(', ')}`;
}

/** The template version an execution records: a short hash of the steps it runs with. */
export function templateVersion(steps: TemplateStep[]): string {
  return createHash('sha256').update(JSON.stringify(steps)).digest('hex').slice(0, 12);
}

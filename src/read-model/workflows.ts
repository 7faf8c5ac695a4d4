import { type Kysely, sql } from 'kysely';
import type { Database, ExecutionStatus } from '../db/types.js';
import { nextRun } from '../workflows/cron.js';
import { iso } from './time.js';

export interface TemplateView {
  name: string;
  cron_expression: string;
  timezone: string;
  is_active: boolean;
  last_run_at: string | null;
  last_run_status: ExecutionStatus | null;
  /** The next cron slot after `now`; null for an inactive template or an invalid expression. */
  next_run_at: string | null;
}

/** Every workflow template with its latest execution and its next cron slot after `now` (the database's time). */
export async function listTemplates(db: Kysely<Database>, now: Date): Promise<TemplateView[]> {
  const rows = await db
    .selectFrom('workflow_templates as t')
    .leftJoinLateral(
      (eb) =>
        eb
          .selectFrom('workflow_executions as x')
          .select(['x.scheduled_for', 'x.status'])
          .whereRef('x.template_id', '=', 't.id')
          .orderBy('x.scheduled_for', 'desc')
          .limit(1)
          .as('e'),
      (join) => join.onTrue(),
    )
    .select(['t.name', 't.cron_expression', 't.timezone', 't.is_active', 'e.scheduled_for as last_run_at', 'e.status as last_run_status'])
    .orderBy('t.id')
    .execute();
  return rows.map((t) => ({
    name: t.name,
    cron_expression: t.cron_expression,
    timezone: t.timezone,
    is_active: t.is_active,
    last_run_at: iso(t.last_run_at),
    last_run_status: t.last_run_status ?? null,
    next_run_at: t.is_active ? iso(nextRun(t.cron_expression, t.timezone, now) ?? null) : null,
  }));
}

/** Workflow executions by template and status. */
export async function workflowRunCounts(
  db: Kysely<Database>,
): Promise<Array<{ template: string; status: ExecutionStatus; count: number }>> {
  return db
    .selectFrom('workflow_executions as e')
    .innerJoin('workflow_templates as t', 't.id', 'e.template_id')
    .select(['t.name as template', 'e.status', sql<number>`count(*)`.as('count')])
    .groupBy(['t.name', 'e.status'])
    .execute();
}

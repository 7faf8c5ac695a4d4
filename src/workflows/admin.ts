import * as v from 'valibot';
import type { Queryable } from '../db/queryable.js';
import { type ConnectionPool, withClientTransaction } from '../db/transaction.js';
import type { CatchupPolicy, FirstRun, OverlapPolicy } from '../db/types.js';
import { InputError, NotFoundError, StateError } from '../errors.js';
import { maxPayloadBytes } from '../queue/enqueue.js';
import { quote } from '../text.js';
import { describeIssue } from '../validation.js';
import { cronProblem } from './cron.js';
import { cancelExecution, createExecution, retryExecution } from './executions.js';
import { type StepHandlerRegistry, stepConfigProblem } from './step-handlers.js';
import { loadTemplate, notRunnableReason, type TemplateRow } from './templates.js';
import { recordTick, type TickOutcome } from './ticks.js';

/**
 * What an operator does to workflows (the CLI and the API both call these): apply templates from
 * JSON, change a schedule or its policies, pause and resume, run now, retry and cancel executions.
 * Every change is validated whole before anything is written.
 */

type Pool = ConnectionPool & Queryable;

const snake = (what: string) =>
  v.pipe(
    v.string(`${what} must be a string`),
    v.regex(/^[a-z][a-z0-9_]{0,62}$/, `${what} must be snake_case (a-z, 0-9, _), up to 63 characters`),
  );
const intIn = (min: number, max: number) => {
  const message = `must be an integer from ${min} to ${max}`;
  return v.pipe(v.number(message), v.integer(message), v.minValue(min, message), v.maxValue(max, message));
};

const catchupPolicies: readonly CatchupPolicy[] = ['skip', 'latest', 'all'];
const firstRuns: readonly FirstRun[] = ['at_once', 'on_schedule'];
const overlapPolicies: readonly OverlapPolicy[] = ['skip', 'queue', 'allow'];

const stepSchema = v.strictObject({
  name: snake('a step name'),
  agent_type: snake('an agent type'),
  handler: snake('a handler name'),
  description: v.optional(v.pipe(v.string(), v.maxLength(1000, 'must be at most 1000 characters'))),
  config: v.optional(v.record(v.string(), v.unknown(), 'must be a JSON object')),
  timeout_seconds: v.optional(intIn(1, 86_400)),
  max_attempts: v.optional(intIn(1, 100)),
});

const templateSchema = v.strictObject({
  name: snake('a template name'),
  description: v.optional(v.pipe(v.string(), v.maxLength(2000, 'must be at most 2000 characters'))),
  cron: v.pipe(v.string('must be a string'), v.minLength(1, 'must not be empty'), v.maxLength(200, 'must be at most 200 characters')),
  timezone: v.optional(v.pipe(v.string('must be a string'), v.maxLength(100, 'must be at most 100 characters'))),
  catchup: v.optional(v.picklist(catchupPolicies, `must be one of ${catchupPolicies.join(', ')}`)),
  catchup_max_count: v.optional(intIn(1, 100)),
  catchup_max_age_seconds: v.optional(intIn(1, 366 * 86_400)),
  overlap: v.optional(v.picklist(overlapPolicies, `must be one of ${overlapPolicies.join(', ')}`)),
  first_run: v.optional(v.picklist(firstRuns, `must be one of ${firstRuns.join(', ')}`)),
  active: v.optional(v.boolean('must be true or false')),
  steps: v.pipe(
    v.array(stepSchema, 'must be an array of steps'),
    v.minLength(1, 'must hold at least one step'),
    v.maxLength(100, 'must hold at most 100 steps'),
  ),
});

export type TemplateDocument = v.InferOutput<typeof templateSchema>;

/** Check a template file's content (one template or an array); InputError naming the first problem. */
export function parseTemplates(document: unknown, registry: StepHandlerRegistry): TemplateDocument[] {
  const list = Array.isArray(document) ? document : [document];
  if (list.length === 0) throw new InputError('the file holds an empty array: no templates to apply');
  const where = (i: number) => (Array.isArray(document) ? `template ${i + 1}: ` : '');
  const names = new Set<string>();
  return list.map((item, i) => {
    const result = v.safeParse(templateSchema, item);
    if (!result.success) {
      const { message, field } = describeIssue(templateSchema, result.issues[0], 'template');
      throw new InputError(where(i) + message, undefined, field);
    }
    const t = result.output;
    const label = `${where(i)}template ${t.name}`;
    if (names.has(t.name)) throw new InputError(`${label} appears twice in the file`, undefined, 'name');
    names.add(t.name);
    const problem = cronProblem(t.cron, t.timezone ?? 'UTC');
    if (problem) throw new InputError(`${label}: ${problem}`, undefined, problem.startsWith('unknown time zone') ? 'timezone' : 'cron');
    const stepNames = new Set<string>();
    for (const step of t.steps) {
      if (stepNames.has(step.name)) throw new InputError(`${label}: step ${step.name} appears twice`, undefined, 'steps');
      stepNames.add(step.name);
      const spec = registry.get(step.handler);
      const configProblem = spec && stepConfigProblem(spec, step.config ?? {});
      if (configProblem)
        throw new InputError(
          `${label}, step ${step.name}: invalid config for handler ${step.handler}: ${configProblem}`,
          undefined,
          'config',
        );
    }
    return t;
  });
}

export interface AppliedTemplate {
  name: string;
  created: boolean;
  /** Why it cannot run (a step handler this cesar does not have), or null. */
  not_runnable: string | null;
}

/** Create or update templates (and replace their steps) in one transaction. */
export async function applyTemplates(pool: Pool, registry: StepHandlerRegistry, templates: TemplateDocument[]): Promise<AppliedTemplate[]> {
  return withClientTransaction(pool, async (q) => {
    const applied: AppliedTemplate[] = [];
    for (const t of templates) {
      // A new schedule starts now: ticks of the old one (or before the template existed) never fire.
      const existed = await q.query({ text: 'SELECT id FROM workflow_templates WHERE name = $1 FOR UPDATE', values: [t.name] });
      const { rows } = await q.query<{ id: string }>({
        text: `INSERT INTO workflow_templates AS w (name, description, cron_expression, timezone, is_active, catchup,
                                                    catchup_max_count, catchup_max_age_seconds, overlap, first_run)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, coalesce($10, 'on_schedule'))
               ON CONFLICT (name) DO UPDATE
                  SET description = excluded.description,
                      cron_expression = excluded.cron_expression,
                      timezone = excluded.timezone,
                      is_active = excluded.is_active,
                      catchup = excluded.catchup,
                      catchup_max_count = excluded.catchup_max_count,
                      catchup_max_age_seconds = excluded.catchup_max_age_seconds,
                      overlap = excluded.overlap,
                      first_run = coalesce($10, w.first_run),
                      active_since = CASE WHEN w.cron_expression IS DISTINCT FROM excluded.cron_expression
                                            OR w.timezone IS DISTINCT FROM excluded.timezone
                                            OR NOT w.is_active
                                          THEN now() ELSE w.active_since END,
                      updated_at = now()
               RETURNING id`,
        values: [
          t.name,
          t.description ?? '',
          t.cron,
          t.timezone ?? 'UTC',
          t.active ?? true,
          t.catchup ?? 'latest',
          t.catchup_max_count ?? 10,
          t.catchup_max_age_seconds ?? 86_400,
          t.overlap ?? 'skip',
          t.first_run ?? null,
        ],
      });
      const id = rows[0]!.id;
      await q.query({ text: 'DELETE FROM workflow_steps WHERE template_id = $1', values: [id] });
      await q.query({
        text: `INSERT INTO workflow_steps (template_id, step_order, name, agent_type, action, description, config, timeout_seconds, max_attempts)
               SELECT $1, s.ord, s.name, s.agent_type, s.handler, s.description, s.config::jsonb, s.timeout_seconds, s.max_attempts
                 FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[], $9::int[])
                      AS s(ord, name, agent_type, handler, description, config, timeout_seconds, max_attempts)`,
        values: [
          id,
          t.steps.map((_, i) => i + 1),
          t.steps.map((s) => s.name),
          t.steps.map((s) => s.agent_type),
          t.steps.map((s) => s.handler),
          t.steps.map((s) => s.description ?? ''),
          t.steps.map((s) => JSON.stringify(s.config ?? {})),
          t.steps.map((s) => s.timeout_seconds ?? 300),
          t.steps.map((s) => s.max_attempts ?? 3),
        ],
      });
      applied.push({
        name: t.name,
        created: existed.rows.length === 0,
        not_runnable: notRunnableReason(t, registry) ?? null,
      });
    }
    return applied;
  });
}

export interface ScheduleChange {
  cron?: string;
  timezone?: string;
  catchup?: string;
  overlap?: string;
}

/** `workflows set`: change a template's schedule and policies; every value is checked first. */
export async function setSchedule(pool: Pool, name: string, change: ScheduleChange): Promise<TemplateRow> {
  if (Object.values(change).every((x) => x === undefined)) {
    throw new InputError('nothing to change: give --cron, --timezone, --catchup or --overlap');
  }
  if (change.catchup !== undefined && !catchupPolicies.includes(change.catchup as CatchupPolicy)) {
    throw new InputError(
      `--catchup ${quote(change.catchup)} is not a policy; use one of ${catchupPolicies.join(', ')}`,
      undefined,
      'catchup',
    );
  }
  if (change.overlap !== undefined && !overlapPolicies.includes(change.overlap as OverlapPolicy)) {
    throw new InputError(
      `--overlap ${quote(change.overlap)} is not a policy; use one of ${overlapPolicies.join(', ')}`,
      undefined,
      'overlap',
    );
  }
  return withClientTransaction(pool, async (q) => {
    const current = await requireTemplate(q, name, true);
    const cron = change.cron ?? current.cron_expression;
    const timezone = change.timezone ?? current.timezone;
    const problem = cronProblem(cron, timezone);
    if (problem) throw new InputError(problem, undefined, problem.startsWith('unknown time zone') ? 'timezone' : 'cron');
    await q.query({
      text: `UPDATE workflow_templates
                SET cron_expression = $2, timezone = $3, catchup = $4, overlap = $5, updated_at = now(),
                    active_since = CASE WHEN cron_expression <> $2 OR timezone <> $3 THEN now() ELSE active_since END
              WHERE id = $1`,
      values: [current.id, cron, timezone, change.catchup ?? current.catchup, change.overlap ?? current.overlap],
    });
    return (await loadTemplate(q, name))!;
  });
}

/**
 * Pause or resume a template. A resumed template fires its next tick; the ticks of its pause are
 * not caught up (they were not missed: nobody wanted them). Returns false when it already was so.
 */
export async function setActive(pool: Pool, name: string, active: boolean): Promise<boolean> {
  return withClientTransaction(pool, async (q) => {
    const current = await requireTemplate(q, name, true);
    if (current.is_active === active) return false;
    await q.query({
      text: `UPDATE workflow_templates
                SET is_active = $2, updated_at = now(), active_since = CASE WHEN $2 THEN now() ELSE active_since END
              WHERE id = $1`,
      values: [current.id, active],
    });
    return true;
  });
}

/** The largest --input accepted, as UTF-8 JSON (it is stored with the execution and is the first step's input). */
const maxInputBytes = maxPayloadBytes;

/** `workflows run NAME`: a manual execution now (whatever the overlap policy: the operator asked for it). */
export async function runNow(pool: Pool, registry: StepHandlerRegistry, name: string, input: unknown = {}): Promise<number> {
  checkInput(input);
  return withClientTransaction(pool, async (q) => {
    // No lock on the template: a manual run ignores the overlap policy, so it need not wait for a tick.
    const template = await requireTemplate(q, name, false);
    const notRunnable = notRunnableReason(template, registry);
    if (notRunnable) {
      throw new StateError(
        `template ${name} is ${notRunnable}`,
        'a step handler is code this cesar must have: correct the handler names (cesar workflows apply), or use a cesar version that has them',
      );
    }
    return createExecution(q, template, { trigger: 'manual', scheduledFor: 'now', input });
  });
}

/**
 * `cesar enqueue --workflow NAME` (a crontab): record the current minute's tick (database time) and
 * fire it as a scheduler would. Cron calling it twice in a minute makes one execution.
 */
export async function fireCurrentMinute(
  pool: Pool,
  registry: StepHandlerRegistry,
  name: string,
  recordedBy: string,
): Promise<TickOutcome & { tick: Date }> {
  const { rows } = await pool.query<{ tick: Date; active: boolean | null }>({
    text: `SELECT date_trunc('minute', now()) AS tick, (SELECT is_active FROM workflow_templates WHERE name = $1) AS active`,
    values: [name],
  });
  const { tick, active } = rows[0]!;
  if (active === null) throw notFound(name);
  const outcome = await recordTick(pool, registry, {
    template: name,
    tick: active ? { at: tick, fate: 'fire' } : { at: tick, fate: 'skipped', reason: 'the template is paused' },
    source: 'enqueue',
    recordedBy,
  });
  if (!outcome) throw notFound(name);
  return { ...outcome, tick };
}

export async function cancel(pool: Pool, executionId: number): Promise<void> {
  await withClientTransaction(pool, (q) => cancelExecution(q, executionId));
}

export async function retry(pool: Pool, executionId: number, fromStep?: string): Promise<string> {
  return (await withClientTransaction(pool, (q) => retryExecution(q, executionId, fromStep))).name;
}

async function requireTemplate(q: Queryable, name: string, lock: boolean): Promise<TemplateRow> {
  const template = await loadTemplate(q, name, lock);
  if (!template) throw notFound(name);
  return template;
}

function notFound(name: string): NotFoundError {
  return new NotFoundError(`no workflow template ${quote(name)}`, 'list them with: cesar workflows list');
}

function checkInput(input: unknown): void {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new InputError('the input must be a JSON object', undefined, 'input');
  const json = JSON.stringify(input);
  if (Buffer.byteLength(json, 'utf8') > maxInputBytes)
    throw new InputError(`the input is larger than ${maxInputBytes} bytes (64 KiB)`, undefined, 'input');
  if (json.includes('\\u0000'))
    throw new InputError('the input contains a NUL character (\\u0000), which PostgreSQL cannot store', undefined, 'input');
}

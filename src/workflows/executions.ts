import type { Queryable } from '../db/queryable.js';
import { InputError, NotFoundError, StateError } from '../errors.js';
import { enqueue } from '../queue/enqueue.js';
import { quote } from '../text.js';
import { type TemplateRow, type TemplateStep, templateVersion } from './templates.js';

/**
 * The workflow engine's writes. Every function takes a Queryable that is inside the caller's
 * transaction: an execution, its step rows, its current step's job and its events change together.
 */

/** The job type that runs one step of an execution (src/jobs/workflow-step.ts). */
const stepJobType = 'workflow_step';

export type ExecutionTrigger = 'schedule' | 'manual' | 'cron';

export interface NewExecution {
  trigger: ExecutionTrigger;
  /** The tick it fires (scheduled runs) or the time it was asked for (manual runs). */
  scheduledFor: Date | 'now';
  input?: unknown;
  /** Overlap policy queue: made now, started when the template's previous execution ends. */
  queued?: boolean;
}

/** Insert an execution with a pending row per step, and enqueue its first step unless queued. */
export async function createExecution(q: Queryable, template: TemplateRow, options: NewExecution): Promise<number> {
  const { rows } = await q.query<{ id: string }>({
    name: 'cesar_wf_create_execution',
    text: `WITH execution AS (
             INSERT INTO workflow_executions (template_id, trigger, scheduled_for, input, steps, template_version, queued)
             VALUES ($1, $2, coalesce($3::timestamptz, now()), $4, $5, $6, $7)
             RETURNING id
           ), runs AS (
             INSERT INTO workflow_step_runs (execution_id, step_order, name, handler, status)
             SELECT x.id, s.ord, s.name, s.handler, 'pending'
               FROM execution x, unnest($8::int[], $9::text[], $10::text[]) AS s(ord, name, handler)
           ), event AS (
             INSERT INTO agent_events (event_type, execution_id, payload)
             SELECT 'workflow.created', x.id, jsonb_build_object('template', $11::text, 'trigger', $2::text, 'queued', $7::boolean)
               FROM execution x
           )
           SELECT id FROM execution`,
    values: [
      template.id,
      options.trigger,
      options.scheduledFor === 'now' ? null : options.scheduledFor,
      JSON.stringify(options.input ?? {}),
      JSON.stringify(template.steps),
      templateVersion(template.steps),
      options.queued ?? false,
      template.steps.map((s) => s.order),
      template.steps.map((s) => s.name),
      template.steps.map((s) => s.handler),
      template.name,
    ],
  });
  const executionId = Number(rows[0]!.id);
  if (!options.queued) await enqueueStep(q, executionId, template.steps[0]!);
  return executionId;
}

/** The dedupe key of a step's job: while it is pending or running, the step is not enqueued twice. */
const stepJobKey = (executionId: number, order: number) => `wf:${executionId}:${order}`;

/**
 * Enqueue the job that runs one step. (The execution and the step's row point at it once a worker
 * claims it: see claimStepSql.)
 */
export async function enqueueStep(q: Queryable, executionId: number, step: TemplateStep): Promise<number> {
  const job = await enqueue(q, {
    type: stepJobType,
    payload: { execution_id: executionId, step: step.order },
    dedupeKey: stepJobKey(executionId, step.order),
    maxAttempts: step.max_attempts,
  });
  return job.id;
}

export interface WorkflowEvent {
  type: string;
  executionId?: number | null;
  agentId?: number | null;
  jobId?: number | null;
  data: Record<string, unknown>;
}

export async function recordEvent(q: Queryable, event: WorkflowEvent): Promise<void> {
  await q.query({
    text: 'INSERT INTO agent_events (agent_id, event_type, execution_id, job_id, payload) VALUES ($1, $2, $3, $4, $5)',
    values: [event.agentId ?? null, event.type, event.executionId ?? null, event.jobId ?? null, JSON.stringify(event.data)],
  });
}

/**
 * End an execution (succeeded, failed or cancelled) unless it has ended already, then start the
 * template's next queued execution, if any. A succeeded execution's result is every step's output,
 * by step name. Returns false when it had already ended.
 */
export async function finishExecution(
  q: Queryable,
  executionId: number,
  outcome: { status: 'succeeded' | 'failed' | 'cancelled'; error?: string },
): Promise<boolean> {
  const { rows } = await q.query<{ template_id: string; name: string; duration_ms: number; queued_waiting: boolean }>({
    name: 'cesar_wf_finish_execution',
    text: `WITH ended AS (
             UPDATE workflow_executions e
                SET status = $2, error = $3, finished_at = now(),
                    result = CASE WHEN $2 = 'succeeded'
                                  THEN (SELECT jsonb_object_agg(r.name, coalesce(r.output, 'null'::jsonb))
                                          FROM workflow_step_runs r WHERE r.execution_id = e.id) END
               FROM workflow_templates t
              WHERE e.id = $1 AND t.id = e.template_id AND e.status IN ('pending', 'running')
             RETURNING e.template_id, t.name,
                       1000 * extract(epoch FROM now() - coalesce(e.started_at, e.created_at))::float8 AS duration_ms
           ), event AS (
             INSERT INTO agent_events (event_type, execution_id, payload)
             SELECT 'workflow.' || $2, $1, jsonb_build_object('template', d.name, 'duration_ms', round(d.duration_ms::numeric))
                    || CASE WHEN $3::text IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('error', $3::text) END
               FROM ended d
           )
           SELECT d.template_id, d.name, d.duration_ms,
                  EXISTS (SELECT 1 FROM workflow_executions w
                           WHERE w.template_id = d.template_id AND w.status = 'pending' AND w.queued) AS queued_waiting
             FROM ended d`,
    values: [executionId, outcome.status, outcome.error ?? null],
  });
  const ended = rows[0];
  if (!ended) return false;
  if (outcome.status !== 'succeeded') {
    // Steps that never ran (or were running) end with it, and so do their jobs.
    await q.query({
      text: `UPDATE workflow_step_runs SET status = 'cancelled', finished_at = coalesce(finished_at, now()),
                    reason = coalesce(reason, $2)
              WHERE execution_id = $1 AND status IN ('pending', 'running')`,
      values: [executionId, outcome.status === 'cancelled' ? 'execution cancelled' : 'execution failed at an earlier step'],
    });
  }
  if (ended.queued_waiting) await startQueued(q, Number(ended.template_id));
  return true;
}

/**
 * Start the oldest queued execution of a template when none of its executions is under way
 * (overlap policy queue), in one statement (its first step's job inserted as finishStepSql does).
 * Safe to call at any time: it does nothing otherwise.
 */
async function startQueued(q: Queryable, templateId: number): Promise<number | undefined> {
  const { rows } = await q.query<{ id: string }>({
    text: `WITH started AS (
             UPDATE workflow_executions
                SET queued = false
              WHERE id = (SELECT id FROM workflow_executions
                           WHERE template_id = $1 AND status = 'pending' AND queued
                           ORDER BY id LIMIT 1)
                AND NOT EXISTS (SELECT 1 FROM workflow_executions
                                 WHERE template_id = $1 AND status IN ('pending', 'running') AND NOT queued)
             RETURNING id, (steps->0->>'max_attempts')::int AS max_attempts
           ), job AS (
             INSERT INTO job_queue (job_type, payload, max_attempts, dedupe_key)
             SELECT 'workflow_step', jsonb_build_object('execution_id', s.id, 'step', 1), s.max_attempts, 'wf:' || s.id || ':1'
               FROM started s
                 ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('pending', 'in_progress')
                 DO NOTHING
           )
           SELECT id FROM started`,
    values: [templateId],
  });
  return rows[0] ? Number(rows[0].id) : undefined;
}

/** The execution under way (pending or running, not queued) of a template, if any. */
export async function executionUnderWay(q: Queryable, templateId: number): Promise<number | undefined> {
  const { rows } = await q.query<{ id: string }>({
    text: `SELECT id FROM workflow_executions
            WHERE template_id = $1 AND status IN ('pending', 'running') AND NOT queued
            ORDER BY id LIMIT 1`,
    values: [templateId],
  });
  return rows[0] ? Number(rows[0].id) : undefined;
}

interface ExecutionForChange {
  id: string;
  status: string;
  template_id: string;
  steps: TemplateStep[];
}

async function lockExecution(q: Queryable, executionId: number): Promise<ExecutionForChange> {
  const { rows } = await q.query<ExecutionForChange>({
    text: 'SELECT id, status, template_id, steps FROM workflow_executions WHERE id = $1 FOR UPDATE',
    values: [executionId],
  });
  if (!rows[0]) throw new NotFoundError(`no workflow execution ${executionId}`, 'list them with: cesar workflows history NAME');
  return rows[0];
}

/** An operator's cancel: a pending or running execution ends as cancelled; its current step's job is cancelled. */
export async function cancelExecution(q: Queryable, executionId: number): Promise<void> {
  const execution = await lockExecution(q, executionId);
  if (!['pending', 'running'].includes(execution.status)) {
    throw new StateError(`execution ${executionId} is ${execution.status}: only a pending or running execution can be cancelled`);
  }
  // Its step jobs that are pending never run; a running one's worker learns of it through its lost
  // lease and stops the step.
  await q.query({
    text: `WITH cancelled AS (
             UPDATE job_queue
                SET status = 'cancelled', finished_at = now(), updated_at = now(), locked_by = NULL, lease_expires_at = NULL
              WHERE dedupe_key = ANY ($1::text[]) AND status IN ('pending', 'in_progress')
             RETURNING id
           )
           UPDATE job_attempts SET outcome = 'cancelled', error = 'workflow execution cancelled by an operator', finished_at = now()
            WHERE job_id IN (SELECT id FROM cancelled) AND outcome = 'running'`,
    values: [execution.steps.map((s) => stepJobKey(executionId, s.order))],
  });
  await finishExecution(q, executionId, { status: 'cancelled', error: 'cancelled by an operator' });
}

/**
 * An operator's retry of a failed or cancelled execution (or, from a named step, a succeeded one):
 * the steps from `fromStep` on (default: the first that did not succeed) run again; earlier steps
 * keep their outputs and never run again. Returns the step it resumes from.
 */
export async function retryExecution(q: Queryable, executionId: number, fromStep?: string): Promise<TemplateStep> {
  const execution = await lockExecution(q, executionId);
  const retryable = fromStep === undefined ? ['failed', 'cancelled'] : ['failed', 'cancelled', 'succeeded'];
  if (!retryable.includes(execution.status)) {
    throw new StateError(
      `execution ${executionId} is ${execution.status}: only a failed or cancelled execution can be retried${fromStep === undefined ? '' : ' (or a succeeded one, from a step)'}`,
    );
  }
  const steps = execution.steps;
  let from: TemplateStep | undefined;
  if (fromStep !== undefined) {
    from = steps.find((s) => s.name === fromStep);
    if (!from) {
      const names = steps.map((s) => s.name).join(', ');
      throw new InputError(`execution ${executionId} has no step ${quote(fromStep)}; its steps: ${names}`, undefined, 'from_step');
    }
  } else {
    const { rows } = await q.query<{ step_order: number }>({
      text: `SELECT step_order FROM workflow_step_runs
              WHERE execution_id = $1 AND status NOT IN ('succeeded', 'skipped') ORDER BY step_order LIMIT 1`,
      values: [executionId],
    });
    from = steps.find((s) => s.order === rows[0]?.step_order) ?? steps[0]!;
  }
  await q.query({
    text: `UPDATE workflow_step_runs
              SET status = 'pending', output = NULL, error = NULL, reason = NULL, agent_id = NULL, attempts = 0,
                  job_id = NULL, duration_ms = NULL, finished_at = NULL
            WHERE execution_id = $1 AND step_order >= $2`,
    values: [executionId, from.order],
  });
  await q.query({
    text: `UPDATE workflow_executions
              SET status = 'running', error = NULL, result = NULL, finished_at = NULL, queued = false, retries = retries + 1
            WHERE id = $1`,
    values: [executionId],
  });
  await recordEvent(q, { type: 'workflow.retried', executionId, data: { from_step: from.name, previous_status: execution.status } });
  await enqueueStep(q, executionId, from);
  return from;
}

/**
 * Executions under way with no live step job: their step's job ended without the step runner
 * recording it (a worker killed during the last attempt, whose lease the rescuer expired; a job
 * cancelled from `cesar jobs`). They fail with that job's error. An execution under way always
 * has a live job otherwise (each step's job is written with the previous step's end), so this is
 * safe at any moment. Run by every scheduler now and then; idempotent.
 */
export async function failOrphanedExecutions(q: Queryable): Promise<number> {
  const { rows } = await q.query<{ id: string; step_name: string | null; last_error: string | null; job_status: string | null }>({
    text: `SELECT e.id, last_job.step_name, last_job.last_error, last_job.status AS job_status
             FROM workflow_executions e
             LEFT JOIN LATERAL (
                  SELECT j.last_error, j.status, s->>'name' AS step_name
                    FROM jsonb_array_elements(e.steps) s
                    JOIN job_queue j ON j.dedupe_key = 'wf:' || e.id || ':' || (s->>'order')
                   ORDER BY j.id DESC LIMIT 1) last_job ON true
            WHERE e.status IN ('pending', 'running') AND NOT e.queued
              AND NOT EXISTS (
                  SELECT 1 FROM job_queue j
                   WHERE j.dedupe_key IN (SELECT 'wf:' || e.id || ':' || (s->>'order') FROM jsonb_array_elements(e.steps) s)
                     AND j.status IN ('pending', 'in_progress'))
            LIMIT 100`,
  });
  let failed = 0;
  for (const row of rows) {
    const error = `step ${row.step_name ?? '?'}: its job ${row.job_status === null ? 'is missing' : `was ${row.job_status}`}${row.last_error ? `: ${row.last_error}` : ''}`;
    await q.query({
      text: `UPDATE workflow_step_runs SET status = 'failed', error = $2, finished_at = now()
              WHERE execution_id = $1 AND status = 'running'`,
      values: [row.id, error],
    });
    if (await finishExecution(q, Number(row.id), { status: 'failed', error })) failed++;
  }
  return failed;
}

/** Start queued executions whose template has nothing under way (a safety net for startQueued). */
export async function startStrandedQueued(q: Queryable): Promise<number> {
  const { rows } = await q.query<{ template_id: string }>({
    text: `SELECT DISTINCT template_id FROM workflow_executions q
            WHERE q.status = 'pending' AND q.queued
              AND NOT EXISTS (SELECT 1 FROM workflow_executions e
                               WHERE e.template_id = q.template_id AND e.status IN ('pending', 'running') AND NOT e.queued)`,
  });
  let started = 0;
  for (const row of rows) {
    await q.query({ text: 'SELECT id FROM workflow_templates WHERE id = $1 FOR UPDATE', values: [row.template_id] });
    if ((await startQueued(q, Number(row.template_id))) !== undefined) started++;
  }
  return started;
}

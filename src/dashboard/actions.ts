import type pg from 'pg';
import { enqueuedAnswer, jobIdParams, newJobBody, runWorkflowBody, templateNameParams, toNewJob } from '../api/schemas.js';
import type { EventPublisher } from '../events/envelope.js';
import { publishEnqueued } from '../events/job-events.js';
import type { HttpApp } from '../http/app.js';
import type { Logger } from '../log.js';
import { maskSecrets } from '../mask.js';
import { enqueue } from '../queue/enqueue.js';
import type { JobTypeRegistry } from '../queue/job-types.js';
import { cancelJob, retryJob } from '../queue/jobs.js';
import { escapeControl, quote } from '../text.js';
import { runNow, setActive } from '../workflows/admin.js';
import type { StepHandlerRegistry } from '../workflows/step-handlers.js';
import { requireActor } from './auth.js';
import { recordActionSql } from './queries.js';
import type { SessionStore } from './sessions.js';

/**
 * The operator's actions (retry or cancel a job, enqueue one, run a workflow now, pause or resume
 * its schedule): each needs a signed-in session, calls the same library function as the CLI and
 * the API, and is recorded whatever its outcome in dashboard_actions and as an action.performed event.
 */

export interface ActionOptions {
  pool: pg.Pool;
  registry: JobTypeRegistry;
  steps: StepHandlerRegistry;
  sessions: SessionStore;
  events: EventPublisher;
  log: Logger;
  /** CESAR_JOB_RETENTION: a unique_for window may not outlast it. */
  jobRetentionMs?: number;
}

interface ActionRecord {
  action: string;
  target: string;
  actor: string;
  ok: boolean;
  detail: string;
}

export function registerActionRoutes(app: HttpApp, options: ActionOptions): void {
  const { pool, registry, steps, sessions } = options;
  const performed = <T>(actor: string, action: string, target: string, run: () => Promise<{ result: T; detail: string }>) =>
    perform(options, { actor, action, target }, run);

  app.post('/dashboard-api/jobs/:id/retry', { schema: { params: jobIdParams } }, async (request) => {
    const actor = requireActor(request, sessions);
    const { id } = request.params;
    return performed(actor, 'job.retry', `job ${id}`, async () => {
      const job = await retryJob(pool, id);
      return { result: job, detail: `job ${id} (${job.type}) is ${job.status} again` };
    });
  });

  app.post('/dashboard-api/jobs/:id/cancel', { schema: { params: jobIdParams } }, async (request) => {
    const actor = requireActor(request, sessions);
    const { id } = request.params;
    return performed(actor, 'job.cancel', `job ${id}`, async () => {
      const job = await cancelJob(pool, id);
      return { result: job, detail: `job ${id} (${job.type}) is ${job.status}` };
    });
  });

  app.post('/dashboard-api/jobs', { schema: { body: newJobBody } }, async (request, reply) => {
    const actor = requireActor(request, sessions);
    const body = request.body;
    const job = await performed(actor, 'job.enqueue', `job type ${nameOrQuoted(body.type)}`, async () => {
      const enqueued = await enqueue(pool, toNewJob(body, options.jobRetentionMs), registry);
      publishEnqueued(enqueued);
      const detail = enqueued.deduplicated ? `job ${enqueued.id} has that key already` : `job ${enqueued.id} enqueued`;
      return { result: enqueued, detail };
    });
    const answer = enqueuedAnswer(job);
    return reply.code(answer.status).send(answer.body);
  });

  app.post(
    '/dashboard-api/workflows/:name/run',
    { schema: { params: templateNameParams, body: runWorkflowBody }, config: { optionalBody: true } },
    async (request) => {
      const actor = requireActor(request, sessions);
      const { name } = request.params;
      return performed(actor, 'workflow.run', `workflow ${name}`, async () => {
        const executionId = await runNow(pool, steps, name, request.body.input ?? {});
        return { result: { template: name, execution_id: executionId }, detail: `execution ${executionId} started` };
      });
    },
  );

  for (const [verb, active] of [
    ['pause', false],
    ['resume', true],
  ] as const) {
    app.post(`/dashboard-api/workflows/:name/${verb}`, { schema: { params: templateNameParams } }, async (request) => {
      const actor = requireActor(request, sessions);
      const { name } = request.params;
      return performed(actor, `workflow.${verb}`, `workflow ${name}`, async () => {
        const changed = await setActive(pool, name, active);
        const state = active ? 'active' : 'paused';
        return { result: { template: name, changed }, detail: changed ? `now ${state}` : `was ${state} already` };
      });
    });
  }
}

/** A job type as typed: as it is when it is a valid name, else quoted (it goes into log lines). */
function nameOrQuoted(type: string): string {
  return /^[a-z][a-z0-9_]{0,63}$/.test(type) ? type : quote(type, 64);
}

/** Run an action and record it, done or refused (the error then goes on to the client). */
async function perform<T>(
  options: ActionOptions,
  what: Omit<ActionRecord, 'ok' | 'detail'>,
  run: () => Promise<{ result: T; detail: string }>,
): Promise<T> {
  let outcome: { result: T; detail: string };
  try {
    outcome = await run();
  } catch (err) {
    await record(options, { ...what, ok: false, detail: escapeControl(maskSecrets((err as Error).message)) });
    throw err;
  }
  await record(options, { ...what, ok: true, detail: outcome.detail });
  return outcome.result;
}

/**
 * Write the action to dashboard_actions and publish it. The action has happened (or was refused)
 * by now: a record that cannot be written is logged as an error, not turned into a failed answer.
 */
async function record(options: ActionOptions, entry: ActionRecord): Promise<void> {
  const { pool, log, events } = options;
  let at = new Date();
  try {
    const { rows } = await pool.query<{ at: Date }>({
      text: recordActionSql,
      values: [entry.action, entry.target, entry.actor, entry.ok, entry.detail],
    });
    at = rows[0]!.at;
  } catch (err) {
    log.error(`Dashboard: could not record the action ${entry.action} on ${entry.target} by ${entry.actor}: ${(err as Error).message}`);
  }
  events.publish('action.performed', { ...entry, at: at.toISOString() }, at);
  const line = `Dashboard: ${entry.actor}: ${entry.action} ${entry.target}: ${entry.ok ? 'done' : 'refused'}: ${entry.detail}`;
  if (entry.ok) log.info(line);
  else log.warn(line);
}

import type { Kysely } from 'kysely';
import type pg from 'pg';
import type { Database } from '../db/types.js';
import { NotFoundError } from '../errors.js';
import type { HttpApp } from '../http/app.js';
import { databaseNow, getExecution, listExecutions, listTemplates, liveSchedulerCount, workflowHistory } from '../read-model/index.js';
import { quote } from '../text.js';
import { cancel, retry, runNow } from '../workflows/admin.js';
import type { StepHandlerRegistry } from '../workflows/step-handlers.js';
import {
  executionIdParams,
  listExecutionsQuery,
  retryExecutionBody,
  runWorkflowBody,
  templateNameParams,
  workflowHistoryQuery,
} from './schemas.js';

export interface WorkflowRouteOptions {
  pool: pg.Pool;
  db: Kysely<Database>;
  /** The step handlers this cesar has: a template naming others is listed as not runnable and refused by run. */
  steps: StepHandlerRegistry;
}

const unavailable = 'the database is unavailable';
const noTemplate = 'no such workflow template';
const noExecution = 'no such workflow execution';

const templateNotFound = (name: string) => new NotFoundError(`no workflow template ${quote(name)}`, 'list them with: GET /api/workflows');
const executionNotFound = (id: number) => new NotFoundError(`no workflow execution ${id}`, 'list them with: GET /api/executions');

/**
 * The workflow routes of the API: templates (schedules, runnability, history) and executions (with
 * their steps), and the operator's run, retry and cancel, each one call into the read model or
 * src/workflows/admin.ts (which validate and throw the errors the HTTP layer maps to 400, 404, 409).
 */
export function registerWorkflowRoutes(app: HttpApp, options: WorkflowRouteOptions): void {
  const { pool, db, steps } = options;
  const handlers = () => new Set(steps.names());
  const templates = async () => {
    return listTemplates(db, await databaseNow(db), handlers());
  };

  app.get(
    '/api/workflows',
    {
      config: {
        docs: {
          summary: 'Workflow templates: schedule, policies, runnability (missing step handlers), last fire, next due tick',
          responses: {
            200: '{"schedulers_live": n, "templates": [{"name", "cron_expression", "runnable", "missing_steps", "next_due_at", ...}]}',
            503: unavailable,
          },
        },
      },
    },
    async () => {
      const [list, schedulersLive] = await Promise.all([templates(), liveSchedulerCount(db)]);
      return { schedulers_live: schedulersLive, templates: list };
    },
  );

  app.get(
    '/api/workflows/:name',
    {
      schema: { params: templateNameParams },
      config: {
        docs: {
          summary: 'One workflow template with its recent history (the last 20 ticks and executions)',
          responses: { 200: 'the template, as in GET /api/workflows, with "history": [...]', 404: noTemplate, 503: unavailable },
        },
      },
    },
    async (request) => {
      const { name } = request.params;
      const template = (await templates()).find((t) => t.name === name);
      const history = template && (await workflowHistory(db, name, 20));
      if (!template || !history) throw templateNotFound(name);
      return { ...template, history };
    },
  );

  app.get(
    '/api/workflows/:name/history',
    {
      schema: { params: templateNameParams, querystring: workflowHistoryQuery },
      config: {
        docs: {
          summary: "A workflow template's ticks and executions, newest first: what fired, what was skipped and why",
          responses: {
            200: '{"history": [{"at", "fate": "fired|skipped|coalesced|manual", "reason", "source", "execution"}]}',
            404: noTemplate,
            503: unavailable,
          },
        },
      },
    },
    async (request) => {
      const { name } = request.params;
      const history = await workflowHistory(db, name, request.query.limit ?? 20);
      if (!history) throw templateNotFound(name);
      return { history };
    },
  );

  app.post(
    '/api/workflows/:name/run',
    {
      schema: { params: templateNameParams, body: runWorkflowBody },
      config: {
        mutation: true,
        optionalBody: true,
        docs: {
          summary: 'Run a workflow template now (a manual execution, whatever its overlap policy)',
          description: 'The body is optional: without it the execution runs with input {}.',
          responses: {
            201: '{"execution_id"}',
            404: noTemplate,
            409: 'the template is not runnable: the message names the steps without a handler',
            503: unavailable,
          },
        },
      },
    },
    async (request, reply) => {
      const executionId = await runNow(pool, steps, request.params.name, request.body.input ?? {});
      return reply.code(201).send({ execution_id: executionId });
    },
  );

  app.get(
    '/api/executions',
    {
      schema: { querystring: listExecutionsQuery },
      config: { docs: { summary: 'Workflow executions, newest first', responses: { 200: '{"executions": [...]}', 503: unavailable } } },
    },
    async (request) => {
      const { template, status, limit } = request.query;
      return { executions: await listExecutions(db, { template, status, limit }) };
    },
  );

  app.get(
    '/api/executions/:id',
    {
      schema: { params: executionIdParams },
      config: {
        docs: {
          summary: 'One workflow execution with its steps (agent, attempts, durations, outputs, errors)',
          responses: { 200: 'the execution with its steps', 404: noExecution, 503: unavailable },
        },
      },
    },
    async (request) => {
      const execution = await getExecution(db, request.params.id);
      if (!execution) throw executionNotFound(request.params.id);
      return execution;
    },
  );

  app.post(
    '/api/executions/:id/retry',
    {
      schema: { params: executionIdParams, body: retryExecutionBody },
      config: {
        mutation: true,
        optionalBody: true,
        docs: {
          summary: 'Run a failed or cancelled execution again, from its first step that did not succeed or from a named step',
          description:
            'The body is optional. Earlier steps keep their outputs and do not run again; with from_step, a succeeded execution can be retried too.',
          responses: {
            200: '{"execution_id", "from_step"}',
            404: noExecution,
            409: 'the execution is pending or running (or succeeded, without from_step), or has no such step',
            503: unavailable,
          },
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const fromStep = await retry(pool, id, request.body.from_step);
      return { execution_id: id, from_step: fromStep };
    },
  );

  app.post(
    '/api/executions/:id/cancel',
    {
      schema: { params: executionIdParams },
      config: {
        mutation: true,
        docs: {
          summary: 'Cancel a pending or running workflow execution (and its current step job)',
          responses: {
            200: 'the execution after the change, with its steps',
            404: noExecution,
            409: 'the execution has finished',
            503: unavailable,
          },
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      await cancel(pool, id);
      const execution = await getExecution(db, id);
      if (!execution) throw executionNotFound(id);
      return execution;
    },
  );
}

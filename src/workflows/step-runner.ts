import type { Queryable } from '../db/queryable.js';
import { type ConnectionPool, withClientTransaction } from '../db/transaction.js';
import type { JobContext, JobHandler } from '../queue/job-types.js';
import { sleep } from '../sleep.js';
import { quote, storableText } from '../text.js';
import { enqueueStep, finishExecution, recordEvent } from './executions.js';
import { type StepAgent, type StepHandlerRegistry, StepSkipped, stepConfigProblem } from './step-handlers.js';
import type { TemplateStep } from './templates.js';

/**
 * The workflow_step job's handler: carries out one step of one execution.
 *
 * Durability: a step's success (its output, the next step's job, or the execution's end) commits
 * in one transaction, and a step whose row says succeeded or skipped is never run again; so a
 * crash anywhere only repeats the attempt that was under way. The step's own timeout is enforced
 * here (the job type's is a ceiling above every step's).
 */

export interface StepPayload {
  execution_id: number;
  step: number;
}

interface ExecutionState {
  status: string;
  template: string;
  steps: TemplateStep[];
  input: unknown;
}

/** How often a step waiting for a free agent (all at max_concurrent_steps) looks again. */
const agentPollMs = 200;

export function stepRunner(registry: StepHandlerRegistry): JobHandler<StepPayload> {
  return (ctx) => runStep(registry, ctx);
}

async function runStep(registry: StepHandlerRegistry, ctx: JobContext<StepPayload>): Promise<void> {
  const pool = ctx.pool as unknown as ConnectionPool & Queryable;
  const { execution_id: executionId, step: order } = ctx.payload;
  const state = await loadExecution(pool, executionId);
  if (!state) {
    ctx.log.warn(`workflow execution ${executionId} does not exist: nothing to run`);
    return;
  }
  const step = state.steps.find((s) => s.order === order);
  if (!step) throw new Error(`execution ${executionId} has no step ${order}`);
  if (!['pending', 'running'].includes(state.status)) {
    ctx.log.info(`execution ${executionId} is ${state.status}: step ${step.name} is not run`);
    return;
  }
  const run = await stepRunState(pool, executionId, order);
  if (run === 'succeeded' || run === 'skipped') {
    // Done before a crash that came before its job was marked completed: only make sure it went on.
    await withClientTransaction(pool, (q) => advance(q, executionId, state, step));
    return;
  }

  const spec = registry.get(step.handler);
  if (!spec) throw new Error(`no step handler ${quote(step.handler)} is registered in this worker`);
  const problem = stepConfigProblem(spec, step.config);
  if (problem) return failStep(pool, ctx, executionId, state, step, null, `step ${step.name}: invalid config: ${problem}`, true);

  const agent = await claimAgent(pool, ctx, executionId, step);
  const started = performance.now();
  await withClientTransaction(pool, (q) => markStarted(q, ctx, executionId, state, step, agent));

  const outputs = await earlierOutputs(pool, executionId, order);
  const input = order === 1 ? state.input : (outputs.get(state.steps.find((s) => s.order === order - 1)!.name) ?? null);
  const timeout = AbortSignal.timeout(step.timeout_seconds * 1000);
  const signal = AbortSignal.any([ctx.signal, timeout]);
  let output: unknown;
  try {
    const handler = await registry.load(step.handler);
    output = await Promise.race([
      Promise.resolve(
        handler({
          executionId,
          template: state.template,
          step: { order, name: step.name, handler: step.handler },
          agent,
          config: step.config,
          input,
          outputs: Object.fromEntries(outputs),
          attempt: ctx.attempt,
          maxAttempts: ctx.maxAttempts,
          signal,
          log: ctx.log,
          db: ctx.db,
          pool: ctx.pool,
          skip: (reason: string) => new StepSkipped(reason),
        }),
      ),
      new Promise((_, reject) => {
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      }),
    ]);
  } catch (err) {
    // Shutdown or a lost lease (the execution cancelled): the queue records nothing for this
    // attempt, and neither do we; the step runs again or stays cancelled.
    if (ctx.signal.aborted) throw err;
    const message = timeout.aborted
      ? `timed out after ${step.timeout_seconds} s`
      : storableText(String((err as Error)?.message ?? err), 8_192);
    const last = ctx.attempt >= ctx.maxAttempts;
    await failStep(pool, ctx, executionId, state, step, agent, message, last, performance.now() - started);
    throw err instanceof Error && !timeout.aborted ? err : new Error(`step ${step.name} ${message}`);
  }
  const duration = performance.now() - started;
  await withClientTransaction(pool, async (q) => {
    if (output instanceof StepSkipped) {
      const reason = storableText(output.reason, 2_000);
      const done = await q.query({
        text: `UPDATE workflow_step_runs SET status = 'skipped', reason = $3, output = NULL, finished_at = now(), duration_ms = $4
                WHERE execution_id = $1 AND step_order = $2 AND status = 'running'`,
        values: [executionId, order, reason, duration],
      });
      if (done.rowCount === 0) return; // cancelled meanwhile
      await recordEvent(q, {
        type: 'step.skipped',
        agentId: agent.id,
        executionId,
        jobId: ctx.jobId,
        data: { template: state.template, step: step.name, attempt: ctx.attempt, duration_ms: round(duration), reason },
      });
    } else {
      const json = JSON.stringify(output ?? null);
      const done = await q.query({
        text: `UPDATE workflow_step_runs SET status = 'succeeded', output = $3, error = NULL, finished_at = now(), duration_ms = $4
                WHERE execution_id = $1 AND step_order = $2 AND status = 'running'`,
        values: [executionId, order, json, duration],
      });
      if (done.rowCount === 0) return;
      await recordEvent(q, {
        type: 'step.succeeded',
        agentId: agent.id,
        executionId,
        jobId: ctx.jobId,
        data: { template: state.template, step: step.name, attempt: ctx.attempt, duration_ms: round(duration), agent: agent.name },
      });
    }
    await advance(q, executionId, state, step);
  });
}

/** After a step succeeded or was skipped: enqueue the next step, or end the execution as succeeded. */
async function advance(q: Queryable, executionId: number, state: ExecutionState, step: TemplateStep): Promise<void> {
  const { rows } = await q.query<{ status: string }>({
    text: 'SELECT status FROM workflow_executions WHERE id = $1 FOR UPDATE',
    values: [executionId],
  });
  if (rows[0]?.status !== 'running' && rows[0]?.status !== 'pending') return; // cancelled meanwhile
  const next = state.steps.find((s) => s.order === step.order + 1);
  if (next) {
    const { rows: nextRun } = await q.query<{ status: string }>({
      text: 'SELECT status FROM workflow_step_runs WHERE execution_id = $1 AND step_order = $2',
      values: [executionId, next.order],
    });
    // Already succeeded: this is a replay after a crash; its own job went on from there.
    if (nextRun[0]?.status === 'succeeded' || nextRun[0]?.status === 'skipped') return;
    await enqueueStep(q, executionId, next);
    return;
  }
  const outputs = await earlierOutputs(q, executionId, step.order + 1);
  await finishExecution(q, executionId, { status: 'succeeded', result: Object.fromEntries(outputs) });
}

async function failStep(
  pool: ConnectionPool,
  ctx: JobContext<StepPayload>,
  executionId: number,
  state: ExecutionState,
  step: TemplateStep,
  agent: StepAgent | null,
  message: string,
  last: boolean,
  durationMs?: number,
): Promise<void> {
  await withClientTransaction(pool, async (q) => {
    const done = await q.query({
      text: `UPDATE workflow_step_runs
                SET status = $3, error = $4, finished_at = now(), duration_ms = $5, attempts = greatest(attempts, $6)
              WHERE execution_id = $1 AND step_order = $2 AND status IN ('pending', 'running')`,
      values: [executionId, step.order, last ? 'failed' : 'pending', message, durationMs ?? null, ctx.attempt],
    });
    if (done.rowCount === 0) return;
    await recordEvent(q, {
      type: 'step.failed',
      agentId: agent?.id ?? null,
      executionId,
      jobId: ctx.jobId,
      data: {
        template: state.template,
        step: step.name,
        attempt: ctx.attempt,
        max_attempts: ctx.maxAttempts,
        will_retry: !last,
        ...(durationMs === undefined ? {} : { duration_ms: round(durationMs) }),
        error: message,
      },
    });
    if (last) {
      await finishExecution(q, executionId, {
        status: 'failed',
        error: `step ${step.name} failed after ${ctx.attempt} attempt(s): ${message}`,
      });
    }
  });
  if (last && agent === null) throw new Error(message);
}

/**
 * The agent that carries out the step: the least recently used active agent of the step's type
 * that is below its max_concurrent_steps. Waits while every such agent is at its limit; fails the
 * attempt when the type has no active agent at all.
 */
async function claimAgent(
  pool: ConnectionPool & Queryable,
  ctx: JobContext<StepPayload>,
  executionId: number,
  step: TemplateStep,
): Promise<StepAgent> {
  let waitingLogged = false;
  for (;;) {
    const agent = await withClientTransaction(pool, async (q) => {
      const { rows } = await q.query<{ id: string; name: string; agent_type: string; config: Record<string, unknown> }>({
        text: `SELECT a.id, a.name, a.agent_type, a.config
                 FROM agents a
                WHERE a.agent_type = $1 AND a.status = 'active'
                  AND (a.max_concurrent_steps IS NULL
                       OR a.max_concurrent_steps > (SELECT count(*) FROM workflow_step_runs r
                                                     WHERE r.agent_id = a.id AND r.status = 'running'
                                                       AND NOT (r.execution_id = $2 AND r.step_order = $3)))
                ORDER BY a.last_step_at NULLS FIRST, a.id
                LIMIT 1
                  FOR UPDATE SKIP LOCKED`,
        values: [step.agent_type, executionId, step.order],
      });
      const found = rows[0];
      if (!found) return undefined;
      await q.query({ text: 'UPDATE agents SET last_step_at = clock_timestamp() WHERE id = $1', values: [found.id] });
      // Taken in the same transaction, so the next claim counts this step against the agent.
      await q.query({
        text: `UPDATE workflow_step_runs SET status = 'running', agent_id = $3 WHERE execution_id = $1 AND step_order = $2`,
        values: [executionId, step.order, found.id],
      });
      return { id: Number(found.id), name: found.name, agentType: found.agent_type, config: found.config };
    });
    if (agent) return agent;
    const { rows } = await pool.query<{ n: string }>({
      text: `SELECT count(*) AS n FROM agents WHERE agent_type = $1 AND status = 'active'`,
      values: [step.agent_type],
    });
    if (rows[0]!.n === '0') {
      throw new Error(
        `no active agent of type ${quote(step.agent_type)} to carry out step ${step.name}: add one, or set one's status to active`,
      );
    }
    if (!waitingLogged) {
      ctx.log.info(`step ${step.name} of execution ${executionId} waits for a free ${step.agent_type} agent (all at max_concurrent_steps)`);
      waitingLogged = true;
    }
    await sleep(agentPollMs, ctx.signal);
  }
}

async function markStarted(
  q: Queryable,
  ctx: JobContext<StepPayload>,
  executionId: number,
  state: ExecutionState,
  step: TemplateStep,
  agent: StepAgent,
): Promise<void> {
  await q.query({
    text: `UPDATE workflow_step_runs
              SET status = 'running', agent_id = $3, attempts = $4, job_id = $5, started_at = now(),
                  finished_at = NULL, error = NULL, duration_ms = NULL
            WHERE execution_id = $1 AND step_order = $2`,
    values: [executionId, step.order, agent.id, ctx.attempt, ctx.jobId],
  });
  const { rows } = await q.query<{ first: boolean }>({
    text: `UPDATE workflow_executions
              SET status = 'running', started_at = coalesce(started_at, now()), current_step = $2
            WHERE id = $1 AND status IN ('pending', 'running')
           RETURNING (started_at = now()) AS first`,
    values: [executionId, step.order],
  });
  if (rows[0]?.first) {
    await recordEvent(q, { type: 'workflow.started', executionId, data: { template: state.template } });
  }
  await recordEvent(q, {
    type: 'step.started',
    agentId: agent.id,
    executionId,
    jobId: ctx.jobId,
    data: { template: state.template, step: step.name, handler: step.handler, attempt: ctx.attempt, agent: agent.name },
  });
}

async function loadExecution(q: Queryable, executionId: number): Promise<ExecutionState | undefined> {
  const { rows } = await q.query<ExecutionState>({
    text: `SELECT e.status, t.name AS template, e.steps, e.input
             FROM workflow_executions e JOIN workflow_templates t ON t.id = e.template_id
            WHERE e.id = $1`,
    values: [executionId],
  });
  return rows[0];
}

async function stepRunState(q: Queryable, executionId: number, order: number): Promise<string | undefined> {
  const { rows } = await q.query<{ status: string }>({
    text: 'SELECT status FROM workflow_step_runs WHERE execution_id = $1 AND step_order = $2',
    values: [executionId, order],
  });
  return rows[0]?.status;
}

/** Outputs of the steps before `order`, by name (null for a skipped one). */
async function earlierOutputs(q: Queryable, executionId: number, order: number): Promise<Map<string, unknown>> {
  const { rows } = await q.query<{ name: string; output: unknown }>({
    text: `SELECT name, output FROM workflow_step_runs
            WHERE execution_id = $1 AND step_order < $2 ORDER BY step_order`,
    values: [executionId, order],
  });
  return new Map(rows.map((r) => [r.name, r.output ?? null]));
}

const round = (ms: number) => Math.round(ms * 10) / 10;

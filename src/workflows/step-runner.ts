import type { Queryable } from '../db/queryable.js';
import { type ConnectionPool, withClientTransaction } from '../db/transaction.js';
import { processEvents } from '../events/process-events.js';
import { recordFailedStepEpisode } from '../memory/episodes.js';
import type { JobContext, JobHandler } from '../queue/job-types.js';
import { sleep } from '../sleep.js';
import { quote, storableText } from '../text.js';
import { enqueueStep, finishExecution, recordEvent } from './executions.js';
import { type StepAgent, type StepHandlerRegistry, StepSkipped, stepConfigProblem } from './step-handlers.js';
import { claimStepSql, finishStepSql, leastRecentFreeAgentSql, lockAgentsSql } from './step-queries.js';
import type { TemplateStep } from './templates.js';

/**
 * The workflow_step job's handler: carries out one step of one execution.
 *
 * Durability: a step's end (its output and the next step's job) commits in one statement, and a
 * step whose row says succeeded or skipped is never run again; so a crash anywhere only repeats
 * the attempt that was under way (for the last step, the execution's end follows in a statement of
 * its own, which a replay of the job repeats). The step's own timeout is enforced here (the job
 * type's is a ceiling above every step's).
 */

/** What an episode keeps of a step's output: its top-level numbers, flags and short texts. */
export function episodeSummary(output: unknown): Record<string, unknown> {
  if (output === null || typeof output !== 'object' || Array.isArray(output) || output instanceof StepSkipped) return {};
  const summary: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(output)) {
    if (typeof value === 'number' || typeof value === 'boolean' || (typeof value === 'string' && value.length <= 200)) summary[key] = value;
  }
  return summary;
}

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
  const claim = await claimStep(pool, ctx);
  if (!claim) return;
  const { state, step, agent, outputs } = claim;
  const about = { execution_id: executionId, template: state.template, step: step.name, order, attempt: ctx.attempt };

  const spec = registry.get(step.handler);
  const problem = spec ? stepConfigProblem(spec, step.config) : `no step handler ${quote(step.handler)} is registered in this worker`;
  if (problem) {
    // Trying again cannot help: the step and its execution fail now, whatever attempts are left,
    // and so does this attempt of its job.
    const message = spec ? `invalid config: ${problem}` : problem;
    await failStep(pool, ctx, executionId, state, step, agent, message, true);
    throw new Error(message);
  }

  const started = performance.now();
  if (order === 1 && ctx.attempt === 1)
    processEvents().publish('execution.started', { execution_id: executionId, template: state.template });
  processEvents().publish('step.started', { ...about, agent: agent.name });
  const previous = state.steps.find((s) => s.order === order - 1);
  const input = previous ? (outputs.get(previous.name) ?? null) : state.input;
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
  const skipped = output instanceof StepSkipped ? storableText(output.reason, 2_000) : null;
  const next = state.steps.find((x) => x.order === order + 1);
  const { rows } = await pool.query<{ recorded: number; execution_status: string | null }>({
    name: 'cesar_wf_finish_step',
    text: finishStepSql,
    values: [
      executionId,
      order,
      ctx.jobId,
      skipped === null ? JSON.stringify(output ?? null) : null,
      skipped,
      skipped === null ? 'succeeded' : 'skipped',
      duration,
      ctx.attempt,
      next?.max_attempts ?? null,
      JSON.stringify(episodeSummary(output)),
    ],
  });
  const result = rows[0]!;
  // Not recorded: the execution was cancelled (or retried) meanwhile; its state is someone else's now.
  if (result.recorded === 0 || !['pending', 'running'].includes(result.execution_status ?? '')) return;
  processEvents().publish('step.succeeded', {
    ...about,
    agent: agent.name,
    status: skipped === null ? 'succeeded' : 'skipped',
    duration_ms: round(duration),
    ...(skipped === null ? {} : { reason: skipped }),
  });
  // The last step: the execution ends. (A crash before this is repaired when the job runs again:
  // its step is done, so the replay only advances.)
  if (!next) {
    await finishExecution(pool, executionId, { status: 'succeeded' });
    processEvents().publish('execution.succeeded', { execution_id: executionId, template: state.template });
  }
}

interface Claim {
  state: ExecutionState;
  step: TemplateStep;
  agent: StepAgent;
  outputs: Map<string, unknown>;
}

interface ClaimRow {
  execution_status: string | null;
  template: string;
  input: unknown;
  steps: TemplateStep[];
  step: TemplateStep | null;
  run_status: string | null;
  outputs: Array<[string, unknown]>;
  free_agents: number;
  limited: boolean;
  agent_id: string | null;
  agent_name: string;
  agent_config: Record<string, unknown>;
}

/**
 * Take an agent for the step and mark it started (one statement), or say why not: the execution is
 * gone or over (nothing to do), the step is done already (a replay: make sure it went on), or no
 * agent is free (wait: shortly when one was only locked by another claim, longer when all are at
 * their max_concurrent_steps; fail when the type has no active agent at all).
 */
async function claimStep(pool: ConnectionPool & Queryable, ctx: JobContext<StepPayload>): Promise<Claim | undefined> {
  const { execution_id: executionId, step: order } = ctx.payload;
  let waitingLogged = false;
  const claimWith = async (q: Queryable, agentId: number | null): Promise<ClaimRow> => {
    const { rows } = await q.query<ClaimRow>({
      name: 'cesar_wf_claim_step',
      text: claimStepSql,
      values: [executionId, order, ctx.attempt, ctx.jobId, agentId],
    });
    return rows[0]!;
  };
  for (;;) {
    let row = await claimWith(pool, null);
    if (row.agent_id === null && row.limited && row.step) {
      // The least recently used free agent has a limit: choose again with the type's agents locked.
      const agentType = row.step.agent_type;
      row = await withClientTransaction(pool, async (q) => {
        await q.query({ text: lockAgentsSql, values: [agentType] });
        const free = await q.query<{ id: string }>({ text: leastRecentFreeAgentSql, values: [agentType, executionId, order] });
        return free.rows[0] ? claimWith(q, Number(free.rows[0].id)) : { ...row, free_agents: 0 };
      });
    }
    if (row.execution_status === null) {
      ctx.log.warn(`workflow execution ${executionId} does not exist: nothing to run`);
      return undefined;
    }
    if (!row.step) throw new Error(`execution ${executionId} has no step ${order}`);
    const step = row.step;
    if (!['pending', 'running'].includes(row.execution_status)) {
      ctx.log.info(`execution ${executionId} is ${row.execution_status}: step ${step.name} is not run`);
      return undefined;
    }
    if (row.run_status === 'succeeded' || row.run_status === 'skipped') {
      // Done before a crash that came before its job was marked completed: only make sure it went on.
      const state: ExecutionState = { status: row.execution_status, template: row.template, steps: row.steps, input: row.input };
      await withClientTransaction(pool, (q) => advance(q, executionId, state, step));
      return undefined;
    }
    if (row.agent_id !== null) {
      const state: ExecutionState = { status: 'running', template: row.template, steps: row.steps, input: row.input };
      return {
        state,
        step,
        agent: { id: Number(row.agent_id), name: row.agent_name, agentType: step.agent_type, config: row.agent_config },
        outputs: new Map(row.outputs),
      };
    }
    if (row.free_agents === 0) {
      const { rows: active } = await pool.query<{ n: string }>({
        text: `SELECT count(*) AS n FROM agents WHERE agent_type = $1 AND status = 'active'`,
        values: [step.agent_type],
      });
      if (Number(active[0]!.n) === 0) {
        const message = `no active agent of type ${quote(step.agent_type)} to carry out step ${step.name}: add one, or set one's status to active`;
        const state: ExecutionState = { status: row.execution_status, template: row.template, steps: row.steps, input: row.input };
        await failStep(pool, ctx, executionId, state, step, null, message, ctx.attempt >= ctx.maxAttempts);
        throw new Error(message);
      }
      if (!waitingLogged) {
        ctx.log.info(
          `step ${step.name} of execution ${executionId} waits for a free ${step.agent_type} agent (all at max_concurrent_steps)`,
        );
        waitingLogged = true;
      }
      await sleep(agentPollMs, ctx.signal);
    } else {
      // A free agent was taken by another claim meanwhile: try again at once.
      await sleep(1 + Math.random() * 4, ctx.signal);
    }
  }
}

/**
 * A replay: the step's row says it is done (succeeded or skipped), but its job ran again (the worker
 * died before the job was marked completed). Make sure the execution went on: enqueue the next step
 * (its key makes this a no-op when its job exists) or end the execution.
 */
async function advance(q: Queryable, executionId: number, state: ExecutionState, step: TemplateStep): Promise<void> {
  const { rows } = await q.query<{ status: string; next_status: string | null }>({
    text: `SELECT e.status, (SELECT r.status FROM workflow_step_runs r WHERE r.execution_id = e.id AND r.step_order = $2) AS next_status
             FROM workflow_executions e WHERE e.id = $1 FOR UPDATE`,
    values: [executionId, step.order + 1],
  });
  if (rows[0]?.status !== 'running' && rows[0]?.status !== 'pending') return; // ended or cancelled meanwhile
  const next = state.steps.find((s) => s.order === step.order + 1);
  if (next) {
    // Already under way or done: its own job went on from there.
    if (['running', 'succeeded', 'skipped'].includes(rows[0].next_status ?? '')) return;
    await enqueueStep(q, executionId, next);
    return;
  }
  await finishExecution(q, executionId, { status: 'succeeded' });
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
  const recorded = await withClientTransaction(pool, async (q) => {
    const done = await q.query({
      text: `UPDATE workflow_step_runs
                SET status = $3, error = $4, finished_at = now(), duration_ms = $5, attempts = greatest(attempts, $6)
              WHERE execution_id = $1 AND step_order = $2 AND status IN ('pending', 'running')`,
      values: [executionId, step.order, last ? 'failed' : 'pending', message, durationMs ?? null, ctx.attempt],
    });
    if (done.rowCount === 0) return false;
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
    if (agent) {
      await recordFailedStepEpisode(q, {
        agentId: agent.id,
        executionId,
        template: state.template,
        step: step.name,
        attempt: ctx.attempt,
        error: message,
        willRetry: !last,
        durationMs,
      });
    }
    if (last) {
      await finishExecution(q, executionId, {
        status: 'failed',
        error: `step ${step.name} failed after ${ctx.attempt} attempt(s): ${message}`,
      });
    }
    return true;
  });
  if (!recorded) return;
  const events = processEvents();
  events.publish('step.failed', {
    execution_id: executionId,
    template: state.template,
    step: step.name,
    order: step.order,
    attempt: ctx.attempt,
    agent: agent?.name ?? null,
    will_retry: !last,
    error: message,
  });
  if (last) events.publish('execution.failed', { execution_id: executionId, template: state.template, step: step.name, error: message });
}

const round = (ms: number) => Math.round(ms * 10) / 10;

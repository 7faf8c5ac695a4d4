import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { builtInJobTypes } from '../../src/jobs/index.js';
import { builtInStepHandlers } from '../../src/steps/index.js';
import { applyTemplates, parseTemplates, retry, runNow } from '../../src/workflows/admin.js';
import { sql, useTestDatabase } from '../helpers/db.js';
import { runWorkerUntil } from '../helpers/queue.js';

const steps = builtInStepHandlers();

async function apply(pool: Parameters<typeof applyTemplates>[0], doc: unknown) {
  return applyTemplates(pool, steps, parseTemplates(doc, steps));
}

async function executionStatus(url: string, id: number): Promise<string> {
  return (await sql(url, 'SELECT status FROM workflow_executions WHERE id = $1', [id]))[0]!.status;
}

describe('a workflow execution', () => {
  const t = useTestDatabase();

  it('runs its canary steps in order, each by an agent of its type, and records outputs and agent_events', async () => {
    await apply(t.handle.pool, {
      name: 'three_canaries',
      cron: '0 0 1 1 *',
      steps: [
        { name: 'first', agent_type: 'monitor', handler: 'canary' },
        { name: 'second', agent_type: 'monitor', handler: 'canary', config: { sleep_ms: 20 } },
        { name: 'third', agent_type: 'notifier', handler: 'canary' },
      ],
    });
    const id = await runNow(t.handle.pool, steps, 'three_canaries', { hello: 'world' });
    await runWorkerUntil(
      t.url,
      builtInJobTypes(),
      'the execution to succeed',
      async () => (await executionStatus(t.url, id)) === 'succeeded',
    );
    const runs = await sql(
      t.url,
      `SELECT r.name, r.status, r.attempts, r.output, a.agent_type FROM workflow_step_runs r JOIN agents a ON a.id = r.agent_id
        WHERE execution_id = $1 ORDER BY step_order`,
      [id],
    );
    assert.deepEqual(
      runs.map((r) => [r.name, r.status, r.attempts, r.agent_type]),
      [
        ['first', 'succeeded', 1, 'monitor'],
        ['second', 'succeeded', 1, 'monitor'],
        ['third', 'succeeded', 1, 'notifier'],
      ],
    );
    assert.deepEqual(runs[0]!.output.input, { hello: 'world' }, 'the first step gets the execution input');
    assert.equal(runs[1]!.output.input.step, 'first', "the second step gets the first one's output");
    const events = await sql(t.url, 'SELECT event_type FROM agent_events WHERE execution_id = $1 ORDER BY id', [id]);
    assert.deepEqual(
      events.map((e) => e.event_type),
      [
        'workflow.created',
        'workflow.started',
        'step.started',
        'step.succeeded',
        'step.started',
        'step.succeeded',
        'step.started',
        'step.succeeded',
        'workflow.succeeded',
      ],
    );
    const [execution] = await sql(
      t.url,
      'SELECT template_version, result, started_at, finished_at FROM workflow_executions WHERE id = $1',
      [id],
    );
    assert.match(execution!.template_version, /^[0-9a-f]{12}$/);
    assert.deepEqual(Object.keys(execution!.result).sort(), ['first', 'second', 'third']);
  });

  it('fails on a step out of attempts, and a retry resumes from it keeping the earlier outputs', async () => {
    await apply(t.handle.pool, {
      name: 'fails_then_retried',
      cron: '0 0 1 1 *',
      steps: [
        { name: 'one', agent_type: 'monitor', handler: 'canary' },
        { name: 'two', agent_type: 'monitor', handler: 'canary', config: { fail_attempts: 2 }, max_attempts: 2 },
        { name: 'three', agent_type: 'monitor', handler: 'canary' },
      ],
    });
    const id = await runNow(t.handle.pool, steps, 'fails_then_retried');
    await runWorkerUntil(t.url, builtInJobTypes(), 'the execution to fail', async () => (await executionStatus(t.url, id)) === 'failed');
    const [failed] = await sql(t.url, 'SELECT error FROM workflow_executions WHERE id = $1', [id]);
    assert.match(failed!.error, /^step two failed after 2 attempt\(s\): canary step failing on purpose/);
    const firstOutput = (
      await sql(t.url, 'SELECT output, finished_at FROM workflow_step_runs WHERE execution_id = $1 AND step_order = 1', [id])
    )[0]!;

    // The step's config says it fails its first 2 attempts; its retried job starts again at attempt 1, so make it pass.
    await sql(t.url, `UPDATE workflow_executions SET steps = jsonb_set(steps, '{1,config}', '{}') WHERE id = $1`, [id]);
    assert.equal(await retry(t.handle.pool, id), 'two');
    await runWorkerUntil(
      t.url,
      builtInJobTypes(),
      'the retried execution to succeed',
      async () => (await executionStatus(t.url, id)) === 'succeeded',
    );
    const after = (
      await sql(t.url, 'SELECT output, finished_at FROM workflow_step_runs WHERE execution_id = $1 AND step_order = 1', [id])
    )[0]!;
    assert.deepEqual(after, firstOutput, 'step one did not run again');
    const started = await sql(
      t.url,
      `SELECT payload->>'step' AS step FROM agent_events WHERE execution_id = $1 AND event_type = 'step.started'`,
      [id],
    );
    assert.deepEqual(
      started.map((e) => e.step),
      ['one', 'two', 'two', 'two', 'three'],
    );
  });

  it('makes one execution per manual run, even for runs asked for at the same instant', async () => {
    await apply(t.handle.pool, {
      name: 'many_at_once',
      cron: '0 0 1 1 *',
      steps: [{ name: 'only', agent_type: 'monitor', handler: 'canary' }],
    });
    const ids = await Promise.all(Array.from({ length: 20 }, () => runNow(t.handle.pool, steps, 'many_at_once')));
    assert.equal(new Set(ids).size, 20);
    const [row] = await sql(
      t.url,
      `SELECT count(*)::int AS n FROM workflow_executions e JOIN workflow_templates t ON t.id = e.template_id WHERE t.name = 'many_at_once'`,
    );
    assert.equal(row!.n, 20);
  });

  it('fails at once, whatever attempts are left, a step whose handler this worker lacks or whose config it refuses', async () => {
    await apply(t.handle.pool, {
      name: 'odd_steps',
      cron: '0 0 1 1 *',
      steps: [{ name: 'only', agent_type: 'monitor', handler: 'canary', max_attempts: 5 }],
    });
    const ghost = await runNow(t.handle.pool, steps, 'odd_steps');
    const badConfig = await runNow(t.handle.pool, steps, 'odd_steps');
    // As an execution made by another cesar version might hold them (executions keep their steps).
    await sql(t.url, `UPDATE workflow_executions SET steps = jsonb_set(steps, '{0,handler}', '"ghost"') WHERE id = $1`, [ghost]);
    await sql(t.url, `UPDATE workflow_executions SET steps = jsonb_set(steps, '{0,config}', '{"sleep_ms": "soon"}') WHERE id = $1`, [
      badConfig,
    ]);
    await runWorkerUntil(t.url, builtInJobTypes(), 'both executions to fail', async () => {
      const rows = await sql(t.url, 'SELECT status FROM workflow_executions WHERE id = ANY($1)', [[ghost, badConfig]]);
      return rows.every((r) => r.status === 'failed');
    });
    const errors = await sql(t.url, 'SELECT id, error FROM workflow_executions WHERE id = ANY($1) ORDER BY id', [[ghost, badConfig]]);
    assert.equal(errors[0]!.error, 'step only failed after 1 attempt(s): no step handler "ghost" is registered in this worker');
    assert.match(errors[1]!.error, /^step only failed after 1 attempt\(s\): invalid config: .*sleep_ms/);
  });

  it('a step job run again after its step was done (its completion lost) only makes sure the execution went on', async () => {
    await apply(t.handle.pool, {
      name: 'replayed',
      cron: '0 0 1 1 *',
      steps: [
        { name: 'one', agent_type: 'monitor', handler: 'canary' },
        { name: 'two', agent_type: 'monitor', handler: 'canary', config: { sleep_ms: 1_000 } },
        { name: 'three', agent_type: 'monitor', handler: 'canary' },
      ],
    });
    const id = await runNow(t.handle.pool, steps, 'replayed');
    let replayed = false;
    await runWorkerUntil(t.url, builtInJobTypes(), 'the execution to succeed', async () => {
      const [two] = await sql(t.url, 'SELECT status FROM workflow_step_runs WHERE execution_id = $1 AND step_order = 2', [id]);
      if (two!.status === 'running' && !replayed) {
        // Step one's job completed; as if that completion had been lost, it runs again.
        const flipped = await sql(
          t.url,
          `UPDATE job_queue SET status = 'pending', finished_at = NULL, run_at = now()
            WHERE dedupe_key = $1 AND status = 'completed' RETURNING id`,
          [`wf:${id}:1`],
        );
        replayed = flipped.length > 0;
      }
      return (await sql(t.url, 'SELECT status FROM workflow_executions WHERE id = $1', [id]))[0]!.status === 'succeeded';
    });
    const started = await sql(
      t.url,
      `SELECT payload->>'step' AS step, count(*)::int AS n FROM agent_events
        WHERE execution_id = $1 AND event_type = 'step.started' GROUP BY 1 ORDER BY 1`,
      [id],
    );
    assert.deepEqual(
      started.map((r) => [r.step, r.n]),
      [
        ['one', 1],
        ['three', 1],
        ['two', 1],
      ],
    );
    const jobs = await sql(t.url, 'SELECT dedupe_key, count(*)::int AS n FROM job_queue WHERE dedupe_key LIKE $1 GROUP BY 1 ORDER BY 1', [
      `wf:${id}:%`,
    ]);
    assert.deepEqual(
      jobs.map((j) => [j.dedupe_key, j.n]),
      [
        [`wf:${id}:1`, 1],
        [`wf:${id}:2`, 1],
        [`wf:${id}:3`, 1],
      ],
    );
    const [one] = await sql(t.url, 'SELECT claims FROM job_queue WHERE dedupe_key = $1', [`wf:${id}:1`]);
    assert.equal(one!.claims, 2, "step one's job ran twice");
  });
});

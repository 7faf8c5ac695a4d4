import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { builtInJobTypes } from '../../src/jobs/index.js';
import { builtInStepHandlers } from '../../src/steps/index.js';
import { applyTemplates, parseTemplates, runNow } from '../../src/workflows/admin.js';
import { sql, useTestDatabase } from '../helpers/db.js';
import { runWorkerUntil } from '../helpers/queue.js';

const steps = builtInStepHandlers();

async function agentsOfType(url: string, type: string, names: string[], maxConcurrentSteps: number | null = null): Promise<void> {
  for (const name of names) {
    await sql(url, `INSERT INTO agents (name, agent_type, description, max_concurrent_steps) VALUES ($1, $2, 'test agent', $3)`, [
      name,
      type,
      maxConcurrentSteps,
    ]);
  }
}

async function oneStepTemplate(
  pool: Parameters<typeof applyTemplates>[0],
  name: string,
  agentType: string,
  config: Record<string, unknown> = {},
) {
  await applyTemplates(
    pool,
    steps,
    parseTemplates(
      { name, cron: '0 0 1 1 *', steps: [{ name: 'work', agent_type: agentType, handler: 'canary', config, max_attempts: 1 }] },
      steps,
    ),
  );
}

async function runsOf(url: string, template: string) {
  return sql(
    url,
    `SELECT a.name AS agent, r.status, r.started_at, r.finished_at
       FROM workflow_step_runs r
       JOIN workflow_executions e ON e.id = r.execution_id
       JOIN workflow_templates t ON t.id = e.template_id
       LEFT JOIN agents a ON a.id = r.agent_id
      WHERE t.name = $1 ORDER BY r.started_at`,
    [template],
  );
}

describe('agents carry out steps', () => {
  const t = useTestDatabase();

  it('fairly: the least recently used agent of the type takes the next step (30 steps, 3 agents: 10 each, in turn)', async () => {
    await agentsOfType(t.url, 'fair_test', ['fair_a', 'fair_b', 'fair_c']);
    await oneStepTemplate(t.handle.pool, 'fairness', 'fair_test');
    for (let i = 0; i < 30; i++) await runNow(t.handle.pool, steps, 'fairness');
    await runWorkerUntil(
      t.url,
      builtInJobTypes(),
      'the 30 steps',
      async () => (await runsOf(t.url, 'fairness')).every((r) => r.status === 'succeeded'),
      { concurrency: 1 },
    );
    const runs = await runsOf(t.url, 'fairness');
    const counts = new Map<string, number>();
    for (const r of runs) counts.set(r.agent, (counts.get(r.agent) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries(counts), { fair_a: 10, fair_b: 10, fair_c: 10 });
    for (let i = 3; i < runs.length; i++) assert.equal(runs[i]!.agent, runs[i - 3]!.agent, 'each agent again only after the two others');
  });

  it('within max_concurrent_steps: an agent at its limit takes no step until its running one ends', async () => {
    await agentsOfType(t.url, 'limited_test', ['limited_a', 'limited_b'], 1);
    await oneStepTemplate(t.handle.pool, 'limited', 'limited_test', { sleep_ms: 150 });
    for (let i = 0; i < 6; i++) await runNow(t.handle.pool, steps, 'limited');
    await runWorkerUntil(
      t.url,
      builtInJobTypes(),
      'the 6 steps',
      async () => (await runsOf(t.url, 'limited')).every((r) => r.status === 'succeeded'),
      { concurrency: 6 },
    );
    const runs = await runsOf(t.url, 'limited');
    for (const agent of ['limited_a', 'limited_b']) {
      const mine = runs.filter((r) => r.agent === agent);
      assert.ok(mine.length > 0, `${agent} carried out steps`);
      for (let i = 1; i < mine.length; i++) {
        assert.ok(mine[i]!.started_at >= mine[i - 1]!.finished_at, `${agent} never ran two steps at once`);
      }
    }
  });

  it('a step whose agent type has no active agent fails with the line that says what to do', async () => {
    await oneStepTemplate(t.handle.pool, 'nobody_home', 'nobody_of_this_type');
    const id = await runNow(t.handle.pool, steps, 'nobody_home');
    await runWorkerUntil(t.url, builtInJobTypes(), 'the execution to fail', async () => {
      return (await sql(t.url, 'SELECT status FROM workflow_executions WHERE id = $1', [id]))[0]!.status === 'failed';
    });
    const [execution] = await sql(t.url, 'SELECT error FROM workflow_executions WHERE id = $1', [id]);
    assert.match(
      execution!.error,
      /^step work failed after 1 attempt\(s\): no active agent of type "nobody_of_this_type" to carry out step work: add one, or set one's status to active$/,
    );
  });
});

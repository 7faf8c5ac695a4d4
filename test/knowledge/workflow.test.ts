import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { workflowStepJobType } from '../../src/jobs/workflow-step.js';
import { neighbourhood } from '../../src/knowledge/traverse.js';
import { JobTypeRegistry } from '../../src/queue/job-types.js';
import { knowledgeSteps } from '../../src/steps/knowledge.js';
import { runNow } from '../../src/workflows/admin.js';
import { StepHandlerRegistry } from '../../src/workflows/step-handlers.js';
import { createTestDatabase, type OpenTestDatabase, openTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { runWorkerUntil } from '../helpers/queue.js';
import { baseTime, writeFixture } from './fixture.js';

/** The three knowledge steps alone (the built-in registry gets them when src/steps/index.ts registers them). */
function registries() {
  const steps = new StepHandlerRegistry();
  for (const step of knowledgeSteps()) steps.add(step);
  return { steps, jobs: new JobTypeRegistry().add(workflowStepJobType(steps)) };
}

describe('the knowledge_graph_update workflow', () => {
  let db: TestDatabase;
  let handle: OpenTestDatabase;
  const { steps, jobs } = registries();
  let firstId = 0;

  before(async () => {
    db = await createTestDatabase();
    handle = await openTestDatabase(db.url);
    await writeFixture(db.url, baseTime());
    // Read what the previous execution's steps just recorded (the default waits 10 s for it).
    await sql(
      db.url,
      `UPDATE workflow_steps SET config = '{"lag_seconds": 0}'
        WHERE name = 'extract_entities' AND template_id = (SELECT id FROM workflow_templates WHERE name = 'knowledge_graph_update')`,
    );
  });
  after(async () => {
    await handle?.close();
    await db?.drop();
  });

  async function run() {
    const id = await runNow(handle.pool, steps, 'knowledge_graph_update');
    const read = async () => (await sql(db.url, 'SELECT status, result, error FROM workflow_executions WHERE id = $1', [id]))[0]!;
    await runWorkerUntil(db.url, jobs, `execution ${id} to end`, async () => ['succeeded', 'failed'].includes((await read()).status));
    const stepRuns = await sql(
      db.url,
      `SELECT r.name, r.handler, r.status, r.error, a.agent_type, a.name AS agent FROM workflow_step_runs r
         LEFT JOIN agents a ON a.id = r.agent_id
        WHERE r.execution_id = $1 ORDER BY r.step_order`,
      [id],
    );
    const row = await read();
    return { id, status: row.status as string, result: row.result as Record<string, Record<string, unknown>>, steps: stepRuns };
  }

  it('runs its three steps, each by a knowledge_graph agent, and the result gives every step’s counts', async () => {
    const first = await run();
    firstId = first.id;
    assert.equal(first.status, 'succeeded', JSON.stringify(first.steps));
    assert.deepEqual(
      first.steps.map((s) => [s.name, s.handler, s.status, s.agent_type]),
      [
        ['extract_entities', 'extract_entities', 'succeeded', 'knowledge_graph'],
        ['extract_relations', 'extract_relations', 'succeeded', 'knowledge_graph'],
        ['prune_weak_edges', 'prune_edges', 'succeeded', 'knowledge_graph'],
      ],
    );
    const { extract_entities: entities, extract_relations: relations, prune_weak_edges: prune } = first.result;
    assert.equal((entities!.nodes as { added: number }).added, 20);
    assert.equal((entities!.edges as { added: number }).added, 27);
    // The fixture's 10 events and this execution's own first three (workflow.created, workflow.started,
    // step.started of extract_entities: with no lag, they are old enough), which bring nothing.
    assert.deepEqual(
      Object.fromEntries(
        Object.entries(entities!.sources as Record<string, { read: number; used: number }>).map(([s, r]) => [s, [r.read, r.used]]),
      ),
      { agent_events: [13, 8], workflow_executions: [2, 2], memory_semantic: [4, 3], market_analysis: [3, 3], financial_data: [450, 450] },
    );
    assert.equal(entities!.lag_ms, 0);
    assert.deepEqual(
      (relations!.correlations as { holding: Array<{ src: string; dst: string }> }).holding.map((h) => [h.src, h.dst]),
      [['AAPL', 'MSFT']],
    );
    assert.deepEqual(relations!.edges, { added: 1, updated: 0, decayed: 0 });
    assert.equal(prune!.pruned, 3);
    assert.equal(prune!.min_weight, 0.1);
    assert.deepEqual([prune!.nodes, prune!.edges, prune!.history], [20, 25, 3]);
    const [moved] = await sql(db.url, 'SELECT count(*)::int AS n FROM knowledge_edges_history WHERE execution_id = $1', [first.id]);
    assert.equal(moved?.n, 3, 'the history says which execution pruned them');

    const events = await sql(
      db.url,
      `SELECT e.payload->>'step' AS step, a.agent_type FROM agent_events e JOIN agents a ON a.id = e.agent_id
        WHERE e.execution_id = $1 AND e.event_type = 'step.succeeded' ORDER BY e.id`,
      [first.id],
    );
    assert.deepEqual(
      events.map((e) => [e.step, e.agent_type]),
      [
        ['extract_entities', 'knowledge_graph'],
        ['extract_relations', 'knowledge_graph'],
        ['prune_weak_edges', 'knowledge_graph'],
      ],
    );
  });

  it('the next execution reads what the previous one recorded: its agents, its steps, its collaboration', async () => {
    const second = await run();
    assert.equal(second.status, 'succeeded', JSON.stringify(second.steps));
    const sources = second.result.extract_entities!.sources as Record<string, { read: number; used: number }>;
    assert.equal(sources.agent_events!.used, 3, 'the three step.succeeded of the first execution');
    assert.equal(sources.workflow_executions!.read, 1, 'the first execution, finished');
    assert.deepEqual([sources.memory_semantic!.read, sources.market_analysis!.read, sources.financial_data!.read], [0, 0, 0]);
    const around = await neighbourhood(handle.pool, { kind: 'workflow', key: 'knowledge_graph_update' }, 1);
    assert.deepEqual(
      around.nodes.filter((n) => n.kind === 'step').map((n) => n.key),
      ['knowledge_graph_update.extract_entities', 'knowledge_graph_update.extract_relations', 'knowledge_graph_update.prune_weak_edges'],
    );
    const agents = around.nodes.filter((n) => n.kind === 'agent').map((n) => n.key);
    assert.ok(agents.length >= 1);
    const [types] = await sql(db.url, 'SELECT array_agg(DISTINCT agent_type) AS types FROM agents WHERE name = ANY($1)', [agents]);
    assert.deepEqual(types?.types, ['knowledge_graph']);
    const [pairs] = await sql(
      db.url,
      `SELECT count(*)::int AS n FROM knowledge_edges e JOIN knowledge_nodes s ON s.id = e.src_id
        WHERE e.rel = 'collaborated_with' AND s.key IN (SELECT name FROM agents WHERE agent_type = 'knowledge_graph')`,
    );
    const [ran] = await sql(db.url, 'SELECT count(DISTINCT agent_id)::int AS n FROM workflow_step_runs WHERE execution_id = $1', [firstId]);
    const n = ran!.n as number;
    assert.equal(pairs?.n, (n * (n - 1)) / 2, `the first execution's ${n} agents collaborated, each pair once`);
  });
});

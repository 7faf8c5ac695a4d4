import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { builtInJobTypes } from '../../src/jobs/index.js';
import { defaultLlmSettings } from '../../src/llm/settings.js';
import { consolidateMemory, defaultConsolidationOptions } from '../../src/memory/consolidate.js';
import { cesar } from '../helpers/cli.js';
import { createTestDatabase, openTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { type OllamaStandIn, startOllamaStandIn } from '../helpers/ollama.js';
import { runWorkerUntil } from '../helpers/queue.js';

/** An episode of Copywriter's, `minutesAgo` old. */
function episode(minutesAgo: number, content: string, context: Record<string, unknown>, importance = 0.3): string {
  return `INSERT INTO memory_episodic (agent_id, occurred_at, content, context, importance)
          SELECT id, now() - interval '${minutesAgo} minutes', '${content.replace(/'/g, "''")}', '${JSON.stringify(context).replace(/'/g, "''")}'::jsonb, ${importance}
            FROM agents WHERE name = 'Copywriter'`;
}

const step = (outcome: string) => ({ kind: 'step', template: 'newsletter', step: 'draft', outcome, execution_id: 999_999 });

describe('memory: episodes from work and their consolidation', () => {
  let db: TestDatabase;
  let handle: Awaited<ReturnType<typeof openTestDatabase>>;
  let ollama: OllamaStandIn;
  before(async () => {
    db = await createTestDatabase();
    handle = await openTestDatabase(db.url);
    ollama = await startOllamaStandIn();
  });
  after(async () => {
    await ollama.close();
    await handle.close();
    await db.drop();
  });

  const run = () => consolidateMemory(handle.pool, { ...defaultConsolidationOptions, settleMs: 10 * 60_000, minSupport: 3 });

  it('fixture episodes give exactly the expected facts and history; a second run changes nothing', async () => {
    for (let i = 0; i < 4; i++)
      await sql(db.url, episode(60 - i, `succeeded step draft of newsletter (execution ${i})`, step('succeeded')));
    await sql(
      db.url,
      episode(50, 'Email from ann@example.com — Re: Quarterly numbers', { subject: 'Re: Quarterly numbers', from: 'ann@example.com' }, 0.9),
    );
    await sql(
      db.url,
      episode(49, 'Email from bob@example.com — quarterly NUMBERS', { subject: 'quarterly NUMBERS', from: 'bob@example.com' }),
    );
    await sql(db.url, episode(45, 'a passing thought about fonts', {}));
    await sql(db.url, episode(1, 'succeeded step draft of newsletter (execution 9)', step('succeeded')));

    const first = await run();
    assert.deepEqual([first.added, first.updated, first.superseded, first.noop, first.episodes_consolidated], [2, 0, 0, 1, 6]);
    const facts = await sql(db.url, `SELECT topic, content, confidence, episode_count FROM memory_semantic ORDER BY topic`);
    // The UTC day of each fact's newest episode (the run may cross midnight after the episodes were written).
    const days = await sql(
      db.url,
      `SELECT s.topic, to_char(max(e.occurred_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day
         FROM memory_semantic s JOIN memory_semantic_episodes l ON l.semantic_id = s.id JOIN memory_episodic e ON e.id = l.episode_id
        GROUP BY s.topic`,
    );
    const dayOf = (topic: string): string => String(days.find((d) => d.topic === topic)?.day);
    assert.deepEqual(facts, [
      {
        topic: 'email:quarterly numbers',
        content: `Copywriter has received 2 email(s) about "quarterly NUMBERS" (last from bob@example.com, ${dayOf('email:quarterly numbers')}).`,
        confidence: 0.5,
        episode_count: 2,
      },
      {
        topic: 'step:newsletter/draft',
        content: `Copywriter usually succeeds at draft of newsletter: 4 succeeded of 4 runs (last ${dayOf('step:newsletter/draft')}).`,
        confidence: 0.667,
        episode_count: 4,
      },
    ]);
    const decisions = await sql(
      db.url,
      `SELECT topic, decision, claim, cardinality(episode_ids) AS n FROM memory_consolidation_history ORDER BY id`,
    );
    assert.deepEqual(decisions, [
      { topic: 'email:quarterly numbers', decision: 'add', claim: 'observed', n: 2 },
      { topic: 'step:newsletter/draft', decision: 'add', claim: 'succeeded', n: 4 },
    ]);
    const [links] = await sql(db.url, 'SELECT count(*)::int AS n FROM memory_semantic_episodes');
    assert.equal(links?.n, 6);
    const [waiting] = await sql(db.url, `SELECT count(*)::int AS n FROM memory_episodic WHERE consolidated_at IS NULL`);
    assert.equal(waiting?.n, 2, 'the lone note (too little support) and the fresh episode (not settled) wait');

    const snapshot = `SELECT (SELECT string_agg(xmin::text, ',' ORDER BY id) FROM memory_semantic) AS facts,
                             (SELECT count(*) FROM memory_consolidation_history)::int AS decisions,
                             (SELECT string_agg(xmin::text, ',' ORDER BY id) FROM memory_episodic) AS episodes`;
    const [before] = await sql(db.url, snapshot);
    const second = await run();
    assert.deepEqual([second.added, second.updated, second.superseded, second.episodes_consolidated], [0, 0, 0, 0]);
    const [afterRun] = await sql(db.url, snapshot);
    assert.deepEqual(afterRun, before, 'nothing was written');
  });

  it('a contradiction supersedes the fact (its old version kept in the history); agreeing episodes update it', async () => {
    for (let i = 0; i < 3; i++)
      await sql(db.url, episode(40 - i, `failed step draft of newsletter (execution ${10 + i})`, step('failed'), 0.6));
    const contradicted = await run();
    assert.equal(contradicted.superseded, 1);
    const [fact] = await sql(db.url, `SELECT id, content, episode_count FROM memory_semantic WHERE topic = 'step:newsletter/draft'`);
    assert.match(String(fact?.content), /^Copywriter usually fails at draft of newsletter: 3 failed of 3 runs/);
    const [superseded] = await sql(
      db.url,
      `SELECT decision, claim, before->>'claim' AS old_claim, before->>'content' AS old_content, semantic_id
         FROM memory_consolidation_history WHERE decision = 'supersede'`,
    );
    assert.deepEqual([superseded?.decision, superseded?.claim, superseded?.old_claim], ['supersede', 'failed', 'succeeded']);
    assert.match(String(superseded?.old_content), /usually succeeds/);
    assert.equal(superseded?.semantic_id, fact?.id);

    await sql(db.url, episode(30, 'succeeded step draft of newsletter (execution 20)', step('succeeded')));
    const agreeing = await run();
    assert.deepEqual([agreeing.updated, agreeing.superseded], [1, 0], 'one success is too little to overturn: an update');
    const [updated] = await sql(db.url, `SELECT content, episode_count FROM memory_semantic WHERE topic = 'step:newsletter/draft'`);
    assert.match(String(updated?.content), /usually fails at draft of newsletter: 3 failed, 1 succeeded of 4 runs/);
    assert.equal(updated?.episode_count, 4);
  });

  it('every step an agent carries out becomes its episode, failed attempts included; the nightly workflow consolidates and phrases', async () => {
    const file = path.join(os.tmpdir(), `${db.name}-memo.json`);
    fs.writeFileSync(
      file,
      JSON.stringify({
        name: 'memo_canaries',
        cron: '0 0 1 1 *',
        steps: [
          { name: 'first', agent_type: 'monitor', handler: 'canary', config: { fail_attempts: 1 } },
          { name: 'second', agent_type: 'monitor', handler: 'canary' },
        ],
      }),
    );
    const applied = await cesar(['workflows', 'apply', file], { DATABASE_URL: db.url });
    fs.rmSync(file);
    assert.equal(applied.exitCode, 0, applied.stderr);
    const started = await cesar(['workflows', 'run', 'memo_canaries'], { DATABASE_URL: db.url });
    assert.equal(started.exitCode, 0, started.stderr);
    const id = Number(started.stdout.trim());
    const ended = async (execution: number) =>
      ['succeeded', 'failed'].includes((await sql(db.url, 'SELECT status FROM workflow_executions WHERE id = $1', [execution]))[0]!.status);
    await runWorkerUntil(db.url, builtInJobTypes(), 'the canary execution', () => ended(id));
    const episodes = await sql(
      db.url,
      `SELECT a.agent_type, e.context->>'step' AS step, e.context->>'outcome' AS outcome, e.context->>'execution_id' AS execution, e.importance
         FROM memory_episodic e JOIN agents a ON a.id = e.agent_id
        WHERE e.context->>'execution_id' = $1 ORDER BY e.id`,
      [String(id)],
    );
    assert.deepEqual(
      episodes.map((e) => [e.agent_type, e.step, e.outcome]),
      [
        ['monitor', 'first', 'failed'],
        ['monitor', 'first', 'succeeded'],
        ['monitor', 'second', 'succeeded'],
      ],
    );
    const [summary] = await sql(
      db.url,
      `SELECT context->'summary' AS summary FROM memory_episodic WHERE context->>'execution_id' = $1 AND context->>'step' = 'second'`,
      [String(id)],
    );
    assert.equal(typeof summary?.summary, 'object', 'the output summarised');

    // The nightly workflow, with the step episodes settled and Ollama answering.
    await sql(db.url, `UPDATE memory_episodic SET occurred_at = occurred_at - interval '1 hour'`);
    await sql(db.url, `UPDATE workflow_steps SET config = '{"min_support": 1}' WHERE name = 'consolidate_episodes'`);
    const nightly = await cesar(['workflows', 'run', 'memory_consolidation'], { DATABASE_URL: db.url });
    const nightlyId = Number(nightly.stdout.trim());
    const llm = { ...defaultLlmSettings, ollamaUrl: ollama.url, maxAttempts: 1 };
    await runWorkerUntil(db.url, builtInJobTypes({ llm }), 'the consolidation', () => ended(nightlyId));
    const [execution] = await sql(db.url, 'SELECT status, result FROM workflow_executions WHERE id = $1', [nightlyId]);
    assert.equal(execution?.status, 'succeeded', JSON.stringify(execution));
    const result = execution!.result as {
      consolidate_episodes: { added: number; episodes_consolidated: number; changed_facts: number[] };
      summarize_topics: { phrased: number };
      prune_old_episodes: { pruned: number };
    };
    assert.ok(result.consolidate_episodes.added >= 1, JSON.stringify(result));
    assert.equal(result.summarize_topics.phrased, result.consolidate_episodes.changed_facts.length, 'the model phrased every fact written');
    assert.equal(result.prune_old_episodes.pruned, 0);

    const shown = await cesar(['memory', 'show', 'copywriter', '--json'], { DATABASE_URL: db.url });
    assert.equal(shown.exitCode, 0, shown.stderr);
    const view = JSON.parse(shown.stdout);
    assert.equal(view.agent.name, 'Copywriter');
    // The fresh fixture episode settled meanwhile (every episode was moved an hour back) and, with a
    // minimum support of 1, its success overturned "usually fails": superseded again, resting on it alone.
    const draft = view.facts.find((f: { topic: string }) => f.topic === 'step:newsletter/draft');
    assert.deepEqual([draft?.support, draft?.linked_episodes], [1, 1], JSON.stringify(view.facts));
    assert.match(draft.content, /^llama3\.1:8b says: /, 'phrased by the model');
    assert.ok(
      view.decisions.some((d: { decision: string }) => d.decision === 'supersede'),
      JSON.stringify(view.decisions),
    );
    const missing = await cesar(['memory', 'show', 'Nobody At All'], { DATABASE_URL: db.url });
    assert.equal(missing.exitCode, 65);
  });
});

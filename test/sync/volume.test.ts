import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { cesar } from '../helpers/cli.js';
import { sql } from '../helpers/db.js';
import { useSyncPair } from '../helpers/sync.js';

const rows = 10_000;

/** 10,000 new rows in each synced table, written on one side; `side` keeps names apart. */
function bulkInserts(side: 'here' | 'there', withFinancialData: boolean): string {
  const statements = [
    `INSERT INTO agents (name, agent_type, description)
     SELECT '${side} agent ' || g, 'bulk', 'written ${side}' FROM generate_series(1, ${rows}) g`,
    `INSERT INTO workflow_templates (name, description, cron_expression, is_active)
     SELECT '${side}_template_' || g, 'written ${side}', '0 3 * * *', false FROM generate_series(1, ${rows}) g`,
    `INSERT INTO memory_episodic (agent_id, content, context)
     SELECT (SELECT id FROM agents WHERE name = 'Copywriter'), '${side} episode ' || g, jsonb_build_object('n', g) FROM generate_series(1, ${rows}) g`,
    `INSERT INTO memory_semantic (agent_id, topic, content, confidence)
     SELECT (SELECT id FROM agents WHERE name = 'Copywriter'), '${side} topic ' || g, 'fact ' || g, 0.75 FROM generate_series(1, ${rows}) g`,
  ];
  if (withFinancialData) {
    statements.push(`INSERT INTO financial_data (symbol, source, observed_at, open, high, low, close, volume)
     SELECT 'S' || (g % 100), '${side}', timestamptz '2000-01-01' + g * interval '1 day', 1.5, 2.25, 1.125, 2.0, g FROM generate_series(1, ${rows}) g`);
  }
  return statements.join(';\n');
}

describe('sync of 10,000 rows per table in both directions', () => {
  const pair = useSyncPair({ init: true });
  before(async () => {
    // The reference data first, so that Supabase has the agent its memories belong to.
    assert.equal((await cesar(['sync', 'run'], pair.env)).exitCode, 0);
  });

  it('every row reaches the other side, and sync verify then reports no difference', async () => {
    await sql(pair.local.url, bulkInserts('here', true));
    // financial_data flows out only (sync_tables): Supabase writes none of it.
    await sql(pair.remote.url, bulkInserts('there', false));

    const run = await cesar(['sync', 'run', '--json'], pair.env);
    assert.equal(run.exitCode, 0, run.stderr);
    const summary = JSON.parse(run.stdout).tables as Array<{ table: string; pushed: number; pulled: number; conflicts: number }>;
    assert.deepEqual(
      summary.map((t) => [t.table, t.pushed, t.pulled, t.conflicts]),
      [
        ['agents', rows, rows, 0],
        ['workflow_templates', rows, rows, 0],
        ['memory_episodic', rows, rows, 0],
        ['memory_semantic', rows, rows, 0],
        ['financial_data', rows, 0, 0],
      ],
    );

    const counts = `SELECT (SELECT count(*) FROM agents)::int AS agents,
                           (SELECT count(*) FROM workflow_templates)::int AS templates,
                           (SELECT count(*) FROM memory_episodic)::int AS episodes,
                           (SELECT count(*) FROM memory_semantic)::int AS facts,
                           (SELECT count(*) FROM financial_data)::int AS bars`;
    const [here] = await sql(pair.local.url, counts);
    const [there] = await sql(pair.remote.url, counts);
    assert.deepEqual(here, { agents: 48 + 2 * rows, templates: 5 + 2 * rows, episodes: 2 * rows, facts: 2 * rows, bars: rows });
    assert.deepEqual(there, here);
    // References arrive as the referenced row of that side: every episode there belongs to Copywriter there.
    const [owners] = await sql(
      pair.remote.url,
      `SELECT count(DISTINCT a.name)::int AS agents, min(a.name) AS name FROM memory_episodic e JOIN agents a ON a.id = e.agent_id`,
    );
    assert.deepEqual(owners, { agents: 1, name: 'Copywriter' });

    const verify = await cesar(['sync', 'verify', '--json'], pair.env);
    assert.equal(verify.exitCode, 0, verify.stdout);
    assert.equal(JSON.parse(verify.stdout).in_sync, true);

    const quiet = JSON.parse((await cesar(['sync', 'run', '--json'], pair.env)).stdout).tables as Array<{ pushed: number; pulled: number }>;
    assert.deepEqual(
      quiet.map((t) => t.pushed + t.pulled),
      [0, 0, 0, 0, 0],
      'a second run finds nothing to send',
    );
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { updateKnowledgeGraph } from '../../src/knowledge/update.js';
import { cesar } from '../helpers/cli.js';
import { openTestDatabase, sql } from '../helpers/db.js';
import { useSyncPair } from '../helpers/sync.js';

/** The knowledge graph reads facts in order of arrival here, so a fact pulled from Supabase is read whatever its version time. */
describe('the knowledge graph and facts pulled from Supabase', () => {
  const pair = useSyncPair({ init: true });

  const update = async () => {
    const handle = await openTestDatabase(pair.local.url);
    try {
      return (await updateKnowledgeGraph(handle.pool, { lagMs: 0 })).extract_entities;
    } finally {
      await handle.close();
    }
  };

  it('a fact written there before the graph read a newer one here is read once it is pulled, and once only', async () => {
    await sql(pair.remote.url, `INSERT INTO memory_semantic (topic, content, confidence) VALUES ('written_there', 'AAPL leads', 0.9)`);
    await sql(pair.local.url, `INSERT INTO memory_semantic (topic, content, confidence) VALUES ('written_here', 'MSFT lags', 0.9)`);
    const first = await update();
    assert.equal(first.sources.memory_semantic.read, 1);

    const pull = await cesar(['sync', 'run', 'memory_semantic', '--json'], pair.env);
    assert.equal(pull.exitCode, 0, pull.stderr);
    const [order] = await sql(
      pair.local.url,
      `SELECT (SELECT updated_at FROM memory_semantic WHERE topic = 'written_there')
              < (SELECT updated_at FROM memory_semantic WHERE topic = 'written_here') AS older_version`,
    );
    assert.equal(order?.older_version, true, 'the pulled version is older than the one the graph read');

    const second = await update();
    assert.equal(second.sources.memory_semantic.read, 1);
    const nodes = await sql(pair.local.url, `SELECT key FROM knowledge_nodes WHERE kind = 'fact' ORDER BY key`);
    assert.deepEqual(
      nodes.map((n) => n.key),
      ['written_here', 'written_there'],
    );
    const third = await update();
    assert.equal(third.sources.memory_semantic.read, 0, 'nothing is read twice');
  });

  it('a change of a fact that makes no new version does not make it arrive again', async () => {
    const before = await sql(pair.local.url, `SELECT updated_at, arrived_at FROM memory_semantic WHERE topic = 'written_here'`);
    await sql(pair.local.url, `UPDATE memory_semantic SET content = content WHERE topic = 'written_here'`);
    assert.deepEqual(await sql(pair.local.url, `SELECT updated_at, arrived_at FROM memory_semantic WHERE topic = 'written_here'`), before);
    await sql(pair.local.url, `UPDATE memory_semantic SET content = 'MSFT recovers' WHERE topic = 'written_here'`);
    const [after] = await sql(pair.local.url, `SELECT updated_at, arrived_at FROM memory_semantic WHERE topic = 'written_here'`);
    assert.ok(after?.updated_at > before[0]?.updated_at && after?.arrived_at > before[0]?.arrived_at, 'a new version arrives');
    assert.equal((await update()).sources.memory_semantic.read, 1);
  });
});

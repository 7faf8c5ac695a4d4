import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { builtInJobTypes } from '../../src/jobs/index.js';
import { defaultLlmSettings } from '../../src/llm/settings.js';
import { cesar } from '../helpers/cli.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { answerFor, closedPort, type OllamaStandIn, startOllamaStandIn } from '../helpers/ollama.js';
import { runWorkerUntil } from '../helpers/queue.js';

describe('cesar llm and the llm_cache_refresh workflow', () => {
  let db: TestDatabase;
  let ollama: OllamaStandIn;
  let env: Record<string, string>;
  before(async () => {
    db = await createTestDatabase();
    ollama = await startOllamaStandIn();
    env = { DATABASE_URL: db.url, OLLAMA_URL: ollama.url };
  });
  after(async () => {
    await ollama.close();
    await db.drop();
  });

  it('ask answers through the cache: a miss, then a hit; --no-cache asks again; --json says where the answer came from', async () => {
    const first = await cesar(['llm', 'ask', 'llama3.1:8b', 'what is cesar?', '--json'], env);
    assert.equal(first.exitCode, 0, first.stderr);
    const a = JSON.parse(first.stdout);
    assert.deepEqual([a.answer, a.cache, a.from_cache], [answerFor('llama3.1:8b', 'what is cesar?'), 'miss', false]);
    const second = JSON.parse((await cesar(['llm', 'ask', 'llama3.1:8b', 'what is cesar?', '--json'], env)).stdout);
    assert.deepEqual([second.answer, second.cache, second.from_cache], [a.answer, 'hit', true]);
    const bypass = JSON.parse((await cesar(['llm', 'ask', 'llama3.1:8b', 'what is cesar?', '--no-cache', '--json'], env)).stdout);
    assert.equal(bypass.cache, 'bypass');
    const warm = JSON.parse((await cesar(['llm', 'ask', 'llama3.1:8b', 'what is cesar?', '--temperature', '0.8', '--json'], env)).stdout);
    assert.equal(warm.cache, 'bypass', 'not deterministic: not cached');
    const text = await cesar(['llm', 'ask', 'llama3.1:8b', 'what is cesar?', '--system', 'be brief'], env);
    assert.equal(text.stdout, answerFor('llama3.1:8b', 'what is cesar?', 'be brief'));
    assert.equal(ollama.requests.filter((r) => r.path === '/api/generate').length, 4);

    const stats = JSON.parse((await cesar(['llm', 'cache', 'stats', '--json'], env)).stdout);
    assert.deepEqual([stats.entries, stats.hits, stats.misses], [2, 1, 2]);
    const models = JSON.parse((await cesar(['llm', 'models', '--json'], env)).stdout);
    assert.deepEqual(
      models.models.map((m: { name: string }) => m.name),
      ['llama3.1:8b', 'nomic-embed-text'],
    );
  });

  it('a model that is not pulled, bad input and an unreachable Ollama are one line each with a documented exit code', async () => {
    const missing = await cesar(['llm', 'ask', 'mistral:7b', 'hi'], env);
    assert.equal(missing.exitCode, 65);
    assert.match(missing.stderr, /has no model mistral:7b: pull it with `ollama pull mistral:7b`/);
    const bad = await cesar(['llm', 'ask', "x'; DROP TABLE llm_cache;--", 'hi'], env);
    assert.equal(bad.exitCode, 65);
    const temperature = await cesar(['llm', 'ask', 'llama3.1:8b', 'hi', '--temperature', 'hot'], env);
    assert.equal(temperature.exitCode, 64);
    const port = await closedPort();
    const down = await cesar(['llm', 'ask', 'llama3.1:8b', 'something new'], { ...env, OLLAMA_URL: `http://127.0.0.1:${port}` });
    assert.equal(down.exitCode, 69);
    assert.match(down.stderr, new RegExp(`Ollama is unreachable at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
    for (const r of [missing, bad, down]) assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    const [count] = await sql(db.url, 'SELECT count(*)::int AS n FROM llm_cache');
    assert.equal(count?.n, 2, 'nothing stored or lost');
  });

  it('with Ollama down, --allow-stale serves the cached answer flagged stale', async () => {
    await sql(db.url, `UPDATE llm_cache SET expires_at = now() - interval '1 minute'`);
    const port = await closedPort();
    const stale = await cesar(['llm', 'ask', 'llama3.1:8b', 'what is cesar?', '--allow-stale', '--json'], {
      ...env,
      OLLAMA_URL: `http://127.0.0.1:${port}`,
    });
    assert.equal(stale.exitCode, 0, stale.stderr);
    assert.deepEqual([JSON.parse(stale.stdout).cache, JSON.parse(stale.stdout).stale], ['stale', true]);
  });

  it('the workflow refreshes the entries in use that are due, evicts the unused, and lists the counts in its result', async () => {
    await sql(db.url, `UPDATE llm_cache SET expires_at = now() + interval '1 hour', hit_count = 5, last_hit_at = now()`);
    await sql(
      db.url,
      `INSERT INTO llm_cache (cache_key, model, prompt, response, expires_at, created_at, request_key, request)
       VALUES (repeat('ab', 32), 'llama3.1:8b', 'forgotten', 'x', now() - interval '20 days', now() - interval '30 days', repeat('cd', 32), '{}')`,
    );
    const started = await cesar(['workflows', 'run', 'llm_cache_refresh'], env);
    assert.equal(started.exitCode, 0, started.stderr);
    const id = Number(started.stdout.trim());
    const settings = { ...defaultLlmSettings, ollamaUrl: ollama.url, maxAttempts: 1 };
    await runWorkerUntil(db.url, builtInJobTypes({ llm: settings }), 'the execution to end', async () =>
      ['succeeded', 'failed'].includes((await sql(db.url, 'SELECT status FROM workflow_executions WHERE id = $1', [id]))[0]!.status),
    );
    const [execution] = await sql(db.url, 'SELECT status, result FROM workflow_executions WHERE id = $1', [id]);
    assert.equal(execution?.status, 'succeeded', JSON.stringify(execution));
    const result = execution!.result as {
      refresh_expiring_entries: { refreshed: number; failed: number; stale: number; reachable: boolean };
      evict_stale_entries: { evicted: number };
    };
    assert.deepEqual(
      [
        result.refresh_expiring_entries.reachable,
        result.refresh_expiring_entries.refreshed,
        result.refresh_expiring_entries.failed,
        result.refresh_expiring_entries.stale,
      ],
      // The forgotten entry has no model digest: stale, then evicted.
      [true, 2, 0, 1],
    );
    assert.equal(result.evict_stale_entries.evicted, 1);
    const agents = await sql(
      db.url,
      `SELECT DISTINCT a.agent_type FROM workflow_step_runs r JOIN agents a ON a.id = r.agent_id WHERE r.execution_id = $1`,
      [id],
    );
    assert.deepEqual(
      agents.map((a) => a.agent_type),
      ['llm_cache_manager'],
    );
  });

  it('with Ollama unreachable and nothing due, the refresh step succeeds and says so', async () => {
    await sql(db.url, 'DELETE FROM llm_cache');
    const started = await cesar(['workflows', 'run', 'llm_cache_refresh'], env);
    const id = Number(started.stdout.trim());
    const settings = { ...defaultLlmSettings, ollamaUrl: `http://127.0.0.1:${await closedPort()}`, maxAttempts: 1 };
    await runWorkerUntil(db.url, builtInJobTypes({ llm: settings }), 'the execution to end', async () =>
      ['succeeded', 'failed'].includes((await sql(db.url, 'SELECT status FROM workflow_executions WHERE id = $1', [id]))[0]!.status),
    );
    const [execution] = await sql(db.url, 'SELECT status, result FROM workflow_executions WHERE id = $1', [id]);
    assert.equal(execution?.status, 'succeeded');
    assert.match(JSON.stringify(execution?.result), /unreachable.*no entry is due/);
  });
});

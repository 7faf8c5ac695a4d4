import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { cachedAsk, type LlmRequest, requestKey } from '../../src/llm/cache.js';
import { LlmError, OllamaClient } from '../../src/llm/client.js';
import { evictCache, refreshCache } from '../../src/llm/refresh.js';
import { createMetrics } from '../../src/monitoring/metrics.js';
import { createTestDatabase, openTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { answerFor, closedPort, type OllamaStandIn, startOllamaStandIn } from '../helpers/ollama.js';

const model = 'llama3.1:8b';
const hour = 3_600_000;

function generate(prompt: string, options: Record<string, unknown> = { temperature: 0 }): LlmRequest {
  return { endpoint: 'generate', request: { model, prompt, options } };
}

describe('the LLM cache, on a real database, against the Ollama stand-in', () => {
  let db: TestDatabase;
  let handle: Awaited<ReturnType<typeof openTestDatabase>>;
  let ollama: OllamaStandIn;
  let client: OllamaClient;
  const generated = () => ollama.requests.filter((r) => r.path === '/api/generate').length;

  before(async () => {
    db = await createTestDatabase();
    handle = await openTestDatabase(db.url);
    ollama = await startOllamaStandIn();
    client = new OllamaClient({ baseUrl: ollama.url, timeoutMs: 2_000, maxAttempts: 2, backoffMs: 1 });
  });
  after(async () => {
    await ollama.close();
    await handle.close();
    await db.drop();
  });
  beforeEach(async () => {
    ollama.faults = { latencyMs: 0, unavailable: 0, dropStream: false, malformedLine: false };
    ollama.requests.length = 0;
    await sql(db.url, 'DELETE FROM llm_cache');
  });

  it('a miss asks the model and stores the answer; the same request then hits, whatever transport fields it carries', async () => {
    const first = await cachedAsk(handle.pool, client, generate('the same question'), { ttlMs: hour });
    assert.equal(first.cache, 'miss');
    assert.equal((first.answer as { response: string }).response, answerFor(model, 'the same question'));
    const call = generate('the same question');
    (call.request as { keep_alive?: string }).keep_alive = '5m';
    const second = await cachedAsk(handle.pool, client, call, { ttlMs: hour });
    assert.equal(second.cache, 'hit');
    assert.deepEqual(second.answer, first.answer);
    assert.equal(second.cache_key, first.cache_key);
    assert.equal(generated(), 1, 'the model was asked once');
    const [entry] = await sql(
      db.url,
      'SELECT hit_count::int, miss_count::int, prompt_tokens, completion_tokens, model_digest FROM llm_cache',
    );
    assert.deepEqual(entry, {
      hit_count: 1,
      miss_count: 1,
      prompt_tokens: 7,
      completion_tokens: 11,
      model_digest: ollama.models.get(model),
    });
  });

  it('only deterministic requests are cached: temperature above 0 without a seed is asked every time; a seed is cached', async () => {
    for (let i = 0; i < 2; i++) {
      const warm = await cachedAsk(handle.pool, client, generate('creative', { temperature: 0.7 }), { ttlMs: hour });
      assert.equal(warm.cache, 'bypass');
    }
    assert.equal(generated(), 2);
    assert.equal((await sql(db.url, 'SELECT 1 FROM llm_cache')).length, 0);
    await cachedAsk(handle.pool, client, generate('seeded', { temperature: 0.7, seed: 42 }), { ttlMs: hour });
    assert.equal((await cachedAsk(handle.pool, client, generate('seeded', { temperature: 0.7, seed: 42 }), { ttlMs: hour })).cache, 'hit');
    assert.equal((await cachedAsk(handle.pool, client, generate('seeded', { temperature: 0.7, seed: 43 }), { ttlMs: hour })).cache, 'miss');
  });

  it('a re-pulled model (a new digest) never serves the old answer, and the refresh marks the old entries stale', async () => {
    const before = await cachedAsk(handle.pool, client, generate('digest question'), { ttlMs: hour });
    ollama.repull(model);
    const after = await cachedAsk(handle.pool, client, generate('digest question'), { ttlMs: hour });
    assert.equal(after.cache, 'miss');
    assert.notEqual(after.cache_key, before.cache_key);
    const refreshed = await refreshCache(handle.pool, client, { minHits: 3, horizonMs: 4 * hour, limit: 10, concurrency: 2, ttlMs: hour });
    assert.equal(refreshed.stale, 1);
    const rows = await sql(db.url, 'SELECT stale, model_digest = $1 AS current FROM llm_cache ORDER BY created_at', [
      ollama.models.get(model),
    ]);
    assert.deepEqual(rows, [
      { stale: true, current: false },
      { stale: false, current: true },
    ]);
  });

  it('an expired entry is asked again', async () => {
    await cachedAsk(handle.pool, client, generate('short lived'), { ttlMs: 1 });
    await new Promise((r) => setTimeout(r, 20));
    const again = await cachedAsk(handle.pool, client, generate('short lived'), { ttlMs: hour });
    assert.equal(again.cache, 'miss');
    assert.equal(generated(), 2);
    const [entry] = await sql(db.url, 'SELECT miss_count::int, expires_at > now() + interval $$50 minutes$$ AS renewed FROM llm_cache');
    assert.deepEqual(entry, { miss_count: 2, renewed: true });
  });

  it('when Ollama is down a stored answer is served flagged stale only where the caller allows it', async () => {
    const fresh = await cachedAsk(handle.pool, client, generate('outage question'), { ttlMs: 1 });
    ollama.faults.unavailable = 1_000;
    const stale = await cachedAsk(handle.pool, client, generate('outage question'), { ttlMs: hour, allowStale: true });
    assert.equal(stale.cache, 'stale');
    assert.deepEqual(stale.answer, fresh.answer);
    await assert.rejects(
      cachedAsk(handle.pool, client, generate('outage question'), { ttlMs: hour }),
      (err: unknown) => err instanceof LlmError && err.kind === 'server_error',
    );
    await assert.rejects(
      cachedAsk(handle.pool, client, generate('never asked before'), { ttlMs: hour, allowStale: true }),
      (err: unknown) => err instanceof LlmError,
      'nothing stored: the outage is the answer',
    );
  });

  it('the refresh asks again the entries in use that expire before the next run, and counts what failed', async () => {
    await cachedAsk(handle.pool, client, generate('hot'), { ttlMs: hour });
    await cachedAsk(handle.pool, client, generate('hot'), { ttlMs: hour });
    await cachedAsk(handle.pool, client, generate('cold, never hit'), { ttlMs: hour });
    await cachedAsk(handle.pool, client, generate('used, expires late'), { ttlMs: 48 * hour });
    await cachedAsk(handle.pool, client, generate('used, expires late'), { ttlMs: 48 * hour });
    ollama.requests.length = 0;
    const result = await refreshCache(handle.pool, client, { minHits: 3, horizonMs: 4 * hour, limit: 10, concurrency: 2, ttlMs: hour });
    assert.deepEqual([result.reachable, result.due, result.refreshed, result.failed], [true, 1, 1, 0]);
    assert.deepEqual(
      ollama.requests.filter((r) => r.path === '/api/generate').map((r) => (r.body as { prompt: string }).prompt),
      ['hot'],
    );
    const [hot] = await sql(db.url, `SELECT refresh_count, refreshed_at IS NOT NULL AS refreshed FROM llm_cache WHERE prompt = 'hot'`);
    assert.deepEqual(hot, { refresh_count: 1, refreshed: true });
  });

  it('with Ollama unreachable: nothing due succeeds and says so; entries due fail naming the URL', async () => {
    const port = await closedPort();
    const down = new OllamaClient({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 1_000, maxAttempts: 1, backoffMs: 1 });
    const none = await refreshCache(handle.pool, down, { minHits: 3, horizonMs: 4 * hour, limit: 10, concurrency: 2, ttlMs: hour });
    assert.equal(none.reachable, false);
    assert.match(
      String(none.note),
      new RegExp(`^Ollama is unreachable at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\); no entry is due`),
    );
    await cachedAsk(handle.pool, client, generate('due soon'), { ttlMs: hour });
    await cachedAsk(handle.pool, client, generate('due soon'), { ttlMs: hour });
    await assert.rejects(
      refreshCache(handle.pool, down, { minHits: 3, horizonMs: 4 * hour, limit: 10, concurrency: 2, ttlMs: hour }),
      new RegExp(`Ollama is unreachable at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\); 1 cache entries are due`),
    );
  });

  it('/metrics shows entries by state, hits and misses, and how long Ollama took, per model', async () => {
    await cachedAsk(handle.pool, client, generate('metered'), { ttlMs: hour });
    await cachedAsk(handle.pool, client, generate('metered'), { ttlMs: hour });
    await cachedAsk(handle.pool, client, generate('metered'), { ttlMs: hour });
    const text = await createMetrics(await handle.kysely(), handle.pool).render();
    assert.match(text, /^cesar_llm_cache_entries\{model="llama3\.1:8b",state="fresh"\} 1$/m);
    assert.match(text, /^cesar_llm_cache_hits\{model="llama3\.1:8b"\} 2$/m);
    assert.match(text, /^cesar_llm_cache_misses\{model="llama3\.1:8b"\} 1$/m);
    assert.match(text, /^cesar_llm_answer_duration_seconds_count\{model="llama3\.1:8b"\} 1$/m);
    assert.match(text, /^cesar_llm_answer_duration_seconds_bucket\{model="llama3\.1:8b",le="120"\} 1$/m);
  });

  it('evicts entries unused for the configured time, and stale entries past expiry', async () => {
    await cachedAsk(handle.pool, client, generate('old'), { ttlMs: hour });
    await cachedAsk(handle.pool, client, generate('recent'), { ttlMs: hour });
    await sql(db.url, `UPDATE llm_cache SET created_at = now() - interval '10 days' WHERE prompt = 'old'`);
    assert.equal(await evictCache(handle.pool, 7 * 24 * hour), 1);
    assert.deepEqual(
      (await sql(db.url, 'SELECT prompt FROM llm_cache')).map((r) => r.prompt),
      ['recent'],
    );
    assert.equal(requestKey(generate('x')).length, 64);
  });
});

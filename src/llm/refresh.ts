import { performance } from 'node:perf_hooks';
import type { Queryable } from '../db/queryable.js';
import { ask, cacheKey, isOutage, type LlmRequest, requestKey, storeAnswer } from './cache.js';
import { LlmError, type OllamaClient } from './client.js';
import { countDueSql, dueSql, evictSql, markStaleSql, refreshFailedSql } from './queries.js';

/**
 * llm_cache_refresh: keep the cache warm and right. Entries of a model whose digest changed (or
 * that Ollama no longer has) become stale; entries in use that expire before the next run are
 * asked again, a bounded number at a bounded concurrency; entries unused for long are evicted.
 */

export interface RefreshOptions {
  /** An entry with at least this many hits is hot. */
  minHits: number;
  /** Until the next run: entries expiring before then are refreshed now. */
  horizonMs: number;
  /** At most this many entries per run. */
  limit: number;
  concurrency: number;
  ttlMs: number;
  signal?: AbortSignal;
}

export interface RefreshResult {
  ollama: string;
  reachable: boolean;
  models: number;
  stale: number;
  due: number;
  refreshed: number;
  failed: number;
  failures: string[];
  note?: string;
}

export async function refreshCache(q: Queryable, client: OllamaClient, options: RefreshOptions): Promise<RefreshResult> {
  const base = { ollama: client.url, models: 0, stale: 0, refreshed: 0, failed: 0, failures: [] as string[] };
  let models: Awaited<ReturnType<OllamaClient['tags']>>;
  try {
    models = await client.tags(options.signal);
  } catch (err) {
    if (!isOutage(err)) throw err;
    const { due } = (await q.query<{ due: number }>({ text: countDueSql, values: [options.minHits, options.horizonMs] })).rows[0]!;
    if (due === 0) {
      return { ...base, reachable: false, due, note: `${(err as Error).message}; no entry is due, so nothing was lost` };
    }
    throw new LlmError(
      (err as LlmError).kind,
      `${(err as Error).message}; ${due} cache entries are due and stay served only as stale where callers allow it`,
      true,
    );
  }
  const stale = await markStale(q, models);
  const due = await q.query<{ cache_key: string; endpoint: LlmRequest['endpoint']; model: string; request: Record<string, unknown> }>({
    text: dueSql,
    values: [options.minHits, options.horizonMs, options.limit],
  });
  const digests = new Map(models.map((m) => [m.name, m.digest]));
  const result: RefreshResult = { ...base, reachable: true, models: models.length, stale, due: due.rows.length };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < due.rows.length) {
      const entry = due.rows[next++]!;
      options.signal?.throwIfAborted();
      const { endpoint, ...request } = entry.request;
      const call = { endpoint: entry.endpoint, request } as unknown as LlmRequest;
      const digest = digests.get(entry.model) ?? digests.get(`${entry.model}:latest`);
      try {
        if (!digest) throw new Error(`Ollama no longer has ${entry.model}`);
        const started = performance.now();
        const answer = await ask(client, call, options.signal);
        const reqKey = requestKey(call);
        await storeAnswer(q, call, reqKey, cacheKey(reqKey, digest), digest, answer, performance.now() - started, options.ttlMs, true);
        result.refreshed++;
      } catch (err) {
        if (options.signal?.aborted) throw err;
        result.failed++;
        const message = (err as Error).message.slice(0, 500);
        if (result.failures.length < 10) result.failures.push(`${entry.model}: ${message}`);
        await q.query({ text: refreshFailedSql, values: [entry.cache_key, message] });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, due.rows.length)) }, worker));
  return result;
}

/** Entries of each cached model whose build is not the one Ollama has now (or that it no longer has). */
async function markStale(q: Queryable, models: Array<{ name: string; digest: string }>): Promise<number> {
  const cached = await q.query<{ model: string }>({ text: 'SELECT DISTINCT model FROM llm_cache WHERE NOT stale' });
  let marked = 0;
  for (const { model } of cached.rows) {
    const current = models.find((m) => m.name === model || m.name === `${model}:latest`)?.digest ?? null;
    marked += (await q.query({ text: markStaleSql, values: [model, current] })).rowCount ?? 0;
  }
  return marked;
}

export async function evictCache(q: Queryable, unusedForMs: number): Promise<number> {
  return (await q.query({ text: evictSql, values: [unusedForMs] })).rowCount ?? 0;
}

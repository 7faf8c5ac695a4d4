import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/types.js';
import type { WorkflowHistogram } from './workflows.js';

export interface LlmCacheModelCounts {
  model: string;
  fresh: number;
  expired: number;
  stale: number;
  hits: number;
  misses: number;
}

/** Per model: entries by state, and the hits and misses counted on the entries the cache holds. */
export async function llmCacheCounts(db: Kysely<Database>): Promise<LlmCacheModelCounts[]> {
  const { rows } = await sql<LlmCacheModelCounts>`
    SELECT model,
           count(*) FILTER (WHERE NOT stale AND expires_at > now())::int AS fresh,
           count(*) FILTER (WHERE NOT stale AND expires_at <= now())::int AS expired,
           count(*) FILTER (WHERE stale)::int AS stale,
           coalesce(sum(hit_count), 0)::float8 AS hits,
           coalesce(sum(miss_count), 0)::float8 AS misses
      FROM llm_cache
     GROUP BY model
     ORDER BY model`.execute(db);
  return rows;
}

/** How long Ollama took for the answers the cache holds (asked on a miss or a refresh), per model, in seconds buckets. */
export async function llmAnswerDurations(db: Kysely<Database>, bounds: number[]): Promise<WorkflowHistogram[]> {
  const { rows } = await sql<{ model: string; buckets: number[]; count: number; total_seconds: number }>`
    SELECT model, array_agg(n ORDER BY i) AS buckets, max(total)::int AS count, max(total_seconds)::float8 AS total_seconds
      FROM (SELECT c.model, b.i,
                   count(*) FILTER (WHERE c.duration_ms <= b.bound * 1000)::int AS n,
                   count(*) AS total,
                   sum(c.duration_ms) / 1000 AS total_seconds
              FROM llm_cache c
             CROSS JOIN unnest(${bounds}::float8[]) WITH ORDINALITY AS b(bound, i)
             WHERE c.duration_ms IS NOT NULL
             GROUP BY c.model, b.i) per_bound
     GROUP BY model
     ORDER BY model`.execute(db);
  return rows.map((r) => ({ labels: { model: r.model }, buckets: r.buckets, count: r.count, total_seconds: r.total_seconds }));
}

/** The LLM cache's SQL (schema/004_knowledge.sql, schema/024_llm_cache.sql). */

const entryColumns = `cache_key, endpoint, model, model_digest, answer, created_at, expires_at, hit_count, stale`;

/** A usable entry for key $1 (not expired, not stale), counted as a hit, in one statement. */
export const hitSql = `
UPDATE llm_cache
   SET hit_count = hit_count + 1, last_hit_at = now()
 WHERE cache_key = $1 AND expires_at > now() AND NOT stale
RETURNING ${entryColumns}`;

/** The newest entry of request $1 whatever the model build or age: only served, flagged stale, in an outage. */
export const newestOfRequestSql = `
UPDATE llm_cache
   SET hit_count = hit_count + 1, last_hit_at = now()
 WHERE cache_key = (SELECT cache_key FROM llm_cache WHERE request_key = $1 ORDER BY created_at DESC LIMIT 1)
RETURNING ${entryColumns}`;

/**
 * Store the answer to a request: key $1, request key $2, endpoint $3, model $4, digest $5, prompt
 * text $6, text answer $7, request $8, answer $9, TTL $10 ms, duration $11 ms, tokens $12 and $13;
 * $14: a refresh (not a miss).
 */
export const storeSql = `
INSERT INTO llm_cache AS c (cache_key, request_key, endpoint, model, model_digest, prompt, response, request, answer,
                            expires_at, duration_ms, prompt_tokens, completion_tokens, miss_count, refreshed_at, refresh_count)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, now() + $10::float8 * interval '1 millisecond', $11, $12, $13,
        CASE WHEN $14::boolean THEN 0 ELSE 1 END, CASE WHEN $14::boolean THEN now() END, CASE WHEN $14::boolean THEN 1 ELSE 0 END)
    ON CONFLICT (cache_key) DO UPDATE
   SET response = excluded.response, answer = excluded.answer, expires_at = excluded.expires_at, stale = false,
       duration_ms = excluded.duration_ms, prompt_tokens = excluded.prompt_tokens, completion_tokens = excluded.completion_tokens,
       miss_count = c.miss_count + excluded.miss_count,
       refreshed_at = coalesce(excluded.refreshed_at, c.refreshed_at),
       refresh_count = c.refresh_count + excluded.refresh_count,
       last_refresh_error = NULL
RETURNING cache_key`;

/** Entries of model $1 built from another digest than $2 become stale; answers how many. */
export const markStaleSql = `
UPDATE llm_cache SET stale = true
 WHERE model = $1 AND model_digest IS DISTINCT FROM $2 AND NOT stale`;

/**
 * Entries worth asking again before the next run: not stale, hot (at least $1 hits) or expiring
 * before $2 ms from now while used since they were made; at most $3, hottest first.
 */
export const dueSql = `
SELECT cache_key, request_key, endpoint, model, request, hit_count, expires_at
  FROM llm_cache
 WHERE NOT stale
   AND endpoint IN ('generate', 'chat', 'embed')
   AND (expires_at < now() + $2::float8 * interval '1 millisecond')
   AND (hit_count >= $1 OR last_hit_at IS NOT NULL)
 ORDER BY hit_count DESC, expires_at
 LIMIT $3`;

export const countDueSql = `
SELECT count(*)::int AS due
  FROM llm_cache
 WHERE NOT stale AND expires_at < now() + $2::float8 * interval '1 millisecond' AND (hit_count >= $1 OR last_hit_at IS NOT NULL)`;

export const refreshFailedSql = `UPDATE llm_cache SET last_refresh_error = $2 WHERE cache_key = $1`;

/** Entries unused for $1 ms (never hit: since made), and stale entries past their expiry. */
export const evictSql = `
DELETE FROM llm_cache
 WHERE coalesce(last_hit_at, created_at) < now() - $1::float8 * interval '1 millisecond'
    OR (stale AND expires_at < now())`;

export const statsSql = `
SELECT count(*)::int AS entries,
       count(*) FILTER (WHERE stale)::int AS stale,
       count(*) FILTER (WHERE NOT stale AND expires_at <= now())::int AS expired,
       coalesce(sum(hit_count), 0)::bigint AS hits,
       coalesce(sum(miss_count), 0)::bigint AS misses,
       min(created_at) AS oldest,
       max(last_hit_at) AS last_hit_at
  FROM llm_cache`;

export const statsByModelSql = `
SELECT model, endpoint, count(*)::int AS entries, count(*) FILTER (WHERE stale)::int AS stale,
       coalesce(sum(hit_count), 0)::bigint AS hits, coalesce(sum(miss_count), 0)::bigint AS misses,
       avg(duration_ms)::float8 AS mean_duration_ms
  FROM llm_cache
 GROUP BY model, endpoint
 ORDER BY model, endpoint`;

/** The memory module's SQL (schema/004_knowledge.sql, schema/026_memory.sql). */

/** Agents with episodes settled ($1 ms old) and not yet consolidated, by id. */
export const agentsWithEpisodesSql = `
SELECT a.id, a.name
  FROM agents a
 WHERE EXISTS (SELECT 1 FROM memory_episodic e
                WHERE e.agent_id = a.id AND e.consolidated_at IS NULL
                  AND e.occurred_at < now() - $1::float8 * interval '1 millisecond')
 ORDER BY a.id`;

/** Agent $1's settled episodes not yet consolidated, oldest first, at most $3, locked for this run. */
export const settledEpisodesSql = `
SELECT id, occurred_at, content, context, importance
  FROM memory_episodic
 WHERE agent_id = $1 AND consolidated_at IS NULL
   AND occurred_at < now() - $2::float8 * interval '1 millisecond'
 ORDER BY occurred_at, id
 LIMIT $3
   FOR UPDATE SKIP LOCKED`;

export const readFactSql = `
SELECT id, content, confidence, episode_count FROM memory_semantic WHERE agent_id = $1 AND topic = $2`;

export const insertFactSql = `
INSERT INTO memory_semantic (agent_id, topic, content, confidence, episode_count)
VALUES ($1, $2, $3, $4, $5)
RETURNING id`;

export const updateFactSql = `
UPDATE memory_semantic SET content = $2, confidence = $3, episode_count = $4 WHERE id = $1`;

/** The newest decision about fact $1: its claim and figures. */
export const lastDecisionSql = `
SELECT claim, after FROM memory_consolidation_history WHERE semantic_id = $1 ORDER BY id DESC LIMIT 1`;

export const insertHistorySql = `
INSERT INTO memory_consolidation_history (agent_id, semantic_id, topic, decision, claim, before, after, episode_ids, execution_id)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::bigint[], $9)`;

export const linkEpisodesSql = `
INSERT INTO memory_semantic_episodes (semantic_id, episode_id)
SELECT $1, unnest($2::bigint[])
    ON CONFLICT DO NOTHING`;

export const unlinkEpisodesSql = `DELETE FROM memory_semantic_episodes WHERE semantic_id = $1`;

export const markConsolidatedSql = `
UPDATE memory_episodic SET consolidated_at = now() WHERE id = ANY($1::bigint[])`;

/** Consolidated episodes older than $1 ms, unless important (0.8 and up): deleted (their facts keep the history and its episode ids). */
export const pruneEpisodesSql = `
DELETE FROM memory_episodic
 WHERE consolidated_at IS NOT NULL AND importance < 0.8
   AND occurred_at < now() - $1::float8 * interval '1 millisecond'`;

/** Facts $1 still holding the statement the consolidation wrote ($2 by id), for the model to phrase. */
export const factsToPhraseSql = `
SELECT s.id, s.content, a.name AS agent
  FROM memory_semantic s
  LEFT JOIN agents a ON a.id = s.agent_id
 WHERE s.id = ANY($1::bigint[])
 ORDER BY s.id`;

export const phraseFactSql = `
UPDATE memory_semantic SET content = $3 WHERE id = $1 AND content = $2`;

/** The agent named $1 (case-insensitive), or with id $1. */
export const agentByNameSql = `
SELECT id, name, agent_type FROM agents WHERE lower(name) = lower($1) OR id::text = $1 ORDER BY id LIMIT 1`;

export const recentEpisodesSql = `
SELECT id, occurred_at, content, context, importance, consolidated_at
  FROM memory_episodic WHERE agent_id = $1 ORDER BY occurred_at DESC, id DESC LIMIT $2`;

export const factsSql = `
SELECT s.id, s.topic, s.content, s.confidence, s.episode_count AS support, s.updated_at,
       (SELECT count(*)::int FROM memory_semantic_episodes l WHERE l.semantic_id = s.id) AS linked_episodes
  FROM memory_semantic s WHERE s.agent_id = $1 ORDER BY s.topic`;

export const decisionsSql = `
SELECT id, semantic_id, topic, decision, claim, before, after, cardinality(episode_ids) AS episodes, execution_id, decided_at
  FROM memory_consolidation_history WHERE agent_id = $1 ORDER BY id DESC LIMIT $2`;

export const episodeCountsSql = `
SELECT count(*)::int AS episodes, count(*) FILTER (WHERE consolidated_at IS NULL)::int AS unconsolidated
  FROM memory_episodic WHERE agent_id = $1`;

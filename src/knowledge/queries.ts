/**
 * The knowledge graph's SQL (schema/025_knowledge_graph.sql): the incremental reads of each source,
 * the upserts of nodes and edges, the decay, the pruning into the history, the traversal and the
 * counts. Each statement is one round trip; timestamps travel as text (microseconds kept), JSON as
 * text passed on as it came.
 *
 * PostgreSQL 13 to 18. Not run on CockroachDB; from its documentation, these would differ there:
 * - readBoundSql: pg_stat_activity has no backend_xid there (sessions are in crdb_internal), so only
 *   the safety lag would protect a slow writer (as for the sync's bound, src/sync/queries.ts);
 * - traverseSql: a window function (row_number) in the recursive term of a recursive CTE;
 * - correlationSql: an ordered aggregate, corr(x, y ORDER BY day) (ordered aggregates are documented
 *   there for array_agg and string_agg; for corr the ORDER BY would be dropped: the input order of
 *   the sums would then be the plan's).
 * Everything else is plain: data-modifying CTEs, ON CONFLICT DO NOTHING, jsonb_to_recordset,
 * SELECT ... FOR UPDATE, DELETE ... RETURNING feeding an INSERT.
 */

/** The sources knowledge_graph_update reads, in the order it reads them (each has a knowledge_cursors row). */
export const sourceNames = ['agent_events', 'workflow_executions', 'memory_semantic', 'market_analysis', 'financial_data'] as const;
export type SourceName = (typeof sourceNames)[number];

/**
 * Every cursor, locked: every writer of the graph takes these rows first, in this order, so two
 * updates (or an update and a prune) never interleave; the second waits, then reads the cursors the
 * first one committed.
 */
export const lockCursorsSql = `
SELECT source, cursor_at::text AS cursor_at, cursor_id::text AS cursor_id
  FROM knowledge_cursors
 ORDER BY source
   FOR UPDATE`;

/** Source $1 has been read up to the row ($2, $3), $4 more rows, the newest of them of time $5. */
export const advanceCursorSql = `
UPDATE knowledge_cursors
   SET cursor_at = $2::timestamptz, cursor_id = $3::bigint, rows_read = rows_read + $4,
       seen_at = greatest(seen_at, $5::timestamptz), updated_at = now()
 WHERE source = $1`;

/** The graph's clock: the newest row time read from any source (null before the first read). */
const clock = `(SELECT max(seen_at) FROM knowledge_cursors)`;

/**
 * An edge's weight: its strength ($strength, 0 to 1) halved every $halfLife days, by whole days
 * between its last evidence ($seen) and the graph's clock; 6 decimals. Deterministic: the same
 * strength, evidence time and clock give the same weight, bit for bit, so a run that reads nothing
 * new rewrites nothing.
 */
function weightOf(strength: string, seen: string, halfLifeParam: string): string {
  return `round((${strength} * power(0.5::float8,
                 floor(greatest(extract(epoch FROM ${clock} - ${seen}), 0)::float8 / 86400) / ${halfLifeParam}::float8))::numeric, 6)::float8`;
}

/** An evidence edge's strength: n / (n + 1) of its n pieces of evidence (1: 0.5, 2: 0.666667, 9: 0.9); 6 decimals. */
function strengthOf(evidence: string): string {
  return `round((${evidence}::float8 / (${evidence} + 1))::numeric, 6)::float8`;
}

/**
 * The rows of a batch after the cursor ($1, $2) and before the bound $3, at most $4, in cursor order:
 * by (keyColumn, id). The columns name the row's time as evidence `at` (for most sources the key
 * column itself).
 */
function batchOf(table: string, keyColumn: string, columns: string, where = 'true'): string {
  return `
    SELECT t.${keyColumn} AS key_at, ${columns}
      FROM ${table} t
     WHERE ${where}
       AND ($1::timestamptz IS NULL OR (t.${keyColumn}, t.id) > ($1::timestamptz, $2::bigint))
       AND t.${keyColumn} < $3::timestamptz
     ORDER BY t.${keyColumn}, t.id
     LIMIT $4`;
}

/** What every batch query answers: rows read, rows that brought something, the last row's key, the newest evidence time, nodes and edges as JSON text. */
const batchAnswer = `
SELECT (SELECT count(*) FROM batch)::int AS read,
       (SELECT count(*) FROM used)::int AS used,
       (SELECT key_at::text FROM batch ORDER BY key_at DESC, id DESC LIMIT 1) AS last_at,
       (SELECT id::text FROM batch ORDER BY key_at DESC, id DESC LIMIT 1) AS last_id,
       (SELECT max(at)::text FROM batch) AS newest_at,
       (SELECT coalesce(json_agg(n), '[]') FROM nodes n)::text AS nodes,
       (SELECT coalesce(json_agg(e), '[]') FROM edges e)::text AS edges`;

/**
 * agent_events: each step.succeeded of an agent (agent_id set, payload template and step) is one
 * piece of evidence that the agent executed the workflow, carried out the step (template.step), and
 * that the step is part of the workflow. Other events advance the cursor and bring nothing.
 */
export const agentEventsBatchSql = `
WITH batch AS (${batchOf('agent_events', 'created_at', 't.id, t.created_at AS at, t.event_type, t.agent_id, t.payload')}
), used AS (
    SELECT a.name AS agent, a.agent_type, b.payload->>'template' AS template, b.payload->>'step' AS step, b.at
      FROM batch b
      JOIN agents a ON a.id = b.agent_id
     WHERE b.event_type = 'step.succeeded'
       AND b.payload->>'template' ~ '^[a-z][a-z0-9_]*$'
       AND b.payload->>'step' ~ '^[a-z][a-z0-9_]*$'
), nodes AS (
    SELECT 'agent' AS kind, agent AS key, agent AS label, jsonb_build_object('agent_type', max(agent_type)) AS properties,
           min(at) AS first_seen, max(at) AS last_seen
      FROM used GROUP BY agent
    UNION ALL
    SELECT 'workflow', template, template, '{}'::jsonb, min(at), max(at) FROM used GROUP BY template
    UNION ALL
    SELECT 'step', template || '.' || step, step, jsonb_build_object('template', template), min(at), max(at)
      FROM used GROUP BY template, step
), edges AS (
    SELECT 'agent' AS src_kind, agent AS src_key, 'executed' AS rel, 'workflow' AS dst_kind, template AS dst_key,
           count(*) AS evidence, min(at) AS first_seen, max(at) AS last_seen
      FROM used GROUP BY agent, template
    UNION ALL
    SELECT 'agent', agent, 'carried_out', 'step', template || '.' || step, count(*), min(at), max(at)
      FROM used GROUP BY agent, template, step
    UNION ALL
    SELECT 'step', template || '.' || step, 'part_of', 'workflow', template, count(*), min(at), max(at)
      FROM used GROUP BY template, step
)${batchAnswer}`;

/**
 * workflow_executions, by the time they finished: the agents that carried out a step of the same
 * execution (succeeded, failed or skipped) collaborated; one piece of evidence per execution and
 * pair, the pair stored once (src: the name that sorts first, byte order).
 */
export const executionsBatchSql = `
WITH batch AS (${batchOf('workflow_executions', 'finished_at', 't.id, t.finished_at AS at', 't.finished_at IS NOT NULL')}
), runs AS (
    SELECT DISTINCT b.id AS execution_id, b.at, a.name AS agent, a.agent_type
      FROM batch b
      JOIN workflow_step_runs r ON r.execution_id = b.id
      JOIN agents a ON a.id = r.agent_id
     WHERE r.status IN ('succeeded', 'failed', 'skipped')
), pairs AS (
    SELECT x.agent AS a1, y.agent AS a2, x.at
      FROM runs x
      JOIN runs y ON y.execution_id = x.execution_id AND x.agent COLLATE "C" < y.agent COLLATE "C"
), used AS (
    SELECT DISTINCT execution_id FROM runs
), nodes AS (
    SELECT 'agent' AS kind, agent AS key, agent AS label, jsonb_build_object('agent_type', max(agent_type)) AS properties,
           min(at) AS first_seen, max(at) AS last_seen
      FROM runs GROUP BY agent
), edges AS (
    SELECT 'agent' AS src_kind, a1 AS src_key, 'collaborated_with' AS rel, 'agent' AS dst_kind, a2 AS dst_key,
           count(*) AS evidence, min(at) AS first_seen, max(at) AS last_seen
      FROM pairs GROUP BY a1, a2
)${batchAnswer}`;

/**
 * memory_semantic, in order of arrival here (arrived_at: a version pulled from Supabase keeps its
 * older time there, see schema/027), its evidence time the version's (updated_at): a fact (one node per topic) with confidence of at least
 * $5 is known by its agent (none for shared knowledge), and mentions each ticker of the watch list
 * its text holds as a word (patterns $6, tickers $7, case-sensitive). One piece of evidence per
 * version read. Facts below $5 advance the cursor and bring nothing.
 */
export const memoryBatchSql = `
WITH batch AS (${batchOf('memory_semantic', 'arrived_at', 't.id, t.updated_at AS at, t.agent_id, t.topic, t.content, t.confidence')}
), used AS (
    SELECT b.topic, b.content, b.at, a.name AS agent, a.agent_type
      FROM batch b
      LEFT JOIN agents a ON a.id = b.agent_id
     WHERE b.confidence >= $5::float8
), mentions AS (
    SELECT u.topic, w.symbol, u.at
      FROM used u
      JOIN unnest($6::text[], $7::text[]) AS w(pattern, symbol) ON u.content ~ w.pattern
), nodes AS (
    SELECT 'fact' AS kind, topic AS key, topic AS label, '{}'::jsonb AS properties, min(at) AS first_seen, max(at) AS last_seen
      FROM used GROUP BY topic
    UNION ALL
    SELECT 'agent', agent, agent, jsonb_build_object('agent_type', max(agent_type)), min(at), max(at)
      FROM used WHERE agent IS NOT NULL GROUP BY agent
    UNION ALL
    SELECT 'symbol', symbol, symbol, '{}'::jsonb, min(at), max(at) FROM mentions GROUP BY symbol
), edges AS (
    SELECT 'agent' AS src_kind, agent AS src_key, 'knows' AS rel, 'fact' AS dst_kind, topic AS dst_key,
           count(*) AS evidence, min(at) AS first_seen, max(at) AS last_seen
      FROM used WHERE agent IS NOT NULL GROUP BY agent, topic
    UNION ALL
    SELECT 'fact', topic, 'mentions', 'symbol', symbol, count(*), min(at), max(at) FROM mentions GROUP BY topic, symbol
)${batchAnswer}`;

/** market_analysis, by computed_at: each analysed symbol is a node (its correlations come from its bars). */
export const analysisBatchSql = `
WITH batch AS (${batchOf('market_analysis', 'computed_at', 't.id, t.computed_at AS at, t.symbol')}
), used AS (
    SELECT * FROM batch
), nodes AS (
    SELECT 'symbol' AS kind, symbol AS key, symbol AS label, '{}'::jsonb AS properties, min(at) AS first_seen, max(at) AS last_seen
      FROM used GROUP BY symbol
), edges AS (
    SELECT NULL::text AS src_kind WHERE false
)${batchAnswer}`;

/**
 * financial_data: a watermark only, the newest bar version (updated_at) before the bound $2 (after
 * $1): the correlations read the bars up to it. Answers the rows passed and the new watermark.
 */
export const barsWatermarkSql = `
SELECT count(*)::int AS read, count(*)::int AS used, max(updated_at)::text AS last_at, NULL::text AS last_id,
       max(updated_at)::text AS newest_at,
       '[]'::text AS nodes, '[]'::text AS edges
  FROM financial_data
 WHERE ($1::timestamptz IS NULL OR updated_at > $1::timestamptz)
   AND updated_at < $2::timestamptz`;

/**
 * Upsert nodes ($1: JSON [{kind, key, label, properties, first_seen, last_seen}]): a new one is
 * inserted, a known one is rewritten only when its label or properties change or the evidence is
 * older or newer than what it had. Runs under the cursors' lock, so the UPDATE (which does not see
 * the rows this statement inserts) never misses a row another writer inserted.
 */
export const upsertNodesSql = `
WITH input AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb)
        AS i(kind text, key text, label text, properties jsonb, first_seen timestamptz, last_seen timestamptz)
), d AS (
    SELECT kind, key,
           (array_agg(label ORDER BY last_seen DESC, label))[1] AS label,
           (array_agg(properties ORDER BY last_seen DESC, properties::text))[1] AS properties,
           min(first_seen) AS first_seen, max(last_seen) AS last_seen
      FROM input GROUP BY kind, key
), added AS (
    INSERT INTO knowledge_nodes (kind, key, label, properties, first_seen_at, last_seen_at)
    SELECT kind, key, label, properties, first_seen, last_seen FROM d
        ON CONFLICT (kind, key) DO NOTHING
    RETURNING id
), changed AS (
    UPDATE knowledge_nodes n
       SET label = d.label,
           properties = n.properties || d.properties,
           first_seen_at = least(n.first_seen_at, d.first_seen),
           last_seen_at = greatest(n.last_seen_at, d.last_seen),
           updated_at = now()
      FROM d
     WHERE n.kind = d.kind AND n.key = d.key
       AND (n.label <> d.label OR n.properties || d.properties <> n.properties
            OR d.first_seen < n.first_seen_at OR d.last_seen > n.last_seen_at)
    RETURNING n.id
)
SELECT (SELECT count(*) FROM added)::int AS added, (SELECT count(*) FROM changed)::int AS updated`;

/**
 * Upsert evidence edges ($1: JSON [{src_kind, src_key, rel, dst_kind, dst_key, evidence,
 * first_seen, last_seen}], made by source $2; $3: the half-life in days): evidence_count grows by
 * the new evidence, strength and weight follow from it (the clock is the cursors', already advanced
 * in this transaction), first and last seen widen. Nodes must exist (upserted just before).
 */
export const upsertEdgesSql = `
WITH input AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb)
        AS i(src_kind text, src_key text, rel text, dst_kind text, dst_key text, evidence bigint,
             first_seen timestamptz, last_seen timestamptz)
), d AS (
    SELECT s.id AS src_id, t.id AS dst_id, i.rel, sum(i.evidence)::bigint AS evidence,
           min(i.first_seen) AS first_seen, max(i.last_seen) AS last_seen
      FROM input i
      JOIN knowledge_nodes s ON s.kind = i.src_kind AND s.key = i.src_key
      JOIN knowledge_nodes t ON t.kind = i.dst_kind AND t.key = i.dst_key
     WHERE s.id <> t.id
     GROUP BY s.id, t.id, i.rel
), added AS (
    INSERT INTO knowledge_edges (src_id, dst_id, rel, strength, weight, evidence_count, first_seen_at, last_seen_at, source)
    SELECT src_id, dst_id, rel, ${strengthOf('evidence')}, ${weightOf(strengthOf('evidence'), 'last_seen', '$3')},
           evidence, first_seen, last_seen, $2
      FROM d
        ON CONFLICT (src_id, dst_id, rel) DO NOTHING
    RETURNING 1
), changed AS (
    UPDATE knowledge_edges e
       SET evidence_count = e.evidence_count + d.evidence,
           strength = ${strengthOf('(e.evidence_count + d.evidence)')},
           weight = ${weightOf(strengthOf('(e.evidence_count + d.evidence)'), 'greatest(e.last_seen_at, d.last_seen)', '$3')},
           first_seen_at = least(e.first_seen_at, d.first_seen),
           last_seen_at = greatest(e.last_seen_at, d.last_seen),
           updated_at = now()
      FROM d
     WHERE e.src_id = d.src_id AND e.dst_id = d.dst_id AND e.rel = d.rel
    RETURNING 1
)
SELECT (SELECT count(*) FROM added)::int AS added, (SELECT count(*) FROM changed)::int AS updated`;

/**
 * The correlations of the analysed symbols (market_analysis rows up to its cursor; each symbol's
 * bars from the source of its newest analysis, versions up to the financial_data watermark): per
 * pair, the Pearson correlation of the daily log returns of close over the newest $1 + 1 days both
 * have ($1 returns), 6 decimals. A pair holds when it has at least $2 returns, |rho| >= $3, and its
 * newest shared day is at most $4 days older than the newest bar of all. seen: the newest version
 * time of the bars it used. Answers one row per pair, as JSON text, and the symbols analysed.
 */
export const correlationSql = `
WITH cursors AS (
    SELECT max(cursor_at) FILTER (WHERE source = 'market_analysis') AS analysed_until,
           max(cursor_at) FILTER (WHERE source = 'financial_data') AS bars_until
      FROM knowledge_cursors
), analysed AS (
    SELECT DISTINCT ON (m.symbol) m.symbol, m.source
      FROM market_analysis m, cursors c
     WHERE m.computed_at <= c.analysed_until
     ORDER BY m.symbol, m.as_of DESC, m.computed_at DESC, m.id DESC
), bars AS (
    SELECT f.symbol, (f.observed_at AT TIME ZONE 'UTC')::date AS day, f.close::float8 AS close, f.updated_at
      FROM analysed a
      JOIN financial_data f ON f.symbol = a.symbol AND f.source = a.source AND f.bar_interval = '1d'
     CROSS JOIN cursors c
     WHERE f.updated_at <= c.bars_until AND f.close > 0
), newest AS (
    SELECT max(day) AS day FROM bars
), shared AS (
    SELECT x.symbol AS s1, y.symbol AS s2, x.day, x.close AS c1, y.close AS c2,
           greatest(x.updated_at, y.updated_at) AS seen,
           row_number() OVER (PARTITION BY x.symbol, y.symbol ORDER BY x.day DESC) AS rn
      FROM bars x
      JOIN bars y ON y.day = x.day AND x.symbol COLLATE "C" < y.symbol COLLATE "C"
), returns AS (
    SELECT s1, s2, day, seen, ln(c1 / lag(c1) OVER w) AS r1, ln(c2 / lag(c2) OVER w) AS r2
      FROM shared
     WHERE rn <= $1::int + 1
    WINDOW w AS (PARTITION BY s1, s2 ORDER BY day)
), pairs AS (
    SELECT s1, s2, count(r1)::int AS returns,
           round(corr(r1, r2 ORDER BY day)::numeric, 6)::float8 AS rho,
           min(day) AS from_day, max(day) AS to_day, max(seen) AS seen
      FROM returns GROUP BY s1, s2
)
SELECT (SELECT count(*) FROM analysed)::int AS symbols,
       (SELECT coalesce(json_agg(p ORDER BY p.s1 COLLATE "C", p.s2 COLLATE "C"), '[]')
          FROM (SELECT pairs.*,
                       (returns >= $2::int AND abs(rho) >= $3::float8 AND to_day >= newest.day - $4::int) AS holds
                  FROM pairs, newest) p)::text AS pairs`;

/**
 * Upsert the correlations that hold ($1: JSON [{s1, s2, returns, rho, from_day, to_day, seen}]):
 * strength and weight |rho| (no decay while it holds), evidence_count the returns used,
 * properties {rho, returns, from, to}. Rewritten only when something changed.
 */
export const upsertCorrelationsSql = `
WITH input AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb)
        AS i(s1 text, s2 text, returns bigint, rho float8, from_day date, to_day date, seen timestamptz)
), d AS (
    SELECT a.id AS src_id, b.id AS dst_id, i.returns, abs(i.rho) AS strength, i.seen,
           jsonb_build_object('rho', i.rho, 'returns', i.returns, 'from', i.from_day, 'to', i.to_day) AS properties
      FROM input i
      JOIN knowledge_nodes a ON a.kind = 'symbol' AND a.key = i.s1
      JOIN knowledge_nodes b ON b.kind = 'symbol' AND b.key = i.s2
), added AS (
    INSERT INTO knowledge_edges (src_id, dst_id, rel, strength, weight, evidence_count, first_seen_at, last_seen_at, source, properties)
    SELECT src_id, dst_id, 'correlated_with', strength, strength, returns, seen, seen, 'financial_data', properties
      FROM d
        ON CONFLICT (src_id, dst_id, rel) DO NOTHING
    RETURNING 1
), changed AS (
    UPDATE knowledge_edges e
       SET strength = d.strength, weight = d.strength, evidence_count = d.returns, properties = d.properties,
           first_seen_at = least(e.first_seen_at, d.seen), last_seen_at = greatest(e.last_seen_at, d.seen),
           updated_at = now()
      FROM d
     WHERE e.src_id = d.src_id AND e.dst_id = d.dst_id AND e.rel = 'correlated_with'
       AND (e.strength <> d.strength OR e.weight <> d.strength OR e.evidence_count <> d.returns
            OR e.properties <> d.properties OR d.seen > e.last_seen_at OR d.seen < e.first_seen_at)
    RETURNING 1
)
SELECT (SELECT count(*) FROM added)::int AS added, (SELECT count(*) FROM changed)::int AS updated`;

/**
 * Decay: every edge's weight recomputed from its strength, its last evidence and the graph's clock
 * ($1: the half-life in days), but for the correlations that hold now ($2: JSON [{s1, s2}]); only
 * the rows whose weight changes are written. The clock only moves forward, so a change is a decay.
 */
export const decaySql = `
WITH holding AS (
    SELECT a.id AS src_id, b.id AS dst_id
      FROM jsonb_to_recordset($2::jsonb) AS h(s1 text, s2 text)
      JOIN knowledge_nodes a ON a.kind = 'symbol' AND a.key = h.s1
      JOIN knowledge_nodes b ON b.kind = 'symbol' AND b.key = h.s2
), changed AS (
    UPDATE knowledge_edges e
       SET weight = ${weightOf('e.strength', 'e.last_seen_at', '$1')}, updated_at = now()
     WHERE e.weight <> ${weightOf('e.strength', 'e.last_seen_at', '$1')}
       AND NOT (e.rel = 'correlated_with'
                AND EXISTS (SELECT 1 FROM holding h WHERE h.src_id = e.src_id AND h.dst_id = e.dst_id))
    RETURNING e.rel
)
SELECT count(*)::int AS decayed FROM changed`;

/** Which of the tickers $1 are symbol nodes already. */
export const knownSymbolsSql = `SELECT key FROM knowledge_nodes WHERE kind = 'symbol' AND key = ANY($1::text[])`;

/** The graph's clock, as text (null before anything was read). */
export const clockSql = `SELECT ${clock}::text AS clock`;

/**
 * Prune: the edges whose weight is below $1 move to knowledge_edges_history (reason pruned, the
 * threshold, execution $2) in one statement. Answers how many, by relation.
 */
export const pruneSql = `
WITH moved AS (
    DELETE FROM knowledge_edges
     WHERE weight < $1::float8
    RETURNING src_id, rel, dst_id, weight, strength, evidence_count, first_seen_at, last_seen_at, source, properties, created_at
), kept AS (
    INSERT INTO knowledge_edges_history (src_id, rel, dst_id, weight, strength, evidence_count, first_seen_at, last_seen_at,
                                         source, properties, created_at, reason, min_weight, execution_id)
    SELECT src_id, rel, dst_id, weight, strength, evidence_count, first_seen_at, last_seen_at,
           source, properties, created_at, 'pruned', $1::float8, $2::bigint
      FROM moved
    RETURNING rel
)
SELECT (SELECT count(*) FROM kept)::int AS pruned,
       (SELECT coalesce(jsonb_object_agg(rel, n), '{}') FROM (SELECT rel, count(*)::int AS n FROM kept GROUP BY rel) r)::text AS by_relation`;

/** The graph's size: nodes, current edges, expired edges. */
export const sizeSql = `
SELECT (SELECT count(*) FROM knowledge_nodes)::int AS nodes,
       (SELECT count(*) FROM knowledge_edges)::int AS edges,
       (SELECT count(*) FROM knowledge_edges_history)::int AS history`;

/** The watch list: the daily_financial_analysis template's config.symbols (null when unset). */
export const watchListSql = `SELECT config->'symbols' AS symbols FROM workflow_templates WHERE name = 'daily_financial_analysis'`;

/** One node by kind $1 and key $2. */
export const nodeSql = `
SELECT id::text AS id, kind, key, label, properties, first_seen_at, last_seen_at
  FROM knowledge_nodes
 WHERE kind = $1 AND key = $2`;

/**
 * The nodes within $2 edges of node $1, edges taken either way: a breadth-first walk carrying its
 * path as an array and refusing a node already on it (the cycle guard; no CYCLE clause, so
 * PostgreSQL 13 runs it), at most $2 deep. Per level, one path per node is kept (the smallest by
 * the KIND:KEY names along it, then relation), so the walk stays polynomial however many paths
 * there are, and its answer does not depend on node ids. Answers each node reached once, at its
 * smallest depth, with the edge it was reached by and the node before it.
 */
export const traverseSql = `
WITH RECURSIVE walk (node_id, depth, path, names, src_id, rel, dst_id) AS (
    SELECT n.id, 0, ARRAY[n.id], ARRAY[n.kind || ':' || n.key], NULL::bigint, NULL::text, NULL::bigint
      FROM knowledge_nodes n
     WHERE n.id = $1::bigint
    UNION ALL
    SELECT step.next_id, step.depth, step.path, step.names, step.src_id, step.rel, step.dst_id
      FROM (SELECT x.next_id, w.depth + 1 AS depth, w.path || x.next_id AS path,
                   w.names || (nn.kind || ':' || nn.key) AS names, x.src_id, x.rel, x.dst_id,
                   row_number() OVER (PARTITION BY x.next_id ORDER BY w.names, x.rel) AS rn
              FROM walk w
             CROSS JOIN LATERAL (
                   SELECT e.dst_id AS next_id, e.src_id, e.rel, e.dst_id FROM knowledge_edges e WHERE e.src_id = w.node_id
                   UNION ALL
                   SELECT e.src_id, e.src_id, e.rel, e.dst_id FROM knowledge_edges e WHERE e.dst_id = w.node_id) x
              JOIN knowledge_nodes nn ON nn.id = x.next_id
             WHERE w.depth < $2::int
               AND NOT x.next_id = ANY (w.path)) step
     WHERE step.rn = 1
), reached AS (
    SELECT DISTINCT ON (node_id) node_id, depth, path, names, src_id, rel, dst_id
      FROM walk
     ORDER BY node_id, depth, names, rel
)
SELECT r.node_id::text AS id, r.depth, n.kind, n.key, n.label,
       CASE WHEN r.depth > 0 THEN r.names[array_length(r.names, 1) - 1] END AS from_name,
       r.src_id::text AS src_id, r.rel, r.dst_id::text AS dst_id,
       e.weight, e.evidence_count::text AS evidence_count, e.last_seen_at
  FROM reached r
  JOIN knowledge_nodes n ON n.id = r.node_id
  LEFT JOIN knowledge_edges e ON e.src_id = r.src_id AND e.dst_id = r.dst_id AND e.rel = r.rel
 ORDER BY r.depth, n.kind, n.key`;

/** The counts of `cesar kg stats`: nodes by kind, current edges by relation, expired edges by relation. */
export const statsSql = `
SELECT 'node' AS what, kind AS name, count(*)::int AS count, NULL::float8 AS avg_weight, NULL::text AS evidence
  FROM knowledge_nodes GROUP BY kind
UNION ALL
SELECT 'edge', rel, count(*)::int, round(avg(weight)::numeric, 6)::float8, sum(evidence_count)::text
  FROM knowledge_edges GROUP BY rel
UNION ALL
SELECT 'history', rel, count(*)::int, NULL, NULL
  FROM knowledge_edges_history GROUP BY rel
ORDER BY 1, 2`;

/** The cursors, for `cesar kg stats`. */
export const cursorsSql = `
SELECT source, cursor_at, cursor_id::text AS cursor_id, rows_read::text AS rows_read, updated_at
  FROM knowledge_cursors
 ORDER BY source`;

-- The knowledge graph (src/knowledge/): nodes keyed by (kind, key), the current edges (src, rel, dst)
-- with their weight and evidence, the edges that expired (moved, never deleted), and one cursor per
-- source that knowledge_graph_update reads incrementally. The tables of 004 were never written: they
-- are evolved here, and keep their names.
--
-- PostgreSQL 13 to 18. Not run on CockroachDB; from its documentation, these would differ there:
-- ALTER COLUMN ... TYPE real -> double precision is an experimental schema change (it needs
-- `SET enable_experimental_alter_column_type_general = true`), and renaming a unique constraint is
-- done by renaming its index (ALTER INDEX ... RENAME). What the update's queries need beyond this
-- (pg_stat_activity.backend_xid for the read bound, a window function in the recursive term of
-- `cesar kg show`'s query) is listed at the top of src/knowledge/queries.ts.

-- Nodes ------------------------------------------------------------------------------------------
-- kind: agent, workflow, step, fact, symbol. key: what names the thing within its kind (an agent's
-- name, a template's name, template.step, a fact's topic, a ticker). label: how to show it.
-- first_seen_at, last_seen_at: the times of the oldest and newest evidence of it (the source rows'
-- own times, not when the update ran).
ALTER TABLE knowledge_nodes RENAME COLUMN name TO key;
ALTER TABLE knowledge_nodes RENAME CONSTRAINT knowledge_nodes_name_check TO knowledge_nodes_key_check;
ALTER TABLE knowledge_nodes RENAME CONSTRAINT knowledge_nodes_kind_name_key TO knowledge_nodes_kind_key_key;
ALTER TABLE knowledge_nodes
    ADD COLUMN label         text NOT NULL DEFAULT '',
    ADD COLUMN first_seen_at timestamptz,
    ADD COLUMN last_seen_at  timestamptz;
UPDATE knowledge_nodes SET first_seen_at = created_at, last_seen_at = updated_at;
ALTER TABLE knowledge_nodes
    ALTER COLUMN first_seen_at SET NOT NULL,
    ALTER COLUMN last_seen_at SET NOT NULL,
    ADD CONSTRAINT knowledge_nodes_seen_check CHECK (first_seen_at <= last_seen_at),
    ADD CONSTRAINT knowledge_nodes_properties_check CHECK (jsonb_typeof(properties) = 'object');

-- Current edges ----------------------------------------------------------------------------------
-- One per (src, rel, dst); a symmetric relation (collaborated_with, correlated_with) is stored once,
-- src being the node whose key sorts first. strength: what the evidence says (evidence edges:
-- n / (n + 1) of their n pieces of evidence; correlated_with: |rho|); weight: the strength decayed
-- by the whole days between last_seen_at and the graph's clock (src/knowledge/update.ts says how).
-- source: the input that made the edge (agent_events, workflow_executions, memory_semantic,
-- financial_data). Edges whose weight falls below the pruning agent's min_weight move to
-- knowledge_edges_history.
ALTER TABLE knowledge_edges RENAME COLUMN source_id TO src_id;
ALTER TABLE knowledge_edges RENAME COLUMN target_id TO dst_id;
ALTER TABLE knowledge_edges RENAME COLUMN relation TO rel;
ALTER TABLE knowledge_edges RENAME CONSTRAINT knowledge_edges_relation_check TO knowledge_edges_rel_check;
ALTER TABLE knowledge_edges RENAME CONSTRAINT knowledge_edges_source_id_fkey TO knowledge_edges_src_id_fkey;
ALTER TABLE knowledge_edges RENAME CONSTRAINT knowledge_edges_target_id_fkey TO knowledge_edges_dst_id_fkey;
ALTER INDEX knowledge_edges_target_idx RENAME TO knowledge_edges_dst_idx;
ALTER TABLE knowledge_edges ALTER COLUMN weight DROP DEFAULT;
ALTER TABLE knowledge_edges ALTER COLUMN weight TYPE double precision;
ALTER TABLE knowledge_edges
    ADD COLUMN strength       double precision,
    ADD COLUMN evidence_count bigint NOT NULL DEFAULT 0,
    ADD COLUMN first_seen_at  timestamptz,
    ADD COLUMN last_seen_at   timestamptz,
    ADD COLUMN source         text,
    ADD COLUMN created_at     timestamptz NOT NULL DEFAULT now();
UPDATE knowledge_edges
   SET weight = least(greatest(weight, 0), 1), strength = least(greatest(weight, 0), 1),
       first_seen_at = updated_at, last_seen_at = updated_at, source = 'unknown';
ALTER TABLE knowledge_edges
    ALTER COLUMN strength SET NOT NULL,
    ALTER COLUMN first_seen_at SET NOT NULL,
    ALTER COLUMN last_seen_at SET NOT NULL,
    ALTER COLUMN source SET NOT NULL,
    ADD CONSTRAINT knowledge_edges_weight_check CHECK (weight >= 0 AND weight <= 1),
    ADD CONSTRAINT knowledge_edges_strength_check CHECK (strength >= 0 AND strength <= 1),
    ADD CONSTRAINT knowledge_edges_evidence_check CHECK (evidence_count >= 0),
    ADD CONSTRAINT knowledge_edges_seen_check CHECK (first_seen_at <= last_seen_at),
    ADD CONSTRAINT knowledge_edges_source_check CHECK (source ~ '^[a-z][a-z0-9_]*$'),
    ADD CONSTRAINT knowledge_edges_properties_check CHECK (jsonb_typeof(properties) = 'object');

-- Expired edges ------------------------------------------------------------------------------------
-- An edge leaves knowledge_edges only into this table, in the statement that deletes it
-- (DELETE ... RETURNING feeding the INSERT). reason: pruned (its weight fell below min_weight, the
-- threshold it was judged by); execution_id: the knowledge_graph_update execution that moved it.
-- The edge, seen again later, starts afresh in knowledge_edges; its earlier life stays here.
CREATE TABLE knowledge_edges_history (
    id             bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    src_id         bigint           NOT NULL REFERENCES knowledge_nodes (id) ON DELETE CASCADE,
    rel            text             NOT NULL,
    dst_id         bigint           NOT NULL REFERENCES knowledge_nodes (id) ON DELETE CASCADE,
    weight         double precision NOT NULL,
    strength       double precision NOT NULL,
    evidence_count bigint           NOT NULL,
    first_seen_at  timestamptz      NOT NULL,
    last_seen_at   timestamptz      NOT NULL,
    source         text             NOT NULL,
    properties     jsonb            NOT NULL DEFAULT '{}',
    created_at     timestamptz      NOT NULL,
    reason         text             NOT NULL CHECK (reason IN ('pruned')),
    min_weight     double precision,
    execution_id   bigint           REFERENCES workflow_executions (id) ON DELETE SET NULL,
    expired_at     timestamptz      NOT NULL DEFAULT now()
);

CREATE INDEX knowledge_edges_history_edge_idx ON knowledge_edges_history (src_id, rel, dst_id);
CREATE INDEX knowledge_edges_history_dst_idx ON knowledge_edges_history (dst_id);
CREATE INDEX knowledge_edges_history_expired_at_idx ON knowledge_edges_history (expired_at);

-- Cursors ------------------------------------------------------------------------------------------
-- How far knowledge_graph_update has read each source: the keyset (cursor_at, cursor_id) of the last
-- row read (null: nothing read yet; financial_data keeps a time alone, the newest bar version seen).
-- Advanced in the transaction that writes what those rows brought. Every writer of the graph locks
-- these rows first (SELECT ... FOR UPDATE), so two updates never interleave. The graph's clock, by
-- which edges decay, is the newest cursor_at.
CREATE TABLE knowledge_cursors (
    source     text        PRIMARY KEY CHECK (source ~ '^[a-z][a-z0-9_]*$'),
    cursor_at  timestamptz,
    cursor_id  bigint,
    rows_read  bigint      NOT NULL DEFAULT 0 CHECK (rows_read >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO knowledge_cursors (source) VALUES
    ('agent_events'),
    ('workflow_executions'),
    ('memory_semantic'),
    ('market_analysis'),
    ('financial_data')
ON CONFLICT (source) DO NOTHING;

-- The finished executions in the order knowledge_graph_update reads them (memory_semantic,
-- financial_data and agent_events have their indexes on updated_at and created_at already).
CREATE INDEX workflow_executions_finished_idx ON workflow_executions (finished_at, id) WHERE finished_at IS NOT NULL;

-- When a template first runs: 'at_once', as soon as a scheduler sees it active and it has never run
-- (no tick on record, no execution), then by its schedule; 'on_schedule', at its first cron tick.
-- The five original templates run at once, so that on a new database every workflow has run within
-- minutes of `cesar start` (CESAR_FIRST_RUNS=off makes every template wait for its schedule).
ALTER TABLE workflow_templates ADD COLUMN first_run text NOT NULL DEFAULT 'on_schedule'
    CHECK (first_run IN ('at_once', 'on_schedule'));

UPDATE workflow_templates SET first_run = 'at_once'
 WHERE name IN ('supabase_sync', 'daily_financial_analysis', 'llm_cache_refresh', 'knowledge_graph_update', 'memory_consolidation');

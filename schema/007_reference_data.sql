-- Reference data: the 48 agents, the 5 scheduled workflow templates and their steps, the 3 sync
-- systems, and the 5 tables synced with Supabase. Runs once per database; every insert is
-- ON CONFLICT DO NOTHING, so rows an operator has edited or added are never overwritten.

-- Agents -------------------------------------------------------------------------------------------

INSERT INTO agents (name, agent_type, description, capabilities, config) VALUES
    -- orchestrator
    ('Lex Orchestrator', 'orchestrator',
     'Routes incoming requests to the right agents and assembles their results into one answer.',
     ARRAY['task_routing', 'plan_decomposition', 'result_aggregation'],
     '{"model": "llama3.1:8b", "temperature": 0.2, "max_tokens": 2048, "timeout_seconds": 180}'::jsonb),
    ('Tony_Soprano_Orchestrator', 'orchestrator',
     'Oversees multi-step workflow executions and decides when a failed step is retried or abandoned.',
     ARRAY['workflow_supervision', 'retry_policy', 'escalation'],
     '{"model": "llama3.1:8b", "temperature": 0.1, "max_tokens": 1024, "timeout_seconds": 120}'::jsonb),
    ('Workflow Conductor', 'orchestrator',
     'Starts manual workflow runs and tracks them step by step until they finish.',
     ARRAY['workflow_dispatch', 'progress_tracking'],
     '{"max_concurrent_executions": 4, "poll_interval_seconds": 5}'::jsonb),

    -- optimization
    ('Portfolio Optimizer', 'optimization',
     'Computes target portfolio weights that maximise risk-adjusted return under position limits.',
     ARRAY['mean_variance_optimization', 'rebalancing', 'constraint_handling'],
     '{"objective": "sharpe", "max_position_pct": 10, "rebalance_threshold_pct": 2, "lookback_days": 252}'::jsonb),
    ('Query Optimizer', 'optimization',
     'Reviews slow database queries and proposes indexes or rewrites.',
     ARRAY['query_analysis', 'index_advice'],
     '{"slow_query_ms": 500, "max_suggestions": 5}'::jsonb),
    ('Cost Optimizer', 'optimization',
     'Tracks LLM token spend per agent and suggests cheaper models where quality allows.',
     ARRAY['token_accounting', 'model_selection', 'budget_alerts'],
     '{"monthly_budget_usd": 200, "alert_at_pct": 80}'::jsonb),

    -- trading_agent
    ('Silvio_Dante_Trader', 'trading_agent',
     'Places paper trades on large-cap equities when momentum signals cross their thresholds.',
     ARRAY['signal_evaluation', 'order_placement', 'position_tracking'],
     '{"symbols": ["AAPL", "MSFT", "GOOGL", "AMZN"], "max_position_pct": 5, "paper_trading": true}'::jsonb),
    ('Paulie_Walnuts_Trader', 'trading_agent',
     'Trades mean-reversion setups on index ETFs with tight stop losses.',
     ARRAY['mean_reversion', 'order_placement', 'stop_loss_management'],
     '{"symbols": ["SPY", "QQQ", "IWM"], "max_position_pct": 3, "stop_loss_pct": 1.5, "paper_trading": true}'::jsonb),
    ('Execution Trader', 'trading_agent',
     'Splits large orders into smaller slices to reduce market impact.',
     ARRAY['order_slicing', 'twap_execution'],
     '{"slice_count": 10, "max_participation_pct": 5, "paper_trading": true}'::jsonb),

    -- task_scheduler
    ('Vito_Spatafore_Scheduler', 'task_scheduler',
     'Fires due workflow templates on their cron schedules and enqueues their jobs.',
     ARRAY['cron_evaluation', 'job_enqueue', 'missed_run_detection'],
     '{"tick_seconds": 30, "max_catchup_runs": 1}'::jsonb),
    ('Bobby_Bacala_Scheduler', 'task_scheduler',
     'Schedules retries of failed jobs with exponential backoff.',
     ARRAY['retry_scheduling', 'backoff_calculation'],
     '{"max_attempts": 5, "base_delay_seconds": 10, "max_delay_seconds": 900}'::jsonb),

    -- generator
    ('Copywriter', 'generator',
     'Writes marketing and product copy from a short brief.',
     ARRAY['copywriting', 'tone_adaptation', 'headline_generation'],
     '{"model": "llama3.1:8b", "temperature": 0.7, "max_tokens": 1024, "timeout_seconds": 120}'::jsonb),
    ('Report Writer', 'generator',
     'Turns analysis results into a readable daily report in Markdown.',
     ARRAY['report_generation', 'markdown_formatting'],
     '{"model": "llama3.1:8b", "temperature": 0.3, "max_tokens": 2048, "timeout_seconds": 180}'::jsonb),
    ('Email Drafter', 'generator',
     'Drafts replies to ingested emails for a human to review before sending.',
     ARRAY['email_drafting', 'tone_adaptation'],
     '{"model": "llama3.1:8b", "temperature": 0.4, "max_tokens": 768, "timeout_seconds": 90}'::jsonb),

    -- data_sync
    ('Supabase Sync Agent', 'data_sync',
     'Pushes local changes to Supabase and pulls remote changes back, table by table.',
     ARRAY['change_detection', 'batch_upsert', 'watermark_tracking'],
     '{"batch_size": 500, "max_batches_per_run": 20}'::jsonb),
    ('Christopher_Moltisanti_Sync', 'data_sync',
     'Pulls remote changes from Supabase into the local tables using updated_at watermarks.',
     ARRAY['change_detection', 'batch_upsert'],
     '{"batch_size": 500, "direction": "pull"}'::jsonb),
    ('Sync Conflict Resolver', 'data_sync',
     'Settles rows changed on both sides since the last sync, keeping the newest version.',
     ARRAY['conflict_detection', 'last_write_wins'],
     '{"strategy": "last_write_wins", "batch_size": 200}'::jsonb),

    -- market_data
    ('Market Data Collector', 'market_data',
     'Fetches daily price bars from the financial API into financial_data.',
     ARRAY['price_fetching', 'bar_normalization', 'deduplication'],
     '{"symbols": ["AAPL", "MSFT", "GOOGL", "AMZN", "SPY", "QQQ"], "interval": "1d", "batch_size": 100}'::jsonb),
    ('Furio_Giunta_MarketData', 'market_data',
     'Backfills missing historical price bars for tracked symbols.',
     ARRAY['history_backfill', 'gap_detection'],
     '{"lookback_days": 365, "batch_size": 100}'::jsonb),
    ('Price Feed Validator', 'market_data',
     'Flags price bars that are stale, duplicated or outside plausible ranges.',
     ARRAY['outlier_detection', 'staleness_check'],
     '{"max_daily_move_pct": 25, "stale_after_hours": 36}'::jsonb),

    -- financial_analyst
    ('Financial Analyst', 'financial_analyst',
     'Analyses the portfolio against the latest market data and explains the main movements.',
     ARRAY['portfolio_analysis', 'trend_detection', 'performance_attribution'],
     '{"model": "llama3.1:8b", "temperature": 0.2, "max_tokens": 1536, "timeout_seconds": 180}'::jsonb),
    ('Carmela_Soprano_Analyst', 'financial_analyst',
     'Computes technical indicators such as moving averages and RSI for each tracked symbol.',
     ARRAY['technical_indicators', 'signal_generation'],
     '{"indicators": ["sma_20", "sma_50", "rsi_14"], "lookback_days": 120}'::jsonb),
    ('Earnings Analyst', 'financial_analyst',
     'Summarises earnings releases and compares results with prior quarters.',
     ARRAY['earnings_analysis', 'quarter_comparison'],
     '{"model": "llama3.1:8b", "temperature": 0.2, "max_tokens": 1024, "timeout_seconds": 120}'::jsonb),

    -- risk_analyst
    ('Risk Analyst', 'risk_analyst',
     'Measures portfolio value at risk and concentration, and flags limit breaches.',
     ARRAY['value_at_risk', 'concentration_check', 'limit_monitoring'],
     '{"var_confidence": 0.95, "horizon_days": 1, "max_sector_pct": 30}'::jsonb),
    ('Hesh_Rabkin_Risk', 'risk_analyst',
     'Runs stress scenarios such as a market crash or rate shock against current positions.',
     ARRAY['stress_testing', 'scenario_analysis'],
     '{"scenarios": ["equity_down_20", "rates_up_200bp"], "timeout_seconds": 120}'::jsonb),
    ('Drawdown Monitor', 'risk_analyst',
     'Watches running drawdown per strategy and pauses trading agents that exceed their limit.',
     ARRAY['drawdown_tracking', 'trading_halt'],
     '{"max_drawdown_pct": 8}'::jsonb),

    -- research
    ('Research Assistant', 'research',
     'Answers research questions by searching semantic memory and citing what it found.',
     ARRAY['semantic_search', 'source_citation', 'question_answering'],
     '{"model": "llama3.1:8b", "temperature": 0.3, "max_tokens": 1536, "timeout_seconds": 150}'::jsonb),
    ('Dr_Melfi_Researcher', 'research',
     'Digs into why an agent behaved as it did by reading its events and episodic memory.',
     ARRAY['behaviour_analysis', 'event_review'],
     '{"model": "llama3.1:8b", "temperature": 0.2, "max_tokens": 1024, "timeout_seconds": 120}'::jsonb),
    ('News Researcher', 'research',
     'Collects and tags market news relevant to the tracked symbols.',
     ARRAY['news_collection', 'symbol_tagging', 'sentiment_scoring'],
     '{"symbols": ["AAPL", "MSFT", "GOOGL", "AMZN"], "max_articles": 50}'::jsonb),

    -- knowledge_graph
    ('Knowledge Graph Builder', 'knowledge_graph',
     'Creates and updates knowledge graph nodes from new semantic memories and documents.',
     ARRAY['node_upsert', 'entity_linking'],
     '{"batch_size": 200, "min_confidence": 0.6}'::jsonb),
    ('Entity Extractor', 'knowledge_graph',
     'Extracts named entities such as companies, people and tickers from text.',
     ARRAY['entity_extraction', 'entity_normalization'],
     '{"model": "llama3.1:8b", "temperature": 0.0, "max_tokens": 512, "timeout_seconds": 60}'::jsonb),
    ('Relation Linker', 'knowledge_graph',
     'Infers weighted relationships between knowledge graph nodes and prunes stale edges.',
     ARRAY['relation_extraction', 'edge_weighting', 'edge_pruning'],
     '{"model": "llama3.1:8b", "temperature": 0.0, "max_tokens": 512, "timeout_seconds": 60, "min_weight": 0.1}'::jsonb),

    -- memory_manager
    ('Memory Consolidator', 'memory_manager',
     'Folds unconsolidated episodic memories into semantic facts per agent and topic.',
     ARRAY['episode_clustering', 'fact_consolidation', 'confidence_scoring'],
     '{"model": "llama3.1:8b", "temperature": 0.1, "max_tokens": 1024, "timeout_seconds": 120, "batch_size": 200}'::jsonb),
    ('Janice_Soprano_Memory', 'memory_manager',
     'Deletes old consolidated episodes of low importance to keep memory tables small.',
     ARRAY['retention_policy', 'episode_pruning'],
     '{"retention_days": 90, "min_importance_to_keep": 0.8}'::jsonb),
    ('Memory Indexer', 'memory_manager',
     'Keeps topic labels of semantic memories consistent so they can be found again.',
     ARRAY['topic_normalization', 'duplicate_merging'],
     '{"batch_size": 500}'::jsonb),

    -- llm_cache_manager
    ('LLM Cache Manager', 'llm_cache_manager',
     'Re-runs expiring cached prompts that are still popular and evicts the rest.',
     ARRAY['cache_refresh', 'cache_eviction', 'hit_rate_tracking'],
     '{"model": "llama3.1:8b", "ttl_hours": 24, "min_hits_to_refresh": 3, "batch_size": 100}'::jsonb),
    ('Prompt Cache Warmer', 'llm_cache_manager',
     'Pre-computes answers to frequently asked prompts before peak hours.',
     ARRAY['cache_warming', 'prompt_ranking'],
     '{"model": "llama3.1:8b", "top_prompts": 50, "timeout_seconds": 60}'::jsonb),

    -- email_ingest
    ('Email Ingestor', 'email_ingest',
     'Reads new messages from the ingest mailbox and stores them as episodic memories.',
     ARRAY['mailbox_polling', 'mime_parsing', 'attachment_extraction'],
     '{"poll_interval_seconds": 300, "max_messages": 100}'::jsonb),
    ('Adriana_La_Cerva_Inbox', 'email_ingest',
     'Sorts ingested emails into categories and routes the urgent ones to the orchestrator.',
     ARRAY['email_classification', 'priority_routing'],
     '{"model": "llama3.1:8b", "temperature": 0.0, "max_tokens": 256, "timeout_seconds": 30}'::jsonb),

    -- summarizer
    ('Summarizer', 'summarizer',
     'Condenses long texts into short summaries with the key points first.',
     ARRAY['abstractive_summary', 'key_point_extraction'],
     '{"model": "llama3.1:8b", "temperature": 0.2, "max_tokens": 512, "timeout_seconds": 90}'::jsonb),
    ('Meeting Summarizer', 'summarizer',
     'Summarises meeting notes into decisions and action items.',
     ARRAY['action_item_extraction', 'decision_logging'],
     '{"model": "llama3.1:8b", "temperature": 0.2, "max_tokens": 768, "timeout_seconds": 90}'::jsonb),
    ('Topic Summarizer', 'summarizer',
     'Writes one summary per topic from the semantic memories consolidated that night.',
     ARRAY['topic_summary', 'memory_digest'],
     '{"model": "llama3.1:8b", "temperature": 0.2, "max_tokens": 512, "timeout_seconds": 90}'::jsonb),

    -- compliance
    ('Compliance Officer', 'compliance',
     'Checks proposed trades against restricted lists and position limits before they are placed.',
     ARRAY['restricted_list_check', 'pre_trade_validation'],
     '{"restricted_symbols": [], "max_position_pct": 10}'::jsonb),
    ('Audit Trail Reviewer', 'compliance',
     'Reviews the agent event log for gaps and unusual activity.',
     ARRAY['audit_review', 'anomaly_detection'],
     '{"review_window_hours": 24}'::jsonb),

    -- monitor
    ('System Monitor', 'monitor',
     'Records workflow, queue and sync health after each run and raises alerts on failure.',
     ARRAY['health_checks', 'status_recording', 'alert_raising'],
     '{"check_interval_seconds": 60, "max_sync_lag_minutes": 30}'::jsonb),
    ('Sync Lag Watcher', 'monitor',
     'Watches how far each synced table is behind and warns when the lag grows.',
     ARRAY['lag_measurement', 'threshold_alerts'],
     '{"warn_lag_minutes": 30, "critical_lag_minutes": 120}'::jsonb),

    -- notifier
    ('Alert Notifier', 'notifier',
     'Sends alerts from other agents to the configured notification channel.',
     ARRAY['alert_delivery', 'deduplication', 'rate_limiting'],
     '{"channel": "log", "min_severity": "warning", "max_per_hour": 20}'::jsonb),
    ('Meadow_Soprano_Notifier', 'notifier',
     'Sends a daily digest of workflow results and the financial report.',
     ARRAY['digest_compilation', 'scheduled_delivery'],
     '{"channel": "log", "send_at": "09:30"}'::jsonb)
ON CONFLICT (name) DO NOTHING;

-- Workflow templates -------------------------------------------------------------------------------

INSERT INTO workflow_templates (name, description, cron_expression, timezone, is_active, config) VALUES
    ('supabase_sync',
     'Bidirectional data sync with Supabase: pulls remote changes, then pushes local ones, for every enabled table in sync_tables.',
     '*/15 * * * *', 'UTC', true,
     '{"max_runtime_seconds": 600}'::jsonb),
    ('daily_financial_analysis',
     'Daily market data analysis: fetches the latest prices, analyses the portfolio and its risk, and writes a report.',
     '0 9 * * *', 'UTC', true,
     '{"max_runtime_seconds": 1800, "symbols": ["AAPL", "MSFT", "GOOGL", "AMZN", "SPY", "QQQ"]}'::jsonb),
    ('llm_cache_refresh',
     'Refresh LLM response cache: re-runs expiring prompts that are still in use and evicts the rest.',
     '0 */4 * * *', 'UTC', true,
     '{"max_runtime_seconds": 900, "ttl_hours": 24}'::jsonb),
    ('knowledge_graph_update',
     'Update knowledge graph relationships from recently changed semantic memories.',
     '*/30 * * * *', 'UTC', true,
     '{"max_runtime_seconds": 900}'::jsonb),
    ('memory_consolidation',
     'Consolidate agent episodic memories into semantic facts, then prune old consolidated episodes.',
     '0 2 * * *', 'UTC', true,
     '{"max_runtime_seconds": 1800, "retention_days": 90}'::jsonb)
ON CONFLICT (name) DO NOTHING;

-- Workflow steps: each step is run by an active agent of its agent_type --------------------------

INSERT INTO workflow_steps (template_id, step_order, name, agent_type, action, description, timeout_seconds)
SELECT t.id, s.step_order, s.name, s.agent_type, s.action, s.description, s.timeout_seconds
FROM workflow_templates t
JOIN (VALUES
    ('supabase_sync', 1, 'pull_remote_changes', 'data_sync', 'pull_changes',
     'Pull rows changed in Supabase since the pull watermark into the local tables.', 240),
    ('supabase_sync', 2, 'push_local_changes', 'data_sync', 'push_changes',
     'Push rows changed locally since the push watermark to Supabase.', 240),
    ('supabase_sync', 3, 'record_sync_status', 'monitor', 'record_sync_status',
     'Record the outcome of the run in sync_status and raise an alert on failure.', 60),

    ('daily_financial_analysis', 1, 'fetch_market_data', 'market_data', 'fetch_market_data',
     'Fetch the latest daily price bars for the configured symbols into financial_data.', 300),
    ('daily_financial_analysis', 2, 'analyze_portfolio', 'financial_analyst', 'analyze_portfolio',
     'Analyse portfolio performance and trends against the new market data.', 600),
    ('daily_financial_analysis', 3, 'assess_risk', 'risk_analyst', 'assess_risk',
     'Compute value at risk and concentration and flag any limit breaches.', 300),
    ('daily_financial_analysis', 4, 'write_daily_report', 'generator', 'write_report',
     'Write the daily financial report from the analysis and risk results.', 300),

    ('llm_cache_refresh', 1, 'refresh_expiring_entries', 'llm_cache_manager', 'refresh_expired_entries',
     'Re-run cached prompts that are expired or about to expire and are still frequently hit.', 600),
    ('llm_cache_refresh', 2, 'evict_stale_entries', 'llm_cache_manager', 'evict_stale_entries',
     'Delete expired cache entries that were not refreshed.', 120),

    ('knowledge_graph_update', 1, 'extract_entities', 'knowledge_graph', 'extract_entities',
     'Extract entities from recently changed semantic memories and upsert them as nodes.', 300),
    ('knowledge_graph_update', 2, 'extract_relations', 'knowledge_graph', 'extract_relations',
     'Infer relationships between the new nodes and existing ones and upsert the edges.', 300),
    ('knowledge_graph_update', 3, 'prune_weak_edges', 'knowledge_graph', 'prune_edges',
     'Remove edges whose weight has fallen below the configured minimum.', 120),

    ('memory_consolidation', 1, 'consolidate_episodes', 'memory_manager', 'consolidate_episodes',
     'Fold unconsolidated episodic memories into semantic facts per agent and topic.', 900),
    ('memory_consolidation', 2, 'summarize_topics', 'summarizer', 'summarize_topics',
     'Write a short summary of each topic that gained new facts.', 600),
    ('memory_consolidation', 3, 'prune_old_episodes', 'memory_manager', 'prune_episodes',
     'Delete consolidated episodes older than the retention period unless marked important.', 300)
) AS s(template_name, step_order, name, agent_type, action, description, timeout_seconds)
    ON s.template_name = t.name
ON CONFLICT DO NOTHING;

-- Sync systems and their status --------------------------------------------------------------------

INSERT INTO sync_systems (name, kind, description, config) VALUES
    ('supabase', 'postgres',
     'Supabase Postgres database kept in bidirectional sync with the tables listed in sync_tables.',
     '{"url_env": "SUPABASE_DB_URL"}'::jsonb),
    ('financial_api', 'http_api',
     'HTTP market data API that daily price bars are ingested from into financial_data.',
     '{"base_url_env": "FINANCIAL_API_URL", "token_env": "FINANCIAL_API_TOKEN"}'::jsonb),
    ('email_ingest', 'mailbox',
     'Mailbox whose new messages are ingested as episodic memories.',
     '{"url_env": "EMAIL_INGEST_URL"}'::jsonb)
ON CONFLICT (name) DO NOTHING;

INSERT INTO sync_status (system_name) VALUES
    ('supabase'),
    ('financial_api'),
    ('email_ingest')
ON CONFLICT (system_name) DO NOTHING;

-- Tables synced with Supabase and their sync state ---------------------------------------------------

INSERT INTO sync_tables (table_name, system_name, direction, key_column, updated_at_column, batch_size) VALUES
    ('agents',             'supabase', 'bidirectional', 'id', 'updated_at', 500),
    ('workflow_templates', 'supabase', 'bidirectional', 'id', 'updated_at', 500),
    ('memory_episodic',    'supabase', 'bidirectional', 'id', 'updated_at', 500),
    ('memory_semantic',    'supabase', 'bidirectional', 'id', 'updated_at', 500),
    -- Market data is ingested locally from financial_api, so it only flows out to Supabase.
    ('financial_data',     'supabase', 'push',          'id', 'updated_at', 500)
ON CONFLICT (table_name) DO NOTHING;

INSERT INTO supabase_sync_state (table_name) VALUES
    ('agents'),
    ('workflow_templates'),
    ('memory_episodic'),
    ('memory_semantic'),
    ('financial_data')
ON CONFLICT (table_name) DO NOTHING;

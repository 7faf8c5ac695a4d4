/**
 * What a ready cesar database holds: the names the original system's queries and reports rely on.
 * verify checks the live database against these; status and the README describe them.
 */

/** Tables and what each is for, in the order of the original's report, then cesar's own. */
export const requiredTables: ReadonlyArray<readonly [table: string, purpose: string]> = [
  ['agents', 'Agent configurations'],
  ['workflow_templates', 'Workflow definitions'],
  ['workflow_executions', 'Execution history'],
  ['job_queue', 'Background jobs'],
  ['financial_data', 'Market data'],
  ['agent_events', 'Activity log'],
  ['memory_episodic', 'Episode memories'],
  ['memory_semantic', 'Knowledge base'],
  ['supabase_sync_state', 'Sync tracking'],
  ['sync_status', 'System sync'],
  ['workflow_steps', 'Ordered steps of each workflow'],
  ['workflow_step_runs', 'What each execution step did'],
  ['job_attempts', 'Every job attempt and its error'],
  ['workers', 'Worker processes and heartbeats'],
  ['leader_leases', 'Named leases (one process does a task at a time)'],
  ['workflow_ticks', 'Every cron tick and what became of it'],
  ['schedulers', 'Scheduler processes and heartbeats'],
  ['sync_systems', 'External systems to sync with'],
  ['sync_tables', 'Tables synced with Supabase'],
  ['ingestion_log', 'Every ingestion run'],
  ['llm_cache', 'LLM response cache'],
  ['knowledge_nodes', 'Knowledge graph nodes'],
  ['knowledge_edges', 'Knowledge graph relationships'],
  ['knowledge_edges_history', 'Expired knowledge graph edges (moved, never deleted)'],
  ['knowledge_cursors', 'How far knowledge_graph_update has read each source'],
  ['market_analysis', 'Indicators per symbol and day, with their inputs'],
  ['market_reports', 'The daily financial report'],
  ['memory_semantic_episodes', 'Which episodes support each fact'],
  ['memory_consolidation_history', 'Every consolidation decision, with the fact before and after'],
  ['email_messages', 'Every email read from the Maildir, once'],
];

/** The original's five scheduled workflows and their default schedules. */
export const requiredTemplates: ReadonlyArray<readonly [name: string, cron: string]> = [
  ['supabase_sync', '*/15 * * * *'],
  ['daily_financial_analysis', '0 9 * * *'],
  ['llm_cache_refresh', '0 */4 * * *'],
  ['knowledge_graph_update', '*/30 * * * *'],
  ['memory_consolidation', '0 2 * * *'],
];

export const requiredAgentCount = 48;
export const requiredAgentTypeCount = 15;

/** Agents the original's report names, with their types. */
export const sampleAgents: ReadonlyArray<readonly [name: string, type: string]> = [
  ['Portfolio Optimizer', 'optimization'],
  ['Lex Orchestrator', 'orchestrator'],
  ['Copywriter', 'generator'],
  ['Silvio_Dante_Trader', 'trading_agent'],
  ['Vito_Spatafore_Scheduler', 'task_scheduler'],
];

export const requiredSyncTables = ['agents', 'workflow_templates', 'memory_episodic', 'memory_semantic', 'financial_data'] as const;
export const requiredSyncSystems = ['supabase', 'financial_api', 'email_ingest'] as const;

export const monitoringViews: ReadonlyArray<readonly [view: string, purpose: string]> = [
  ['mv_sync_lag', 'Synchronization lag per system and table'],
  ['mv_job_queue_backlog', 'Job queue health and backlog'],
  ['mv_ingestion_errors', 'Data ingestion failures per source'],
];

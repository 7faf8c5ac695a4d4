/**
 * The database as Kysely sees it: one interface per table or view of schema/, column for column.
 * test/db/types.test.ts fails when this file and the migrated catalog drift apart.
 */
import type { ColumnType, Generated, JSONColumnType } from 'kysely';

/** A timestamptz: read as Date, written as Date or ISO string. */
type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** A timestamptz with a default (now()). */
type DefaultTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json = JSONColumnType<Record<string, unknown>, string | undefined, string>;
/** numeric: pg returns a string to keep precision. */
type Numeric = ColumnType<string, string | number, string | number>;

export interface AgentsTable {
  id: Generated<number>;
  name: string;
  agent_type: string;
  description: string;
  capabilities: ColumnType<string[], string[] | undefined, string[]>;
  config: Json;
  status: Generated<'active' | 'inactive' | 'error'>;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
  max_concurrent_steps: number | null;
  last_step_at: Timestamp | null;
  sync_id: Generated<string>;
  origin: Generated<string>;
}

export interface AgentEventsTable {
  id: Generated<number>;
  agent_id: number | null;
  event_type: string;
  execution_id: number | null;
  job_id: number | null;
  payload: Json;
  created_at: DefaultTimestamp;
}

export interface WorkflowTemplatesTable {
  id: Generated<number>;
  name: string;
  description: string;
  cron_expression: string;
  timezone: Generated<string>;
  is_active: Generated<boolean>;
  config: Json;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
  catchup: Generated<CatchupPolicy>;
  catchup_max_count: Generated<number>;
  catchup_max_age_seconds: Generated<number>;
  overlap: Generated<OverlapPolicy>;
  active_since: DefaultTimestamp;
  sync_id: Generated<string>;
  origin: Generated<string>;
  first_run: Generated<FirstRun>;
}

export type CatchupPolicy = 'skip' | 'latest' | 'all';
export type OverlapPolicy = 'skip' | 'queue' | 'allow';
/** When a template first runs (schema/028). */
export type FirstRun = 'at_once' | 'on_schedule';

export interface WorkflowStepsTable {
  template_id: number;
  step_order: number;
  name: string;
  agent_type: string;
  action: string;
  description: Generated<string>;
  timeout_seconds: Generated<number>;
  config: Json;
  max_attempts: Generated<number>;
}

export type ExecutionStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface WorkflowExecutionsTable {
  id: Generated<number>;
  template_id: number;
  trigger: Generated<'schedule' | 'manual' | 'cron'>;
  scheduled_for: Timestamp;
  status: Generated<ExecutionStatus>;
  current_step: number | null;
  error: string | null;
  created_at: DefaultTimestamp;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
  input: Json;
  result: JSONColumnType<Record<string, unknown>> | null;
  steps: JSONColumnType<unknown[], string | undefined, string>;
  template_version: Generated<string>;
  queued: Generated<boolean>;
  retries: Generated<number>;
}

export type StepRunStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';

export interface WorkflowStepRunsTable {
  execution_id: number;
  step_order: number;
  agent_id: number | null;
  status: Generated<StepRunStatus>;
  output: JSONColumnType<Record<string, unknown>> | null;
  error: string | null;
  started_at: DefaultTimestamp;
  finished_at: Timestamp | null;
  name: Generated<string>;
  handler: Generated<string>;
  attempts: Generated<number>;
  job_id: number | null;
  reason: string | null;
  duration_ms: number | null;
}

export interface WorkflowTicksTable {
  template_id: number;
  tick_at: Timestamp;
  fate: 'fired' | 'skipped' | 'coalesced';
  execution_id: number | null;
  reason: string | null;
  source: 'scheduler' | 'enqueue';
  recorded_by: string;
  recorded_at: DefaultTimestamp;
}

export interface SchedulersTable {
  id: string;
  hostname: string;
  pid: number;
  version: string;
  started_at: DefaultTimestamp;
  last_heartbeat_at: DefaultTimestamp;
  stopped_at: Timestamp | null;
}

export interface LeaderLeasesTable {
  name: string;
  holder: string;
  elected_at: DefaultTimestamp;
  expires_at: Timestamp;
}

export type JobStatus = 'pending' | 'in_progress' | 'completed' | 'failed' | 'cancelled';

export interface JobQueueTable {
  id: Generated<number>;
  queue: Generated<string>;
  job_type: string;
  payload: Json;
  priority: Generated<number>;
  run_at: DefaultTimestamp;
  status: Generated<JobStatus>;
  attempts: Generated<number>;
  max_attempts: Generated<number>;
  claims: Generated<number>;
  dedupe_key: string | null;
  locked_by: string | null;
  lease_expires_at: Timestamp | null;
  last_error: string | null;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
  finished_at: Timestamp | null;
}

export type AttemptOutcome = 'running' | 'succeeded' | 'failed' | 'timed_out' | 'lease_expired' | 'returned' | 'cancelled';

export interface JobAttemptsTable {
  job_id: number;
  attempt: number;
  worker_id: string;
  started_at: DefaultTimestamp;
  finished_at: Timestamp | null;
  outcome: Generated<AttemptOutcome>;
  error: string | null;
  error_stack: string | null;
}

export interface WorkersTable {
  id: string;
  hostname: string;
  pid: number;
  queues: ColumnType<string[], string[] | undefined, string[]>;
  concurrency: number;
  version: string;
  started_at: DefaultTimestamp;
  last_heartbeat_at: DefaultTimestamp;
  stopped_at: Timestamp | null;
}

export interface FinancialDataTable {
  id: Generated<number>;
  symbol: string;
  source: string;
  observed_at: Timestamp;
  open: Numeric | null;
  high: Numeric | null;
  low: Numeric | null;
  close: Numeric | null;
  volume: Numeric | null;
  adj_close: Numeric | null;
  bar_interval: Generated<'1d'>;
  data: Json;
  ingested_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
  sync_id: Generated<string>;
  origin: Generated<string>;
}

export interface MemoryEpisodicTable {
  id: Generated<number>;
  agent_id: number;
  occurred_at: DefaultTimestamp;
  content: string;
  context: Json;
  importance: Generated<number>;
  consolidated_at: Timestamp | null;
  updated_at: DefaultTimestamp;
  sync_id: Generated<string>;
  origin: Generated<string>;
}

export interface MemorySemanticTable {
  id: Generated<number>;
  agent_id: number | null;
  topic: string;
  content: string;
  confidence: Generated<number>;
  episode_count: Generated<number>;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
  sync_id: Generated<string>;
  origin: Generated<string>;
  /** When this version arrived here, by this database's clock (local, never synced; schema/027). */
  arrived_at: Generated<Timestamp>;
}

export interface KnowledgeNodesTable {
  id: Generated<number>;
  kind: string;
  /** What names the node within its kind: an agent's name, a template, template.step, a fact's topic, a ticker. */
  key: string;
  label: Generated<string>;
  properties: Json;
  /** The times of its oldest and newest evidence (the source rows' own times). */
  first_seen_at: Timestamp;
  last_seen_at: Timestamp;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
}

/** The current edges, one per (src_id, rel, dst_id); see schema/025_knowledge_graph.sql. */
export interface KnowledgeEdgesTable {
  src_id: number;
  dst_id: number;
  rel: string;
  /** strength decayed by the whole days between last_seen_at and the graph's clock. */
  weight: number;
  /** n / (n + 1) of the evidence, or |rho| for correlated_with. */
  strength: number;
  evidence_count: Generated<number>;
  first_seen_at: Timestamp;
  last_seen_at: Timestamp;
  /** The input that made it: agent_events, workflow_executions, memory_semantic, financial_data. */
  source: string;
  properties: Json;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
}

/** Edges that left knowledge_edges (moved here by the statement that deleted them). */
export interface KnowledgeEdgesHistoryTable {
  id: Generated<number>;
  src_id: number;
  rel: string;
  dst_id: number;
  weight: number;
  strength: number;
  evidence_count: number;
  first_seen_at: Timestamp;
  last_seen_at: Timestamp;
  source: string;
  properties: Json;
  created_at: Timestamp;
  reason: 'pruned';
  min_weight: number | null;
  execution_id: number | null;
  expired_at: DefaultTimestamp;
}

/** How far knowledge_graph_update has read each source (keyset cursor_at, cursor_id). */
export interface KnowledgeCursorsTable {
  source: string;
  cursor_at: Timestamp | null;
  cursor_id: number | null;
  rows_read: Generated<number>;
  /** The newest evidence time read from the source (the graph's clock is the newest of them). */
  seen_at: Timestamp | null;
  updated_at: DefaultTimestamp;
}

export interface LlmCacheTable {
  cache_key: string;
  model: string;
  prompt: string;
  response: string;
  created_at: DefaultTimestamp;
  expires_at: Timestamp;
  hit_count: Generated<number>;
  last_hit_at: Timestamp | null;
  endpoint: Generated<'generate' | 'chat' | 'embed'>;
  request_key: string | null;
  model_digest: string | null;
  request: Generated<Json>;
  answer: Json | null;
  stale: Generated<boolean>;
  duration_ms: number | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  miss_count: Generated<number>;
  refreshed_at: Timestamp | null;
  refresh_count: Generated<number>;
  last_refresh_error: string | null;
}

export interface SyncSystemsTable {
  name: string;
  kind: 'postgres' | 'http_api' | 'mailbox';
  description: string;
  enabled: Generated<boolean>;
  config: Json;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
}

export type SyncState = 'never_run' | 'not_configured' | 'running' | 'ok' | 'error';

export interface SyncStatusTable {
  system_name: string;
  status: Generated<SyncState>;
  last_started_at: Timestamp | null;
  last_success_at: Timestamp | null;
  last_error: string | null;
  last_error_at: Timestamp | null;
  updated_at: DefaultTimestamp;
  lag_seconds: number | null;
  clock_skew_ms: number | null;
  last_result: ColumnType<unknown, string | undefined, string> | null;
  note: string | null;
}

export interface SyncTablesTable {
  table_name: string;
  system_name: string;
  direction: Generated<'push' | 'pull' | 'bidirectional'>;
  key_column: Generated<string>;
  updated_at_column: Generated<string>;
  batch_size: Generated<number>;
  enabled: Generated<boolean>;
}

export interface SupabaseSyncStateTable {
  table_name: string;
  push_watermark: Timestamp | null;
  pull_watermark: Timestamp | null;
  rows_pushed: Generated<number>;
  rows_pulled: Generated<number>;
  last_synced_at: Timestamp | null;
  last_error: string | null;
  updated_at: DefaultTimestamp;
  push_cursor_id: string | null;
  pull_cursor_id: string | null;
  conflicts: Generated<number>;
  push_lag_seconds: number | null;
  pull_lag_seconds: number | null;
  last_push_at: Timestamp | null;
  last_pull_at: Timestamp | null;
}

/** Deletes of synced rows, kept so that they travel to the other side and beat older updates. */
export interface SyncTombstonesTable {
  table_name: string;
  sync_id: string;
  updated_at: Timestamp;
  origin: string;
  deleted_at: DefaultTimestamp;
}

/** Versions that lost a sync (an older incoming version, or a local change a newer one replaced), or were refused. */
export interface SyncConflictsTable {
  id: Generated<number>;
  system_name: Generated<string>;
  table_name: string;
  sync_id: string;
  direction: 'push' | 'pull';
  resolution: 'kept_current' | 'kept_incoming' | 'rejected';
  lost_updated_at: Timestamp | null;
  lost_origin: string | null;
  lost_deleted: Generated<boolean>;
  lost_row: ColumnType<unknown, string | undefined, string> | null;
  kept_updated_at: Timestamp | null;
  kept_origin: string | null;
  reason: string;
  detected_at: DefaultTimestamp;
}

export interface IngestionLogTable {
  id: Generated<number>;
  source: string;
  target_table: string;
  status: Generated<'running' | 'succeeded' | 'failed'>;
  rows_ingested: Generated<number>;
  error: string | null;
  job_id: number | null;
  started_at: DefaultTimestamp;
  finished_at: Timestamp | null;
  subject: string | null;
  error_class: string | null;
  payload_sha256: string | null;
}

/** Every message file read from the Maildir, once (schema/023). bigint size_bytes comes back as a string. */
export interface EmailMessagesTable {
  id: Generated<number>;
  message_id: string;
  maildir_key: string;
  duplicate_keys: ColumnType<string[], string[] | undefined, string[]>;
  from_address: string | null;
  to_addresses: ColumnType<string[], string[] | undefined, string[]>;
  subject: string | null;
  sent_at: Timestamp | null;
  agent_id: number | null;
  episode_id: number | null;
  error_class: 'malformed' | 'no_agent' | 'too_large' | null;
  raw_sha256: string;
  size_bytes: ColumnType<string, string | number, string | number>;
  received_at: DefaultTimestamp;
}

/** Which episodes support each semantic fact (schema/026). */
export interface MemorySemanticEpisodesTable {
  semantic_id: number;
  episode_id: number;
}

/** Every consolidation decision (schema/026). */
export interface MemoryConsolidationHistoryTable {
  id: Generated<number>;
  agent_id: number | null;
  semantic_id: number | null;
  topic: string;
  decision: 'add' | 'update' | 'supersede';
  claim: string;
  before: Json | null;
  after: Json;
  episode_ids: string[];
  execution_id: number | null;
  decided_at: DefaultTimestamp;
}

/** Indicators per symbol and day (schema/022). */
export interface MarketAnalysisTable {
  id: Generated<number>;
  symbol: string;
  source: string;
  bar_interval: Generated<string>;
  as_of: string;
  bars_used: number;
  bars_sha256: string;
  parameters: JSONColumnType<Record<string, unknown>>;
  indicators: JSONColumnType<Record<string, unknown>>;
  execution_id: number | null;
  computed_at: DefaultTimestamp;
}

/** The daily financial report (schema/022). */
export interface MarketReportsTable {
  id: Generated<number>;
  report_date: string;
  summary: JSONColumnType<Record<string, unknown>>;
  body: string;
  execution_id: number | null;
  agent_id: number | null;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
}

/** The last refresh of each monitoring view (schema/013). */
export interface MonitoringViewRefreshesTable {
  view_name: string;
  refreshed_at: Timestamp | null;
  duration_ms: number | null;
  refreshed_by: string | null;
  refreshes: Generated<number>;
  last_error: string | null;
  last_error_at: Timestamp | null;
}

/** Job outcomes per minute, queue and type, counted by the workers (schema/013). */
export interface JobThroughputTable {
  minute: Timestamp;
  queue: string;
  job_type: string;
  outcome: 'completed' | 'retried' | 'failed' | 'cancelled';
  jobs: number;
}

/** Attempts per minute, type, outcome and duration bucket (le: its upper bound in seconds), counted by the workers (schema/016). */
export interface JobAttemptDurationsTable {
  minute: Timestamp;
  job_type: string;
  outcome: 'succeeded' | 'failed' | 'timed_out';
  le: number;
  attempts: number;
  total_seconds: number;
}

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  checksum: string;
  applied_at: DefaultTimestamp;
  duration_ms: number | null;
}

/** Monitoring views (read-only). lag_seconds and max_wait_seconds are numeric: strings. */
export interface MvSyncLagView {
  scope: 'system' | 'table';
  name: string;
  enabled: boolean;
  status: string | null;
  last_success_at: Date | null;
  lag_seconds: string | null;
  pending_seconds: number | null;
  last_error: string | null;
  refreshed_at: Date;
}

export interface MvJobQueueBacklogView {
  queue: string;
  job_type: string;
  status: JobStatus;
  jobs: number;
  runnable: number;
  oldest_run_at: Date | null;
  max_wait_seconds: string | null;
  refreshed_at: Date;
}

export interface MvIngestionErrorsView {
  source: string;
  error_class: string;
  hour: Date;
  errors: number;
  subjects: number;
  first_error_at: Date;
  last_error_at: Date;
  last_error: string | null;
  refreshed_at: Date;
}

export interface Database {
  agents: AgentsTable;
  agent_events: AgentEventsTable;
  workflow_templates: WorkflowTemplatesTable;
  workflow_steps: WorkflowStepsTable;
  workflow_executions: WorkflowExecutionsTable;
  workflow_step_runs: WorkflowStepRunsTable;
  leader_leases: LeaderLeasesTable;
  workflow_ticks: WorkflowTicksTable;
  schedulers: SchedulersTable;
  job_queue: JobQueueTable;
  job_attempts: JobAttemptsTable;
  workers: WorkersTable;
  financial_data: FinancialDataTable;
  market_analysis: MarketAnalysisTable;
  market_reports: MarketReportsTable;
  memory_semantic_episodes: MemorySemanticEpisodesTable;
  memory_consolidation_history: MemoryConsolidationHistoryTable;
  memory_episodic: MemoryEpisodicTable;
  memory_semantic: MemorySemanticTable;
  knowledge_nodes: KnowledgeNodesTable;
  knowledge_edges: KnowledgeEdgesTable;
  knowledge_edges_history: KnowledgeEdgesHistoryTable;
  knowledge_cursors: KnowledgeCursorsTable;
  llm_cache: LlmCacheTable;
  sync_systems: SyncSystemsTable;
  sync_status: SyncStatusTable;
  sync_tables: SyncTablesTable;
  supabase_sync_state: SupabaseSyncStateTable;
  sync_tombstones: SyncTombstonesTable;
  sync_conflicts: SyncConflictsTable;
  ingestion_log: IngestionLogTable;
  email_messages: EmailMessagesTable;
  monitoring_view_refreshes: MonitoringViewRefreshesTable;
  job_throughput: JobThroughputTable;
  job_attempt_durations: JobAttemptDurationsTable;
  schema_migrations: SchemaMigrationsTable;
  mv_sync_lag: MvSyncLagView;
  mv_job_queue_backlog: MvJobQueueBacklogView;
  mv_ingestion_errors: MvIngestionErrorsView;
  event_publishers: EventPublishersTable;
  dashboard_actions: DashboardActionsTable;
}

/** What operators did from the dashboard: who, what, when, and whether it worked. */
export interface DashboardActionsTable {
  id: Generated<number>;
  action: string;
  target: string;
  actor: string;
  at: DefaultTimestamp;
  ok: boolean;
  detail: string | null;
}

/** Each publishing process's event bus counts, for /metrics (schema/014). */
export interface EventPublishersTable {
  holder: string;
  transport: 'redis' | 'postgres' | 'none';
  published: number;
  dropped: number;
  connected: boolean;
  updated_at: DefaultTimestamp;
}

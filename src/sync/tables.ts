/**
 * The tables synced with Supabase: what travels of each. sync_tables (reference data) says which
 * are enabled and in which direction; this says what a row is made of, and must match
 * schema/018_sync_rows.sql and schema/remote/supabase.sql.
 */

export interface SyncedTable {
  name: string;
  /** Columns that travel as they are, besides sync_id, updated_at and origin. */
  columns: readonly string[];
  /**
   * Columns holding the local id of a row of another synced table: they travel as that row's
   * sync_id and are written back as the id that row has on the receiving side.
   */
  references: readonly { column: string; table: string }[];
}

/** In the order a run takes them: a table's referenced tables come before it. */
export const syncedTables: readonly SyncedTable[] = [
  {
    name: 'agents',
    columns: ['name', 'agent_type', 'description', 'capabilities', 'config', 'status', 'max_concurrent_steps', 'created_at'],
    references: [],
  },
  {
    name: 'workflow_templates',
    columns: [
      'name',
      'description',
      'cron_expression',
      'timezone',
      'is_active',
      'config',
      'catchup',
      'catchup_max_count',
      'catchup_max_age_seconds',
      'overlap',
      'active_since',
      'created_at',
    ],
    references: [],
  },
  {
    name: 'memory_episodic',
    columns: ['occurred_at', 'content', 'context', 'importance', 'consolidated_at'],
    references: [{ column: 'agent_id', table: 'agents' }],
  },
  {
    name: 'memory_semantic',
    columns: ['topic', 'content', 'confidence', 'episode_count', 'created_at'],
    references: [{ column: 'agent_id', table: 'agents' }],
  },
  {
    name: 'financial_data',
    columns: [
      'symbol',
      'source',
      'observed_at',
      'bar_interval',
      'open',
      'high',
      'low',
      'close',
      'adj_close',
      'volume',
      'data',
      'ingested_at',
    ],
    references: [],
  },
];

export function syncedTable(name: string): SyncedTable | undefined {
  return syncedTables.find((t) => t.name === name);
}

/** The two sides, by the names their triggers stamp in `origin`. */
export const localOrigin = 'cesar';
export const remoteOrigin = 'supabase';

export type SyncDirection = 'push' | 'pull';

/** The sync's settings, from the environment (see config.ts). */
export interface SyncSettings {
  /** SUPABASE_DB_URL; undefined: the sync is not configured. */
  supabaseDbUrl: string | undefined;
  safetyLagMs: number;
  /** Above it a run is refused; above 1 s it is warned about. */
  maxClockSkewMs: number;
  tombstoneRetentionMs: number;
}

export const defaultSyncSettings: SyncSettings = {
  supabaseDbUrl: undefined,
  safetyLagMs: 10_000,
  maxClockSkewMs: 5_000,
  tombstoneRetentionMs: 30 * 86_400_000,
};

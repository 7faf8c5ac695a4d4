import * as v from 'valibot';
import type { SyncSettings } from '../sync/settings.js';
import { defineStepHandler, type StepContext } from '../workflows/step-handlers.js';

const config = v.strictObject({});

export type SyncStepConfig = v.InferOutput<typeof config>;

/** Which of the sync's steps a handler module runs. */
export type SyncStepKind = 'pull' | 'push' | 'record';

/**
 * The supabase_sync template's steps: pull the versions Supabase wrote, push the ones written here,
 * and record the run in sync_status. Without SUPABASE_DB_URL each ends skipped with the line that
 * says what to set. The settings are the worker's (its environment), bound when it builds its handlers.
 */
function syncStep(name: string, description: string, kind: SyncStepKind, settings: SyncSettings) {
  return defineStepHandler({
    name,
    description,
    config,
    handler: async () => {
      const { runSyncStep } = await import('./sync.handler.js');
      return { default: (ctx: StepContext<SyncStepConfig>) => runSyncStep(ctx, kind, settings) };
    },
  });
}

export function syncSteps(settings: SyncSettings) {
  return [
    syncStep('pull_changes', 'pulls the rows Supabase changed into the synced tables here (SUPABASE_DB_URL)', 'pull', settings),
    syncStep('push_changes', 'pushes the rows changed here to Supabase (SUPABASE_DB_URL)', 'push', settings),
    syncStep(
      'record_sync_status',
      'records the sync run (rows pushed, pulled, conflicts and lag per table) in sync_status',
      'record',
      settings,
    ),
  ] as const;
}

import type { Queryable } from '../db/queryable.js';
import type { ConnectionPool } from '../db/transaction.js';
import { notConfiguredNote } from '../sync/remote.js';
import { markNotConfigured, markSucceeded, runSync, type SyncRunResult, summarize } from '../sync/run.js';
import type { SyncSettings } from '../sync/settings.js';
import type { StepContext } from '../workflows/step-handlers.js';
import type { SyncStepConfig, SyncStepKind } from './sync.js';

/** One step of supabase_sync: its output is what the run did, per table. */
export async function runSyncStep(ctx: StepContext<SyncStepConfig>, kind: SyncStepKind, settings: SyncSettings): Promise<unknown> {
  const local = ctx.pool as unknown as ConnectionPool & Queryable;
  if (!settings.supabaseDbUrl) {
    await markNotConfigured(local);
    return ctx.skip(notConfiguredNote);
  }
  if (kind === 'record') return record(ctx, local);
  const result = await runSync({
    local,
    settings,
    directions: [kind],
    holder: `execution ${ctx.executionId} step ${ctx.step.order} attempt ${ctx.attempt}`,
    log: ctx.log,
    signal: ctx.signal,
  });
  return { clock_skew_ms: result.clock_skew_ms, warnings: result.warnings, tables: result.tables };
}

/** The earlier steps' results, as one run: sync_status says ok, with rows, conflicts and lag per table. */
async function record(ctx: StepContext<SyncStepConfig>, local: Queryable): Promise<unknown> {
  const runs = Object.values(ctx.outputs).filter(isRunResult);
  const tables = runs.flatMap((r) => r.tables);
  await markSucceeded(local, tables);
  const summary = summarize(tables);
  return {
    tables: summary,
    clock_skew_ms: runs.at(-1)?.clock_skew_ms ?? null,
    warnings: runs.flatMap((r) => r.warnings),
  };
}

function isRunResult(output: unknown): output is SyncRunResult {
  return typeof output === 'object' && output !== null && Array.isArray((output as SyncRunResult).tables);
}

import type { Queryable } from '../db/queryable.js';
import { storableText } from '../text.js';
import { recordNotConfiguredSql, recordRunSql } from './queries.js';

/** The sync_status row of each sync system (supabase, financial_api, email_ingest): how its runs went. */

/** A system's sync_status after a run: ok or error, the failures (if any), what the run did. */
export async function recordSystemRun(
  q: Queryable,
  system: string,
  run: { ok: boolean; failures: string[]; result: unknown; elapsedMs: number },
): Promise<void> {
  await q.query({
    text: recordRunSql,
    values: [
      run.ok ? 'ok' : 'error',
      run.failures.length > 0 ? storableText(run.failures.join('; '), 2000) : null,
      JSON.stringify(run.result),
      run.elapsedMs,
      system,
    ],
  });
}

/** The system is not configured; the note says what to set. */
export async function recordSystemNotConfigured(q: Queryable, system: string, note: string): Promise<void> {
  await q.query({ text: recordNotConfiguredSql, values: [note, system] });
}

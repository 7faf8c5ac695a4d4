import type { Queryable } from '../db/queryable.js';
import { storableText } from '../text.js';
import { logAttemptSql, recordRunSql } from './queries.js';

/** One attempt of an ingesting system, as ingestion_log keeps it. */
export interface IngestionAttempt {
  source: string;
  targetTable: string;
  /** What was asked for: a symbol, a message id. */
  subject: string;
  jobId?: number;
  elapsedMs: number;
  rows: number;
  error?: string;
  errorClass?: string;
  payloadSha256?: string;
}

/** Log one attempt (in the caller's transaction, beside what it stored); answers its id. */
export async function logIngestionAttempt(q: Queryable, a: IngestionAttempt): Promise<number> {
  const { rows } = await q.query<{ id: string }>({
    text: logAttemptSql,
    values: [
      a.source,
      a.targetTable,
      a.subject.slice(0, 1000),
      a.error === undefined ? 'succeeded' : 'failed',
      a.rows,
      a.error === undefined ? null : storableText(a.error, 2000),
      a.errorClass ?? null,
      a.payloadSha256 ?? null,
      a.jobId ?? null,
      a.elapsedMs,
    ],
  });
  return Number(rows[0]!.id);
}

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

import type { Queryable } from '../db/queryable.js';
import { storableText } from '../text.js';
import { logAttemptSql } from './queries.js';

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

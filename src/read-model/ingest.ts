import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/types.js';
import { iso } from './time.js';

export interface IngestSourceView {
  source: string;
  attempts_24h: number;
  failed_24h: number;
  rows_24h: number;
  last_attempt_at: string | null;
  last_success_at: string | null;
  last_failure_at: string | null;
}

export interface IngestFailureView {
  id: number;
  source: string;
  subject: string | null;
  error_class: string | null;
  error: string | null;
  started_at: string;
}

/** Per source in ingestion_log: attempts, failures and rows in the last 24 hours, and the last of each. */
export async function listIngestSources(db: Kysely<Database>): Promise<IngestSourceView[]> {
  const rows = await db
    .selectFrom('ingestion_log')
    .select([
      'source',
      sql<number>`count(*) FILTER (WHERE started_at > now() - interval '24 hours')::int`.as('attempts_24h'),
      sql<number>`count(*) FILTER (WHERE started_at > now() - interval '24 hours' AND status = 'failed')::int`.as('failed_24h'),
      sql<number>`coalesce(sum(rows_ingested) FILTER (WHERE started_at > now() - interval '24 hours'), 0)::int`.as('rows_24h'),
      sql<Date | null>`max(started_at)`.as('last_attempt_at'),
      sql<Date | null>`max(finished_at) FILTER (WHERE status = 'succeeded')`.as('last_success_at'),
      sql<Date | null>`max(started_at) FILTER (WHERE status = 'failed')`.as('last_failure_at'),
    ])
    .groupBy('source')
    .orderBy('source')
    .execute();
  return rows.map((r) => ({
    ...r,
    last_attempt_at: iso(r.last_attempt_at),
    last_success_at: iso(r.last_success_at),
    last_failure_at: iso(r.last_failure_at),
  }));
}

/** The newest failed attempts, newest first. */
export async function listIngestFailures(db: Kysely<Database>, limit = 10): Promise<IngestFailureView[]> {
  const rows = await db
    .selectFrom('ingestion_log')
    .select(['id', 'source', 'subject', 'error_class', 'error', 'started_at'])
    .where('status', '=', 'failed')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ ...r, id: Number(r.id), started_at: iso(r.started_at)! }));
}

import { type Kysely, sql } from 'kysely';
import type { Database, JobStatus } from '../db/types.js';
import { InputError } from '../errors.js';
import { type JobView, jobColumns, jobStatuses, toJobView } from './job-view.js';
import { iso } from './time.js';

/**
 * What the dashboard reads beyond status, jobs, workers and workflows. Every query here is bounded
 * whatever the size of the history: partial indexes, LIMITs, key ranges, and the monitoring views;
 * never a count(*) over finished jobs, never an OFFSET.
 */

/** Live counts stop at this: past it the dashboard shows "100000+", and the count costs no more. */
export const liveCountCap = 100_000;

export interface LiveQueueCounts {
  /** Each count is at most cap + 1: a value above cap means "more than cap". */
  pending: number;
  runnable: number;
  in_progress: number;
  failed: number;
  cap: number;
}

/** Jobs waiting, runnable, running and failed now, from the partial indexes of those states, each capped. */
export async function liveQueueCounts(db: Kysely<Database>, cap = liveCountCap): Promise<LiveQueueCounts> {
  const capped = (where: ReturnType<typeof sql>) =>
    sql<number>`(SELECT count(*)::int FROM (SELECT 1 FROM job_queue WHERE ${where} LIMIT ${cap + 1}) c)`;
  const { rows } = await sql<Omit<LiveQueueCounts, 'cap'>>`SELECT
      ${capped(sql`status = 'pending'`)} AS pending,
      ${capped(sql`status = 'pending' AND run_at <= now()`)} AS runnable,
      ${capped(sql`status = 'in_progress'`)} AS in_progress,
      ${capped(sql`status = 'failed'`)} AS failed`.execute(db);
  return { ...rows[0]!, cap };
}

export interface BacklogRow {
  queue: string;
  job_type: string;
  status: JobStatus;
  jobs: number;
  runnable: number;
  oldest_run_at: string | null;
  max_wait_seconds: number | null;
  refreshed_at: string;
}

/** The queue backlog by queue, type and state, as of the monitoring view's last refresh. */
export async function queueBacklog(db: Kysely<Database>): Promise<BacklogRow[]> {
  const rows = await db
    .selectFrom('mv_job_queue_backlog')
    .selectAll()
    .orderBy('queue')
    .orderBy('job_type')
    .orderBy('status')
    .limit(500)
    .execute();
  return rows.map((r) => ({
    queue: r.queue,
    job_type: r.job_type,
    status: r.status,
    jobs: Number(r.jobs),
    runnable: Number(r.runnable),
    oldest_run_at: iso(r.oldest_run_at),
    max_wait_seconds: r.max_wait_seconds === null ? null : Number(r.max_wait_seconds),
    refreshed_at: r.refreshed_at.toISOString(),
  }));
}

export interface Throughput {
  /** The last 60 minutes, oldest first (each the start of its minute). */
  minutes: string[];
  completed: number[];
  retried: number[];
  failed: number[];
  cancelled: number[];
  /** Job types with failures, retries or cancellations in that hour, most failures first (at most 10). */
  failures_by_type: Array<{ job_type: string; failed: number; retried: number; cancelled: number }>;
}

/** Jobs finished per minute over the last hour, by outcome, from job_throughput (kept per minute, queue, type and outcome by the workers). */
export async function throughputLastHour(db: Kysely<Database>): Promise<Throughput> {
  const series = await sql<{ minute: Date; completed: number; retried: number; failed: number; cancelled: number }>`
    WITH t AS (
      SELECT minute, outcome, sum(jobs)::float8 AS jobs
        FROM job_throughput
       WHERE minute >= date_trunc('minute', now()) - interval '59 minutes'
       GROUP BY minute, outcome
    )
    SELECT m.minute,
           coalesce(sum(t.jobs) FILTER (WHERE t.outcome = 'completed'), 0)::float8 AS completed,
           coalesce(sum(t.jobs) FILTER (WHERE t.outcome = 'retried'), 0)::float8 AS retried,
           coalesce(sum(t.jobs) FILTER (WHERE t.outcome = 'failed'), 0)::float8 AS failed,
           coalesce(sum(t.jobs) FILTER (WHERE t.outcome = 'cancelled'), 0)::float8 AS cancelled
      FROM generate_series(date_trunc('minute', now()) - interval '59 minutes', date_trunc('minute', now()), interval '1 minute') AS m(minute)
      LEFT JOIN t ON t.minute = m.minute
     GROUP BY m.minute
     ORDER BY m.minute`.execute(db);
  const byType = await sql<{ job_type: string; failed: number; retried: number; cancelled: number }>`
    SELECT job_type,
           coalesce(sum(jobs) FILTER (WHERE outcome = 'failed'), 0)::float8 AS failed,
           coalesce(sum(jobs) FILTER (WHERE outcome = 'retried'), 0)::float8 AS retried,
           coalesce(sum(jobs) FILTER (WHERE outcome = 'cancelled'), 0)::float8 AS cancelled
      FROM job_throughput
     WHERE minute >= date_trunc('minute', now()) - interval '59 minutes' AND outcome <> 'completed'
     GROUP BY job_type
     ORDER BY 2 DESC, 3 DESC, job_type
     LIMIT 10`.execute(db);
  const rows = series.rows;
  return {
    minutes: rows.map((r) => r.minute.toISOString()),
    completed: rows.map((r) => r.completed),
    retried: rows.map((r) => r.retried),
    failed: rows.map((r) => r.failed),
    cancelled: rows.map((r) => r.cancelled),
    failures_by_type: byType.rows,
  };
}

export interface SyncLagRow {
  scope: 'system' | 'table';
  name: string;
  enabled: boolean;
  status: string | null;
  last_success_at: string | null;
  /** Seconds since the last successful sync. */
  lag_seconds: number | null;
  /** Age of the oldest change not yet sent at the end of the last run (0: none waited). */
  pending_seconds: number | null;
  last_error: string | null;
  refreshed_at: string;
}

/** Sync lag per system and per table, as of the monitoring view's last refresh. */
export async function syncLag(db: Kysely<Database>): Promise<SyncLagRow[]> {
  const rows = await db.selectFrom('mv_sync_lag').selectAll().orderBy('scope').orderBy('name').limit(200).execute();
  return rows.map((r) => ({
    ...r,
    last_success_at: iso(r.last_success_at),
    lag_seconds: r.lag_seconds === null ? null : Math.round(Number(r.lag_seconds)),
    refreshed_at: r.refreshed_at.toISOString(),
  }));
}

export interface IngestionErrorRow {
  source: string;
  error_class: string;
  /** Failures in the view's 7 days. */
  errors: number;
  errors_24h: number;
  first_error_at: string;
  last_error_at: string;
  last_error: string | null;
  refreshed_at: string;
}

/**
 * Ingestion failures per source and error class, newest first, as of the monitoring view's last
 * refresh (the view keeps 7 days, by hour; these are its hours added up).
 */
export async function ingestionErrors(db: Kysely<Database>, limit = 20): Promise<IngestionErrorRow[]> {
  const hours = await db.selectFrom('mv_ingestion_errors').selectAll().orderBy('last_error_at', 'desc').execute();
  const dayAgo = Date.now() - 86_400_000;
  const groups = new Map<string, IngestionErrorRow>();
  for (const h of hours) {
    const key = `${h.source}\u0000${h.error_class}`;
    const group = groups.get(key) ?? {
      source: h.source,
      error_class: h.error_class,
      errors: 0,
      errors_24h: 0,
      first_error_at: h.first_error_at.toISOString(),
      last_error_at: h.last_error_at.toISOString(),
      last_error: h.last_error,
      refreshed_at: h.refreshed_at.toISOString(),
    };
    group.errors += Number(h.errors);
    if (h.hour.getTime() + 3_600_000 > dayAgo) group.errors_24h += Number(h.errors);
    if (h.first_error_at.toISOString() < group.first_error_at) group.first_error_at = h.first_error_at.toISOString();
    groups.set(key, group);
  }
  return [...groups.values()].slice(0, limit);
}

export interface JobSearch {
  type?: string;
  status?: JobStatus;
  /** Matched, case-insensitively, inside the type, dedupe key and last error; a number also matches the id. */
  text?: string;
  /** Only jobs with a smaller id: the next page starts at the previous answer's next_before. */
  before?: number;
  /** 1 to 200; default 50. */
  limit?: number;
}

export interface JobPage {
  /** Newest first; when the search text is a job's id, that job comes first on the first page. */
  jobs: JobView[];
  /** Where the next (older) page starts; null when there is nothing older. */
  next_before: number | null;
  /**
   * A search that may skip rows (text, type, or a state without an index of its own) reads ids
   * below `before` down to this id at most: when a page comes back short, next_before carries on
   * below it. Null when the whole table below `before` was searched.
   */
  searched_down_to: number | null;
}

/** A filtered search reads at most this many ids per page (a key range of the primary key). */
export const jobSearchWindow = 50_000;

/** The states whose rows a partial index holds: few, so they are searched whole. */
const indexedStates: readonly JobStatus[] = ['pending', 'in_progress', 'failed'];

/**
 * Jobs newest first, filtered by type, state and text, one page at a time (keyset paging by id).
 * With a million finished jobs each page stays cheap: unfiltered or by an indexed state (pending,
 * running and failed jobs have partial indexes, whatever the type) it is an index scan with LIMIT;
 * any other filter reads one window of ids (jobSearchWindow) below `before`, so a filter that
 * matches nothing costs one bounded range scan, and the next page goes on below it.
 */
export async function searchJobs(db: Kysely<Database>, search: JobSearch = {}): Promise<JobPage> {
  const { type, status, before } = search;
  const text = search.text?.trim() || undefined;
  const limit = search.limit ?? 50;
  checkSearch(search, limit);
  const bounds = await idBounds(db);
  if (bounds.max === null) return { jobs: [], next_before: null, searched_down_to: null };
  const top = Math.min(before ?? Number.MAX_SAFE_INTEGER, bounds.max + 1);
  const indexed = status !== undefined && indexedStates.includes(status);
  const windowed = text !== undefined || (!indexed && (type !== undefined || status !== undefined));
  const floor = windowed ? top - jobSearchWindow : undefined;

  let query = db.selectFrom('job_queue').select(jobColumns).where('id', '<', top);
  if (floor !== undefined) query = query.where('id', '>=', floor);
  if (status !== undefined) query = query.where('status', '=', status);
  if (type !== undefined) query = query.where('job_type', '=', type);
  if (text !== undefined) {
    const pattern = `%${text.replace(/[\\%_]/g, '\\$&')}%`;
    query = query.where((eb) =>
      eb.or([eb('job_type', 'ilike', pattern), eb('dedupe_key', 'ilike', pattern), eb('last_error', 'ilike', pattern)]),
    );
  }
  const exactId = text !== undefined && /^\d{1,15}$/.test(text) ? Number(text) : undefined;
  if (exactId !== undefined) query = query.where('id', '<>', exactId);
  const rows = (await query.orderBy('id', 'desc').limit(limit).execute()).map(toJobView);
  // The job whose id the text is comes first, on the first page only (wherever its id lies).
  const hit = exactId !== undefined && before === undefined ? await jobById(db, exactId, search) : undefined;
  const jobs = hit ? [hit, ...rows] : rows;

  const searchedDownTo = floor !== undefined && floor > bounds.min! ? floor : null;
  const nextBefore = rows.length === limit ? rows[rows.length - 1]!.id : searchedDownTo;
  return { jobs, next_before: nextBefore, searched_down_to: searchedDownTo };
}

function checkSearch(search: JobSearch, limit: number): void {
  if (search.status !== undefined && !jobStatuses.includes(search.status)) {
    throw new InputError(`unknown state; one of ${jobStatuses.join(', ')}`, undefined, 'state');
  }
  if (!Number.isInteger(limit) || limit < 1 || limit > 200)
    throw new InputError('limit must be an integer from 1 to 200', undefined, 'limit');
  if (search.text !== undefined && search.text.length > 200) throw new InputError('the search text is over 200 characters', undefined, 'q');
}

/** The smallest and largest job ids: two reads of the primary key's ends. */
async function idBounds(db: Kysely<Database>): Promise<{ min: number | null; max: number | null }> {
  const row = await db
    .selectFrom('job_queue')
    .select((eb) => [eb.fn.min('id').as('min'), eb.fn.max('id').as('max')])
    .executeTakeFirstOrThrow();
  return { min: row.min === null ? null : Number(row.min), max: row.max === null ? null : Number(row.max) };
}

/** The job whose id the search text is, when it passes the other filters. */
async function jobById(db: Kysely<Database>, id: number, search: JobSearch): Promise<JobView | undefined> {
  let query = db.selectFrom('job_queue').select(jobColumns).where('id', '=', id);
  if (search.status !== undefined) query = query.where('status', '=', search.status);
  if (search.type !== undefined) query = query.where('job_type', '=', search.type);
  const row = await query.executeTakeFirst();
  return row && toJobView(row);
}

export interface AgentEventView {
  id: number;
  created_at: string;
  event_type: string;
  agent: string | null;
  agent_type: string | null;
  execution_id: number | null;
  job_id: number | null;
  payload: unknown;
}

/** Agent events newest first, keyset-paged by id. */
export async function recentAgentEvents(
  db: Kysely<Database>,
  options: { before?: number; limit?: number } = {},
): Promise<AgentEventView[]> {
  let query = db
    .selectFrom('agent_events as e')
    .leftJoin('agents as a', 'a.id', 'e.agent_id')
    .select(['e.id', 'e.created_at', 'e.event_type', 'a.name as agent', 'a.agent_type', 'e.execution_id', 'e.job_id', 'e.payload']);
  if (options.before !== undefined) query = query.where('e.id', '<', options.before);
  const rows = await query
    .orderBy('e.id', 'desc')
    .limit(options.limit ?? 50)
    .execute();
  return rows.map((r) => ({
    ...r,
    id: Number(r.id),
    created_at: r.created_at.toISOString(),
    execution_id: r.execution_id === null ? null : Number(r.execution_id),
    job_id: r.job_id === null ? null : Number(r.job_id),
  }));
}

export interface SkippedTickView {
  template: string;
  tick_at: string;
  reason: string | null;
  source: string;
  recorded_at: string;
}

/** The newest skipped ticks with their reasons: per template through its primary key, newest first. */
export async function skippedTicks(db: Kysely<Database>, limit = 20): Promise<SkippedTickView[]> {
  const rows = await db
    .selectFrom('workflow_templates as t')
    .innerJoinLateral(
      (eb) =>
        eb
          .selectFrom('workflow_ticks as k')
          .select(['k.tick_at', 'k.reason', 'k.source', 'k.recorded_at'])
          .whereRef('k.template_id', '=', 't.id')
          .where('k.fate', '=', 'skipped')
          .orderBy('k.tick_at', 'desc')
          .limit(limit)
          .as('k'),
      (join) => join.onTrue(),
    )
    .select(['t.name as template', 'k.tick_at', 'k.reason', 'k.source', 'k.recorded_at'])
    .orderBy('k.tick_at', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ ...r, tick_at: r.tick_at.toISOString(), recorded_at: r.recorded_at.toISOString() }));
}

export interface DashboardActionView {
  id: number;
  action: string;
  target: string;
  actor: string;
  at: string;
  ok: boolean;
  detail: string | null;
}

/** The operators' latest actions from the dashboard, newest first. */
export async function recentDashboardActions(db: Kysely<Database>, limit = 20): Promise<DashboardActionView[]> {
  const rows = await db.selectFrom('dashboard_actions').selectAll().orderBy('id', 'desc').limit(limit).execute();
  return rows.map((r) => ({ ...r, id: Number(r.id), at: r.at.toISOString() }));
}

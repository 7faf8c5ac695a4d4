import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/types.js';
import { agentCounts } from './agents.js';
import { finishedJobCounts, type JobCount, liveJobCounts } from './jobs.js';
import { listSyncSystems, type SyncSystemView } from './sync.js';
import { iso } from './time.js';
import { listWorkers, type WorkerView } from './workers.js';
import { listTemplates, liveSchedulerCount, type TemplateView } from './workflows.js';

/** What the system is doing now: `cesar status --json` and `GET /api/status`. */
export interface StatusView {
  generated_at: string;
  agents: Array<{ agent_type: string; status: string; count: number }>;
  templates: TemplateView[];
  /** Scheduler processes alive (heartbeat within 30 s): with none, no template fires. */
  schedulers_live: number;
  /** Jobs pending, in progress and failed (dead, kept), by type: exact, now. */
  jobs: JobCount[];
  /** Jobs completed and cancelled in the last 24 hours, by type (as of the backlog view's refresh). */
  finished_24h: JobCount[];
  /** When each monitoring view was last refreshed, and how long that took. */
  monitoring_views: ViewRefreshView[];
  sync: SyncSystemView[];
  workers: WorkerView[];
  /** Parts of the system that are not built yet, said plainly rather than shown as numbers. */
  not_built: Array<{ part: string; note: string }>;
}

/** The last refresh of a monitoring view (monitoring_view_refreshes). */
export interface ViewRefreshView {
  view: string;
  refreshed_at: string | null;
  /** Seconds since refreshed_at, by the database's clock. */
  age_seconds: number | null;
  duration_ms: number | null;
  refreshed_by: string | null;
  refreshes: number;
  /** The last failed refresh; the view is stale since then when last_error_at is after refreshed_at. */
  last_error: string | null;
  last_error_at: string | null;
}

/** Each monitoring view's last refresh, by view name. */
export async function viewRefreshes(db: Kysely<Database>): Promise<ViewRefreshView[]> {
  const rows = await db
    .selectFrom('monitoring_view_refreshes')
    .select(['view_name', 'refreshed_at', 'duration_ms', 'refreshed_by', 'refreshes', 'last_error', 'last_error_at'])
    .select(sql<number | null>`EXTRACT(EPOCH FROM now() - refreshed_at)::float8`.as('age_seconds'))
    .orderBy('view_name')
    .execute();
  return rows.map((r) => ({
    view: r.view_name,
    refreshed_at: iso(r.refreshed_at),
    age_seconds: r.age_seconds,
    duration_ms: r.duration_ms,
    refreshed_by: r.refreshed_by,
    refreshes: r.refreshes,
    last_error: r.last_error,
    last_error_at: iso(r.last_error_at),
  }));
}

/** `handlers`: the step handler names this cesar has (a template naming others is not runnable). */
export async function getStatus(db: Kysely<Database>, handlers: ReadonlySet<string>): Promise<StatusView> {
  const { now } = await sql<{ now: Date }>`SELECT now() AS now`.execute(db).then((r) => r.rows[0]!);
  const [agents, templates, schedulers, jobs, finished, views, sync, workers] = await Promise.all([
    agentCounts(db),
    listTemplates(db, now, handlers),
    liveSchedulerCount(db),
    liveJobCounts(db),
    finishedJobCounts(db),
    viewRefreshes(db),
    listSyncSystems(db),
    listWorkers(db),
  ]);
  return {
    generated_at: now.toISOString(),
    agents,
    templates,
    schedulers_live: schedulers,
    jobs,
    finished_24h: finished,
    monitoring_views: views,
    sync,
    workers,
    // Every sync system runs now (email_ingest came last); the list stays for parts still to come.
    not_built: [],
  };
}

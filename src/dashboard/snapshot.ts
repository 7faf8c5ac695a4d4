import type { Kysely } from 'kysely';
import type { Database } from '../db/types.js';
import {
  type AgentEventView,
  type BacklogRow,
  type DashboardActionView,
  type IngestionErrorRow,
  ingestionErrors,
  type LiveQueueCounts,
  liveQueueCounts,
  queueBacklog,
  recentAgentEvents,
  recentDashboardActions,
  type SkippedTickView,
  type SyncLagRow,
  skippedTicks,
  syncLag,
  type Throughput,
  throughputLastHour,
} from '../read-model/dashboard.js';
import {
  agentCounts,
  databaseNow,
  type ExecutionSummary,
  type JobView,
  listExecutions,
  listJobs,
  listTemplates,
  listWorkers,
  liveSchedulerCount,
  type TemplateView,
  type WorkerView,
} from '../read-model/index.js';

/**
 * The summaries the four pages show and keep live, read in one go. Each part is bounded (capped
 * counts, monitoring views, LIMITs), so a snapshot costs the same with ten jobs or ten million.
 */

export interface OverviewView {
  queue: LiveQueueCounts;
  backlog: BacklogRow[];
  throughput: Throughput;
  workers: WorkerView[];
  sync: SyncLagRow[];
  ingestion_errors: IngestionErrorRow[];
  agents: Array<{ agent_type: string; status: string; count: number }>;
}

export interface WorkflowsView {
  schedulers_live: number;
  templates: TemplateView[];
  executions: ExecutionSummary[];
  skipped_ticks: SkippedTickView[];
}

/** The agents page's live part (the counts by type and status are the overview's). */
export interface AgentsView {
  events: AgentEventView[];
  actions: DashboardActionView[];
}

export interface DashboardSnapshot {
  overview: OverviewView;
  /** The newest jobs: the jobs page's first page when it has no filter. */
  jobs: { recent: JobView[] };
  workflows: WorkflowsView;
  agents: AgentsView;
}

export async function overview(db: Kysely<Database>): Promise<OverviewView> {
  const [queue, backlog, throughput, workers, sync, errors, agents] = await Promise.all([
    liveQueueCounts(db),
    queueBacklog(db),
    throughputLastHour(db),
    listWorkers(db, { limit: 20 }),
    syncLag(db),
    ingestionErrors(db),
    agentCounts(db),
  ]);
  return { queue, backlog, throughput, workers, sync, ingestion_errors: errors, agents };
}

export async function workflows(db: Kysely<Database>, handlers: ReadonlySet<string>, template?: string): Promise<WorkflowsView> {
  const now = await databaseNow(db);
  const [templates, schedulersLive, executions, skipped] = await Promise.all([
    listTemplates(db, now, handlers),
    liveSchedulerCount(db),
    listExecutions(db, { limit: 20, template }),
    skippedTicks(db, 20),
  ]);
  return { schedulers_live: schedulersLive, templates, executions, skipped_ticks: skipped };
}

export async function agents(db: Kysely<Database>, before?: number): Promise<AgentsView> {
  const [events, actions] = await Promise.all([recentAgentEvents(db, { before, limit: 50 }), recentDashboardActions(db)]);
  return { events, actions };
}

/** Everything the live pages show: what the server computes once and pushes to every open page. */
export async function dashboardSnapshot(db: Kysely<Database>, handlers: ReadonlySet<string>): Promise<DashboardSnapshot> {
  const [o, recent, w, a] = await Promise.all([overview(db), listJobs(db, { limit: 25 }), workflows(db, handlers), agents(db)]);
  return { overview: o, jobs: { recent }, workflows: w, agents: a };
}

import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/types.js';
import { agentCounts } from './agents.js';
import { type JobCount, jobCounts } from './jobs.js';
import { listSyncSystems, type SyncSystemView } from './sync.js';
import { listWorkers, type WorkerView } from './workers.js';
import { listTemplates, liveSchedulerCount, type TemplateView } from './workflows.js';

/** What the system is doing now: `cesar status --json` and `GET /api/status`. */
export interface StatusView {
  generated_at: string;
  agents: Array<{ agent_type: string; status: string; count: number }>;
  templates: TemplateView[];
  /** Scheduler processes alive (heartbeat within 30 s): with none, no template fires. */
  schedulers_live: number;
  jobs: JobCount[];
  sync: SyncSystemView[];
  workers: WorkerView[];
  /** Parts of the system that are not built yet, said plainly rather than shown as numbers. */
  not_built: Array<{ part: string; note: string }>;
}

/** `handlers`: the step handler names this cesar has (a template naming others is not runnable). */
export async function getStatus(db: Kysely<Database>, handlers: ReadonlySet<string>): Promise<StatusView> {
  const { now } = await sql<{ now: Date }>`SELECT now() AS now`.execute(db).then((r) => r.rows[0]!);
  const [agents, templates, schedulers, jobs, sync, workers] = await Promise.all([
    agentCounts(db),
    listTemplates(db, now, handlers),
    liveSchedulerCount(db),
    jobCounts(db),
    listSyncSystems(db),
    listWorkers(db),
  ]);
  return {
    generated_at: now.toISOString(),
    agents,
    templates,
    schedulers_live: schedulers,
    jobs,
    sync,
    workers,
    not_built: [{ part: 'sync', note: 'not built yet: no sync has run; statuses are the configured initial state' }],
  };
}

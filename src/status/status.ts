import type pg from 'pg';
import { nextRun } from '../workflows/cron.js';

export interface SystemStatus {
  generatedAt: string;
  agents: Array<{ agentType: string; status: string; count: number }>;
  templates: Array<{
    name: string;
    cronExpression: string;
    timezone: string;
    isActive: boolean;
    lastRunAt: string | null;
    lastRunStatus: string | null;
    /** The next cron slot; null for an inactive template or an invalid expression. */
    nextRunAt: string | null;
  }>;
  jobs: Array<{ jobType: string; status: string; count: number }>;
  sync: Array<{
    system: string;
    kind: string;
    enabled: boolean;
    status: string;
    lastSuccessAt: string | null;
    lastError: string | null;
  }>;
  /** Parts of the system that are not built yet, said plainly rather than shown as numbers. */
  notBuilt: Array<{ part: string; note: string }>;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/** What the system is doing now, as `cesar status` and the API show it. */
export async function getStatus(pool: pg.Pool): Promise<SystemStatus> {
  const [agents, templates, jobs, sync, now] = await Promise.all([
    pool.query<{ agent_type: string; status: string; n: number }>(
      'SELECT agent_type, status, count(*) AS n FROM agents GROUP BY agent_type, status ORDER BY agent_type, status'),
    pool.query<{ name: string; cron_expression: string; timezone: string; is_active: boolean; last_run_at: Date | null; last_status: string | null }>(
      `SELECT t.name, t.cron_expression, t.timezone, t.is_active, e.scheduled_for AS last_run_at, e.status AS last_status
         FROM workflow_templates t
         LEFT JOIN LATERAL (SELECT scheduled_for, status FROM workflow_executions x
                             WHERE x.template_id = t.id ORDER BY scheduled_for DESC LIMIT 1) e ON true
        ORDER BY t.id`),
    pool.query<{ job_type: string; status: string; n: number }>(
      'SELECT job_type, status, count(*) AS n FROM job_queue GROUP BY job_type, status ORDER BY job_type, status'),
    pool.query<{ name: string; kind: string; enabled: boolean; status: string | null; last_success_at: Date | null; last_error: string | null }>(
      `SELECT s.name, s.kind, s.enabled, st.status, st.last_success_at, st.last_error
         FROM sync_systems s LEFT JOIN sync_status st ON st.system_name = s.name ORDER BY s.name`),
    pool.query<{ now: Date }>('SELECT now() AS now'),
  ]);
  const dbNow = now.rows[0]?.now ?? new Date();
  return {
    generatedAt: dbNow.toISOString(),
    agents: agents.rows.map((r) => ({ agentType: r.agent_type, status: r.status, count: r.n })),
    templates: templates.rows.map((t) => ({
      name: t.name,
      cronExpression: t.cron_expression,
      timezone: t.timezone,
      isActive: t.is_active,
      lastRunAt: iso(t.last_run_at),
      lastRunStatus: t.last_status,
      nextRunAt: t.is_active ? iso(nextRun(t.cron_expression, t.timezone, dbNow) ?? null) : null,
    })),
    jobs: jobs.rows.map((r) => ({ jobType: r.job_type, status: r.status, count: r.n })),
    sync: sync.rows.map((s) => ({
      system: s.name,
      kind: s.kind,
      enabled: s.enabled,
      status: s.status ?? 'no status row',
      lastSuccessAt: iso(s.last_success_at),
      lastError: s.last_error,
    })),
    notBuilt: [
      { part: 'scheduler', note: 'not built yet: next runs are the cron slots, but nothing fires them until the Scheduler issue lands' },
      { part: 'worker', note: 'not built yet: jobs stay pending until `cesar worker` lands with the Queue issue' },
      { part: 'sync', note: 'not built yet: no sync has run; statuses are the configured initial state' },
    ],
  };
}

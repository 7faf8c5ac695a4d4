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
  workers: Array<{
    id: string;
    hostname: string;
    pid: number;
    concurrency: number;
    startedAt: string;
    lastHeartbeatAt: string;
    /** live: heartbeat in the last 2 minutes; stopped: shut down cleanly; lost: neither. */
    state: 'live' | 'stopped' | 'lost';
  }>;
  /** Parts of the system that are not built yet, said plainly rather than shown as numbers. */
  notBuilt: Array<{ part: string; note: string }>;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/** What the system is doing now, as `cesar status` and the API show it. */
export async function getStatus(pool: pg.Pool): Promise<SystemStatus> {
  const [agents, templates, jobs, sync, now, workers] = await Promise.all([
    pool.query<{ agent_type: string; status: string; n: number }>(
      'SELECT agent_type, status, count(*) AS n FROM agents GROUP BY agent_type, status ORDER BY agent_type, status',
    ),
    pool.query<{
      name: string;
      cron_expression: string;
      timezone: string;
      is_active: boolean;
      last_run_at: Date | null;
      last_status: string | null;
    }>(
      `SELECT t.name, t.cron_expression, t.timezone, t.is_active, e.scheduled_for AS last_run_at, e.status AS last_status
         FROM workflow_templates t
         LEFT JOIN LATERAL (SELECT scheduled_for, status FROM workflow_executions x
                             WHERE x.template_id = t.id ORDER BY scheduled_for DESC LIMIT 1) e ON true
        ORDER BY t.id`,
    ),
    pool.query<{ job_type: string; status: string; n: number }>(
      'SELECT job_type, status, count(*) AS n FROM job_queue GROUP BY job_type, status ORDER BY job_type, status',
    ),
    pool.query<{
      name: string;
      kind: string;
      enabled: boolean;
      status: string | null;
      last_success_at: Date | null;
      last_error: string | null;
    }>(
      `SELECT s.name, s.kind, s.enabled, st.status, st.last_success_at, st.last_error
         FROM sync_systems s LEFT JOIN sync_status st ON st.system_name = s.name ORDER BY s.name`,
    ),
    pool.query<{ now: Date }>('SELECT now() AS now'),
    pool.query<{
      id: string;
      hostname: string;
      pid: number;
      concurrency: number;
      started_at: Date;
      last_heartbeat_at: Date;
      state: 'live' | 'stopped' | 'lost';
    }>(
      `SELECT id, hostname, pid, concurrency, started_at, last_heartbeat_at,
              CASE WHEN stopped_at IS NOT NULL THEN 'stopped'
                   WHEN last_heartbeat_at > now() - interval '2 minutes' THEN 'live' ELSE 'lost' END AS state
         FROM workers
        WHERE stopped_at IS NULL OR stopped_at > now() - interval '1 day'
        ORDER BY started_at DESC LIMIT 50`,
    ),
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
    workers: workers.rows.map((w) => ({
      id: w.id,
      hostname: w.hostname,
      pid: w.pid,
      concurrency: w.concurrency,
      startedAt: w.started_at.toISOString(),
      lastHeartbeatAt: w.last_heartbeat_at.toISOString(),
      state: w.state,
    })),
    notBuilt: [
      { part: 'scheduler', note: 'not built yet: next runs are the cron slots, but nothing fires them until the Scheduler issue lands' },
      { part: 'sync', note: 'not built yet: no sync has run; statuses are the configured initial state' },
    ],
  };
}

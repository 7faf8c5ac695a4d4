import { getStatus, type SystemStatus } from '../status/status.js';
import { type CliContext, describeDatabase, withDatabase } from './context.js';
import { dim, printJson, renderTable } from './output.js';

export interface StatusOptions {
  json?: boolean;
}

/** `cesar status`: tables of what the system is doing now. */
export async function runStatus(ctx: CliContext, options: StatusOptions): Promise<number> {
  return withDatabase(ctx, async (handle) => {
    const status = await getStatus(handle.pool);
    if (options.json) printJson(ctx.out, { database: handle.displayUrl, server: handle.server.version, ...status });
    else ctx.out(formatStatus(status, describeDatabase(handle)));
    return 0;
  });
}

const orNever = (value: string | null): string => value ?? 'never';

export function formatStatus(s: SystemStatus, database: string): string {
  const out: string[] = [`Database: ${database}`, `As of: ${s.generatedAt}`, ''];
  out.push('Agents by type and status');
  out.push(
    renderTable(
      ['Type', 'Status', 'Agents'],
      s.agents.map((a) => [a.agentType, a.status, a.count]),
    ),
  );
  out.push('', 'Workflow templates');
  out.push(
    renderTable(
      ['Template', 'Schedule', 'Timezone', 'Active', 'Last run', 'Next run'],
      s.templates.map((t) => [
        t.name,
        t.cronExpression,
        t.timezone,
        t.isActive ? 'yes' : 'no',
        t.lastRunAt ? `${t.lastRunAt} (${t.lastRunStatus})` : 'never',
        t.nextRunAt ?? '-',
      ]),
    ),
  );
  out.push('', 'Job queue by type and status');
  out.push(
    s.jobs.length > 0
      ? renderTable(
          ['Type', 'Status', 'Jobs'],
          s.jobs.map((j) => [j.jobType, j.status, j.count]),
        )
      : '  (no jobs)',
  );
  out.push('', 'Workers (live, and stopped in the last day)');
  out.push(
    s.workers.length > 0
      ? renderTable(
          ['Worker', 'Concurrency', 'Started', 'Last heartbeat', 'State'],
          s.workers.map((w) => [w.id, w.concurrency, w.startedAt, w.lastHeartbeatAt, w.state]),
        )
      : '  (no workers: start one with `cesar worker`)',
  );
  out.push('', 'Sync status per system');
  out.push(
    renderTable(
      ['System', 'Kind', 'Enabled', 'Status', 'Last success', 'Last error'],
      s.sync.map((x) => [x.system, x.kind, x.enabled ? 'yes' : 'no', x.status, orNever(x.lastSuccessAt), x.lastError ?? '-']),
    ),
  );
  out.push('', 'Not built yet');
  for (const n of s.notBuilt) out.push(dim(`  ${n.part}: ${n.note}`));
  return out.join('\n');
}

import { UsageError } from '../errors.js';
import { getStatus, type StatusView } from '../read-model/index.js';
import type { ViewRefreshView } from '../read-model/status.js';
import { builtInStepHandlers } from '../steps/index.js';
import { type CliContext, describeDatabase, withDatabase } from './context.js';
import { dim, printJson, renderTable } from './output.js';
import { watch } from './watch.js';

export interface StatusOptions {
  json?: boolean;
  /** Redraw every interval until SIGINT/SIGTERM (with --json: one JSON document per line, per interval). */
  watch?: boolean;
  interval?: number;
}

/** `cesar status`: tables of what the system is doing now. */
export async function runStatus(ctx: CliContext, options: StatusOptions): Promise<number> {
  if (options.watch && (options.interval ?? 2000) < 250) throw new UsageError('--interval must be at least 250ms');
  return withDatabase(ctx, async (handle) => {
    const db = await handle.kysely();
    const steps = new Set(builtInStepHandlers().names());
    const json = async () => ({ database: handle.displayUrl, server: handle.server.version, ...(await getStatus(db, steps)) });
    const text = async () => formatStatus(await getStatus(db, steps), describeDatabase(handle));
    if (options.watch) {
      const intervalMs = options.interval ?? 2000;
      if (options.json) await watch(async () => JSON.stringify(await json()), { intervalMs, tty: false, bare: true, write: ctx.out });
      else await watch(text, { intervalMs, tty: process.stdout.isTTY === true, write: (t) => process.stdout.write(t) });
      return 0;
    }
    if (options.json) printJson(ctx.out, await json());
    else ctx.out(await text());
    return 0;
  });
}

const orNever = (value: string | null): string => value ?? 'never';

/** A view's refresh as a table row: when, how long ago, how long it took, by whom, and a failure since. */
function viewRow(v: ViewRefreshView): Array<string | number> {
  const failing = v.last_error_at !== null && (v.refreshed_at === null || v.last_error_at > v.refreshed_at);
  return [
    v.view,
    orNever(v.refreshed_at),
    v.age_seconds === null ? '-' : `${Math.round(v.age_seconds)} s`,
    v.duration_ms === null ? '-' : `${Math.round(v.duration_ms)} ms`,
    v.refreshes,
    v.refreshed_by ?? '-',
    failing ? `${v.last_error_at}: ${v.last_error}` : '-',
  ];
}

function formatStatus(s: StatusView, database: string): string {
  const out: string[] = [`Database: ${database}`, `As of: ${s.generated_at}`, ''];
  out.push('Agents by type and status');
  out.push(
    renderTable(
      ['Type', 'Status', 'Agents'],
      s.agents.map((a) => [a.agent_type, a.status, a.count]),
    ),
  );
  out.push(
    '',
    `Workflow templates (schedulers alive: ${s.schedulers_live}${s.schedulers_live === 0 ? ': nothing fires; run `cesar start` or `cesar scheduler`' : ''})`,
  );
  out.push(
    renderTable(
      ['Template', 'Schedule', 'Active', 'Runnable', 'Last fired', 'Last status', 'Next due', 'Late'],
      s.templates.map((t) => [
        t.name,
        `${t.cron_expression} ${t.timezone}`,
        t.is_active ? 'yes' : 'paused',
        t.runnable ? 'yes' : `no: ${t.missing_steps.length} step(s) without handler`,
        orNever(t.last_fired_at),
        t.last_status ?? '-',
        t.next_due_at ?? '-',
        t.late_by_seconds === null ? 'no' : `by ${t.late_by_seconds} s`,
      ]),
    ),
  );
  out.push('', 'Job queue by type and status (completed and cancelled: in the last 24 hours)');
  const jobRows = [
    ...s.jobs.map((j) => [j.job_type, j.status, j.count]),
    ...s.finished_24h.map((j) => [j.job_type, `${j.status} (24 h)`, j.count]),
  ];
  out.push(jobRows.length > 0 ? renderTable(['Type', 'Status', 'Jobs'], jobRows) : '  (no jobs)');
  out.push('', 'Monitoring views (refreshed by a worker soon after changes, and at least every minute)');
  out.push(renderTable(['View', 'Refreshed', 'Age', 'Took', 'Refreshes', 'By', 'Failing since'], s.monitoring_views.map(viewRow)));
  out.push('', 'Workers (live, and stopped in the last day)');
  out.push(
    s.workers.length > 0
      ? renderTable(
          ['Worker', 'Concurrency', 'Started', 'Last heartbeat', 'State'],
          s.workers.map((w) => [w.id, w.concurrency, w.started_at, w.last_heartbeat_at, w.state]),
        )
      : '  (no workers: start one with `cesar worker`)',
  );
  out.push('', 'Sync status per system');
  out.push(
    renderTable(
      ['System', 'Kind', 'Enabled', 'Status', 'Last success', 'Pending', 'Clock skew', 'Last error'],
      s.sync.map((x) => [
        x.system,
        x.kind,
        x.enabled ? 'yes' : 'no',
        x.status,
        orNever(x.last_success_at),
        x.pending_seconds === null ? '-' : `${Math.round(x.pending_seconds)} s`,
        x.clock_skew_ms === null ? '-' : `${x.clock_skew_ms} ms`,
        // The whole text is in `cesar status --json` and `cesar sync status`; a table cell keeps a line's worth.
        x.last_error ? shorten(x.last_error, 120) : '-',
      ]),
    ),
  );
  for (const x of s.sync) if (x.note) out.push(dim(`  ${x.system}: ${x.note}`));
  if (s.not_built.length > 0) {
    out.push('', 'Not built yet');
    for (const n of s.not_built) out.push(dim(`  ${n.part}: ${n.note}`));
  }
  return out.join('\n');
}

function shorten(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ');
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

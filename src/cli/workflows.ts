import fs from 'node:fs';
import os from 'node:os';
import { InputError, NotFoundError } from '../errors.js';
import type { ExecutionView, StepRunView, TemplateView } from '../read-model/workflows.js';
import { builtInStepHandlers } from '../steps/index.js';
import { quote } from '../text.js';
import { applyTemplates, cancel, fireCurrentMinute, parseTemplates, retry, runNow, setActive, setSchedule } from '../workflows/admin.js';
import { type CliContext, withDatabase } from './context.js';
import { withEventBus } from './event-bus.js';
import { printJson, renderTable } from './output.js';

/**
 * `cesar workflows ...` and `cesar enqueue --workflow NAME`: thin over workflows/admin.ts (the
 * changes) and read-model/workflows.ts (what is shown, in the shapes --json prints). The read model
 * (and Kysely with it) is loaded only by the commands that read, so a crontab's enqueue skips it.
 */

/** The largest template file `workflows apply` reads. */
const maxTemplateFileBytes = 1024 * 1024;

const readModel = () => import('../read-model/workflows.js');

type Handle = Parameters<Parameters<typeof withDatabase>[1]>[0];

const short = (text: string | null | undefined, max = 60): string => (!text ? '' : text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** "12.3 ms", "4.2 s", "3.5 min". */
function duration(ms: number | null): string {
  if (ms === null) return '-';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

/** "2026-11-24T10:15:00Z": ISO without the milliseconds of a whole-second time (ticks are minutes). */
const tickTime = (d: Date): string => d.toISOString().replace('.000Z', 'Z');

async function databaseNow(handle: Handle): Promise<Date> {
  const { rows } = await handle.pool.query<{ now: Date }>('SELECT now() AS now');
  return rows[0]!.now;
}

async function templateViews(handle: Handle): Promise<TemplateView[]> {
  const { listTemplates } = await readModel();
  return listTemplates(await handle.kysely(), await databaseNow(handle), new Set(builtInStepHandlers().names()));
}

async function templateView(handle: Handle, name: string): Promise<TemplateView> {
  const view = (await templateViews(handle)).find((t) => t.name === name);
  if (!view) throw new NotFoundError(`no workflow template ${quote(name)}`, 'list them with: cesar workflows list');
  return view;
}

async function executionView(handle: Handle, id: number): Promise<ExecutionView> {
  const { getExecution } = await readModel();
  const execution = await getExecution(await handle.kysely(), id);
  if (!execution) throw new NotFoundError(`no workflow execution ${id}`, 'list them with: cesar workflows history NAME');
  return execution;
}

/** Read a JSON document from a file or (with -) stdin, at most `max` bytes; InputError naming the source. */
function readJson(file: string, max: number, what: string): unknown {
  const source = file === '-' ? `${what} on stdin` : `${what} ${quote(file)}`;
  const limit = `the limit is ${max} bytes (${max >= 1024 * 1024 ? `${max / (1024 * 1024)} MiB` : `${max / 1024} KiB`})`;
  let buffer: Buffer;
  try {
    if (file !== '-') {
      const size = fs.statSync(file).size;
      if (size > max) throw new InputError(`${source} is ${size} bytes; ${limit}`);
    }
    buffer = fs.readFileSync(file === '-' ? 0 : file);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (buffer.length > max) throw new InputError(`${source} is ${buffer.length} bytes; ${limit}`);
  try {
    return JSON.parse(buffer.toString('utf8'));
  } catch (err) {
    throw new InputError(`${source} is not valid JSON: ${(err as Error).message}`);
  }
}

/** `workflows apply FILE`: every template of the file is checked before any is written, then all in one transaction. */
export async function runWorkflowsApply(ctx: CliContext, file: string, options: { json?: boolean }): Promise<number> {
  const registry = builtInStepHandlers();
  const templates = parseTemplates(readJson(file, maxTemplateFileBytes, 'the template file'), registry);
  return withDatabase(ctx, async (handle) => {
    const applied = await applyTemplates(handle.pool, registry, templates);
    if (options.json) {
      printJson(ctx.out, { applied });
      return 0;
    }
    const lines: string[] = [];
    for (const [i, a] of applied.entries()) {
      const t = templates[i]!;
      lines.push(
        `${a.created ? 'Created' : 'Updated'} template ${a.name}: ${t.steps.length} step(s), cron ${quote(t.cron)} in ${t.timezone ?? 'UTC'}${t.active === false ? ', paused' : ''}`,
      );
      if (a.not_runnable) lines.push(`  ${a.name} is ${a.not_runnable}`);
    }
    ctx.out(lines.join('\n'));
    return 0;
  });
}

/** `workflows list`: the templates, with the live schedulers above them. */
export async function runWorkflowsList(ctx: CliContext, options: { json?: boolean }): Promise<number> {
  return withDatabase(ctx, async (handle) => {
    const { listTemplates, liveSchedulerCount } = await readModel();
    const db = await handle.kysely();
    const now = await databaseNow(handle);
    const [templates, schedulers] = await Promise.all([
      listTemplates(db, now, new Set(builtInStepHandlers().names())),
      liveSchedulerCount(db),
    ]);
    if (options.json) {
      printJson(ctx.out, { generated_at: now.toISOString(), schedulers_live: schedulers, templates });
      return 0;
    }
    ctx.out(
      `Schedulers alive: ${schedulers}${schedulers === 0 ? ' (nothing fires on schedule: run `cesar start` or `cesar scheduler`)' : ''}`,
    );
    if (templates.length === 0) {
      ctx.out('No workflow templates: create one with `cesar workflows apply FILE`.');
      return 0;
    }
    ctx.out(
      renderTable(
        ['Template', 'Schedule', 'Catch-up / overlap', 'Active', 'Runnable', 'Last fired', 'Next due', 'Late by', 'Last status'],
        templates.map((t) => [
          t.name,
          `${t.cron_expression} ${t.timezone}`,
          `${t.catchup} / ${t.overlap}`,
          t.is_active ? 'yes' : 'paused',
          t.runnable
            ? 'yes'
            : short(
                `no: ${t.missing_steps.length > 0 ? t.missing_steps.map((m) => m.replace(/ \(handler .*\)$/, '')).join(', ') : 'no steps'}`,
              ),
          t.last_fired_at === null ? 'never' : localTime(t.last_fired_at, t.timezone),
          t.next_due_at === null ? '-' : localTime(t.next_due_at, t.timezone),
          t.late_by_seconds === null ? '-' : `${t.late_by_seconds} s`,
          t.last_status === null ? '-' : `${t.last_status} (${t.last_execution_id})`,
        ]),
      ),
    );
    return 0;
  });
}

/** What the table shows of a step's result: its error, its skip reason, or its output as compact JSON. */
function stepResult(s: StepRunView): string {
  if (s.error) return short(s.error);
  if (s.reason) return short(`skipped: ${s.reason}`);
  return s.output === null || s.output === undefined ? '' : short(JSON.stringify(s.output));
}

/** `workflows show EXECUTION`: the execution, then its steps. */
export async function runWorkflowsShow(ctx: CliContext, id: number, options: { json?: boolean }): Promise<number> {
  return withDatabase(ctx, async (handle) => {
    const e = await executionView(handle, id);
    if (options.json) {
      printJson(ctx.out, e);
      return 0;
    }
    ctx.out(
      [
        `Execution ${e.id}: ${e.template} (${e.trigger})`,
        `  Status:    ${e.status}${e.queued ? ' (queued behind the previous execution)' : ''}`,
        `  Scheduled: ${e.scheduled_for}; created ${e.created_at}`,
        `  Started:   ${e.started_at ?? '-'}${e.finished_at ? `; finished ${e.finished_at} (${duration(e.duration_ms)})` : ''}`,
        `  Template version: ${e.template_version}; retries: ${e.retries}`,
        ...(e.error ? [`  Error:     ${e.error}`] : []),
      ].join('\n'),
    );
    ctx.out(
      e.steps.length > 0
        ? renderTable(
            ['Order', 'Step', 'Agent', 'Status', 'Attempts', 'Duration', 'Output / error'],
            e.steps.map((s) => [
              s.order,
              s.name,
              s.agent ? `${s.agent} (${s.agent_type})` : `- (${s.agent_type})`,
              s.status,
              s.attempts,
              duration(s.duration_ms),
              stepResult(s),
            ]),
          )
        : '  No steps.',
    );
    return 0;
  });
}

/** `workflows run NAME [--input JSON]`: a manual execution now; prints its id. */
export async function runWorkflowsRun(ctx: CliContext, name: string, options: { input?: string; json?: boolean }): Promise<number> {
  let input: unknown = {};
  if (options.input === '-') input = readJson('-', maxTemplateFileBytes, '--input');
  else if (options.input !== undefined) {
    try {
      input = JSON.parse(options.input);
    } catch (err) {
      throw new InputError(`--input is not valid JSON: ${(err as Error).message}`, undefined, 'input');
    }
  }
  return withDatabase(ctx, async (handle) => {
    const id = await runNow(handle.pool, builtInStepHandlers(), name, input);
    if (options.json) printJson(ctx.out, { template: name, execution_id: id });
    else {
      ctx.out(String(id));
      ctx.log.info(`Started execution ${id} of ${name}: a worker runs its steps`);
    }
    return 0;
  });
}

/** `workflows pause NAME` / `workflows resume NAME`. */
export async function runWorkflowsActive(
  ctx: CliContext,
  action: 'pause' | 'resume',
  name: string,
  options: { json?: boolean },
): Promise<number> {
  return withDatabase(ctx, async (handle) => {
    const changed = await setActive(handle.pool, name, action === 'resume');
    if (options.json) {
      printJson(ctx.out, { changed, template: await templateView(handle, name) });
      return 0;
    }
    if (action === 'pause') ctx.out(changed ? `Paused ${name}: its ticks are no longer fired.` : `${name} was already paused.`);
    else {
      const view = await templateView(handle, name);
      ctx.out(
        changed
          ? `Resumed ${name}: it fires from its next tick${view.next_due_at ? ` (${view.next_due_at})` : ''}; the ticks of its pause are not caught up.`
          : `${name} was already active.`,
      );
    }
    return 0;
  });
}

/** `workflows retry EXECUTION [--from-step S]`. */
export async function runWorkflowsRetry(ctx: CliContext, id: number, options: { fromStep?: string; json?: boolean }): Promise<number> {
  return withDatabase(ctx, async (handle) => {
    const from = await retry(handle.pool, id, options.fromStep);
    if (options.json) printJson(ctx.out, { from_step: from, execution: await executionView(handle, id) });
    else ctx.out(`Execution ${id} runs again from step ${from}; the steps before it keep their outputs.`);
    return 0;
  });
}

/** `workflows cancel EXECUTION`. */
export async function runWorkflowsCancel(ctx: CliContext, id: number, options: { json?: boolean }): Promise<number> {
  return withDatabase(ctx, async (handle) => {
    await cancel(handle.pool, id);
    if (options.json) printJson(ctx.out, { execution: await executionView(handle, id) });
    else ctx.out(`Execution ${id} is cancelled.`);
    return 0;
  });
}

/** `workflows history NAME [--limit N]`: ticks and executions, newest first. */
export async function runWorkflowsHistory(ctx: CliContext, name: string, options: { limit?: number; json?: boolean }): Promise<number> {
  return withDatabase(ctx, async (handle) => {
    const { workflowHistory } = await readModel();
    const entries = await workflowHistory(await handle.kysely(), name, options.limit ?? 20);
    if (!entries) throw new NotFoundError(`no workflow template ${quote(name)}`, 'list them with: cesar workflows list');
    if (options.json) printJson(ctx.out, { template: name, history: entries });
    else if (entries.length === 0) ctx.out(`${name} has no ticks or executions yet.`);
    else
      ctx.out(
        renderTable(
          ['Time', 'Fate', 'Source', 'Execution', 'Reason'],
          entries.map((h) => [
            h.at,
            h.fate,
            h.source ?? (h.fate === 'manual' ? 'operator' : '-'),
            h.execution ? `${h.execution.id} ${h.execution.status}` : '-',
            short(h.reason, 80),
          ]),
        ),
      );
    return 0;
  });
}

/** `workflows set NAME [--cron] [--timezone] [--catchup] [--overlap]`: checked whole, nothing changed on a bad value. */
export async function runWorkflowsSet(
  ctx: CliContext,
  name: string,
  options: { cron?: string; timezone?: string; catchup?: string; overlap?: string; json?: boolean },
): Promise<number> {
  return withDatabase(ctx, async (handle) => {
    await setSchedule(handle.pool, name, {
      cron: options.cron,
      timezone: options.timezone,
      catchup: options.catchup,
      overlap: options.overlap,
    });
    const view = await templateView(handle, name);
    if (options.json) printJson(ctx.out, { template: view });
    else
      ctx.out(
        `${name}: cron ${quote(view.cron_expression)} in ${view.timezone}, catch-up ${view.catchup}, overlap ${view.overlap}; next due ${view.next_due_at ?? '- (paused)'}`,
      );
    return 0;
  });
}

/**
 * `cesar enqueue --workflow NAME` (a crontab line): record the current minute's tick and fire it as a
 * scheduler would. A second call in the same minute finds the tick on record and says so; a tick
 * that does not fire (paused, not runnable, the previous execution still under way) is not an error.
 */
export async function runEnqueueWorkflow(ctx: CliContext, name: string, options: { json?: boolean }): Promise<number> {
  return withDatabase(ctx, async (handle) => {
    const outcome = await withEventBus(ctx, handle, () =>
      fireCurrentMinute(handle.pool, builtInStepHandlers(), name, `enqueue@${os.hostname()}:${process.pid}`),
    );
    const tick = tickTime(outcome.tick);
    if (options.json) {
      printJson(ctx.out, {
        template: name,
        tick_at: outcome.tick.toISOString(),
        fate: outcome.fate,
        execution_id: outcome.executionId,
        deduplicated: !outcome.recorded,
        reason: outcome.reason,
      });
      return 0;
    }
    if (outcome.executionId !== null) ctx.out(String(outcome.executionId));
    const fate =
      outcome.fate === 'fired'
        ? `fired execution ${outcome.executionId}${outcome.reason ? `, ${outcome.reason}` : ''}`
        : `${outcome.fate}${outcome.reason ? `: ${outcome.reason}` : ''}`;
    if (!outcome.recorded) ctx.log.info(`Deduplicated: the tick ${tick} of ${name} is already on record (${fate})`);
    else if (outcome.fate === 'fired')
      ctx.log.info(`Fired the tick ${tick} of ${name}: execution ${outcome.executionId}${outcome.reason ? ` (${outcome.reason})` : ''}`);
    else ctx.log.warn(`The tick ${tick} of ${name} was ${fate}`);
    return 0;
  });
}

const localFormats = new Map<string, Intl.DateTimeFormat>();

/** A time as the template's zone reads it (its schedule is in that zone): "2026-11-25 17:15 Europe/Berlin". */
function localTime(iso: string, timezone: string): string {
  let format = localFormats.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat('sv-SE', {
      timeZone: timezone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    localFormats.set(timezone, format);
  }
  return `${format.format(new Date(iso))} ${timezone}`;
}

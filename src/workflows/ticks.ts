import type { Queryable } from '../db/queryable.js';
import { type ConnectionPool, withClientTransaction } from '../db/transaction.js';
import { processEvents } from '../events/process-events.js';
import type { PlannedTick } from '../scheduler/slots.js';
import { createExecution, executionUnderWay } from './executions.js';
import type { StepHandlerRegistry } from './step-handlers.js';
import { loadTemplate, notRunnableReason } from './templates.js';

/**
 * Recording cron ticks. A tick is recorded once, whoever records it: the template's row lock
 * orders every firer of one template, and the tick's primary key (template, time) makes a second
 * insert a no-op. A tick that fires writes its tick row, its execution and the first step's job in
 * one transaction.
 */

export type TickSource = 'scheduler' | 'enqueue';
export type RecordedFate = 'fired' | 'skipped' | 'coalesced';

export interface TickOutcome {
  /** false when the tick was on record already (another scheduler, or cron calling twice). */
  recorded: boolean;
  fate: RecordedFate;
  executionId: number | null;
  reason: string | null;
}

export interface TickRequest {
  template: string;
  tick: PlannedTick;
  source: TickSource;
  /** Who records it: a scheduler's id, or "enqueue@host:pid". */
  recordedBy: string;
}

/**
 * Record one tick, firing it when its planned fate is `fire` and the template can run and the
 * overlap policy lets it. Returns undefined when the template is gone, or (for a scheduler) paused.
 */
export async function recordTick(
  pool: ConnectionPool,
  registry: StepHandlerRegistry,
  request: TickRequest,
): Promise<TickOutcome | undefined> {
  const outcome = await withClientTransaction(pool, async (q): Promise<TickOutcome | undefined> => {
    const template = await loadTemplate(q, request.template, true);
    if (!template) return undefined;
    if (request.source === 'scheduler' && !template.is_active) return undefined;
    const existing = await tickOnRecord(q, template.id, request.tick.at);
    if (existing) return { ...existing, recorded: false };

    let fate: RecordedFate = request.tick.fate === 'fire' ? 'fired' : request.tick.fate;
    let reason = request.tick.reason ?? null;
    let executionId: number | null = null;
    if (fate === 'fired') {
      const notRunnable = notRunnableReason(template, registry);
      const underWay = notRunnable ? undefined : await executionUnderWay(q, template.id);
      if (notRunnable) {
        fate = 'skipped';
        reason = notRunnable;
      } else if (underWay !== undefined && template.overlap === 'skip') {
        fate = 'skipped';
        reason = `execution ${underWay} still under way (overlap policy skip)`;
      } else {
        const queued = underWay !== undefined && template.overlap === 'queue';
        if (queued) reason = `queued behind execution ${underWay} (overlap policy queue)`;
        executionId = await createExecution(q, template, {
          trigger: request.source === 'enqueue' ? 'cron' : 'schedule',
          scheduledFor: request.tick.at,
          queued,
        });
      }
    }
    await q.query({
      text: `INSERT INTO workflow_ticks (template_id, tick_at, fate, execution_id, reason, source, recorded_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      values: [template.id, request.tick.at, fate, executionId, reason, request.source, request.recordedBy],
    });
    return { recorded: true, fate, executionId, reason };
  });
  if (outcome?.recorded) publishTick(request.template, request.tick.at, outcome.fate, outcome.executionId, outcome.reason, request.source);
  return outcome;
}

/** After the tick's transaction: workflow.tick_fired or workflow.tick_skipped (coalesced ticks are skipped ones). */
export function publishTick(
  template: string,
  tickAt: Date,
  fate: RecordedFate,
  executionId: number | null,
  reason: string | null,
  source: TickSource,
): void {
  const data = { template, tick_at: tickAt.toISOString(), source };
  if (fate === 'fired') processEvents().publish('workflow.tick_fired', { ...data, execution_id: executionId, reason });
  else processEvents().publish('workflow.tick_skipped', { ...data, fate, reason });
}

/**
 * Record ticks that do not fire (skipped or coalesced), many in one statement: a long backlog of
 * missed ticks costs one round trip per pass. Ticks on record already are left as they are.
 */
export async function recordUnfiredTicks(
  q: Queryable,
  templateId: number,
  ticks: PlannedTick[],
  source: TickSource,
  recordedBy: string,
): Promise<number> {
  if (ticks.length === 0) return 0;
  const { rowCount } = await q.query({
    text: `INSERT INTO workflow_ticks (template_id, tick_at, fate, reason, source, recorded_by)
           SELECT $1, t.tick_at, t.fate, t.reason, $5, $6
             FROM unnest($2::timestamptz[], $3::text[], $4::text[]) AS t(tick_at, fate, reason)
           ON CONFLICT (template_id, tick_at) DO NOTHING`,
    values: [templateId, ticks.map((t) => t.at), ticks.map((t) => t.fate), ticks.map((t) => t.reason ?? null), source, recordedBy],
  });
  return rowCount ?? 0;
}

async function tickOnRecord(q: Queryable, templateId: number, at: Date): Promise<Omit<TickOutcome, 'recorded'> | undefined> {
  const { rows } = await q.query<{ fate: RecordedFate; execution_id: string | null; reason: string | null }>({
    text: 'SELECT fate, execution_id, reason FROM workflow_ticks WHERE template_id = $1 AND tick_at = $2',
    values: [templateId, at],
  });
  const row = rows[0];
  return row && { fate: row.fate, executionId: row.execution_id === null ? null : Number(row.execution_id), reason: row.reason };
}

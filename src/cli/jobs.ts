import type { JobStatus } from '../db/types.js';
import { NotFoundError } from '../errors.js';
import { cancelJob, retryJob } from '../queue/jobs.js';
import { getJob, type JobView, listJobs } from '../read-model/index.js';
import { quote } from '../text.js';
import { type CliContext, withDatabase } from './context.js';
import { withEventBus } from './event-bus.js';
import { printJson, renderTable } from './output.js';

const short = (text: string | null, max = 60): string => (text === null ? '' : text.length > max ? `${text.slice(0, max - 1)}…` : text);

export async function runJobsList(
  ctx: CliContext,
  options: { status?: string; type?: string; limit?: number; json?: boolean },
): Promise<number> {
  return withDatabase(ctx, async (handle) => {
    const jobs = await listJobs(await handle.kysely(), {
      status: options.status as JobStatus | undefined,
      type: options.type,
      limit: options.limit,
    });
    if (options.json) printJson(ctx.out, { jobs });
    else if (jobs.length === 0) ctx.out('No jobs match.');
    else
      ctx.out(
        renderTable(
          ['Id', 'Type', 'Status', 'Attempts', 'Run at', 'Last error'],
          jobs.map((j) => [j.id, j.type, j.status, `${j.attempts}/${j.max_attempts}`, j.run_at, short(j.last_error)]),
        ),
      );
    return 0;
  });
}

export async function runJobsShow(ctx: CliContext, id: number, options: { json?: boolean }): Promise<number> {
  return withDatabase(ctx, async (handle) => {
    const job = await getJob(await handle.kysely(), id);
    if (!job) throw new NotFoundError(`no job ${id}`, 'list jobs with `cesar jobs list`');
    if (options.json) {
      printJson(ctx.out, job);
      return 0;
    }
    ctx.out(
      [
        `Job ${job.id}: ${job.type} on queue ${job.queue}`,
        `  Status:    ${job.status} (${job.attempt_count} of ${job.max_attempts} attempts made)`,
        `  Payload:   ${JSON.stringify(job.payload)}`,
        `  Priority:  ${job.priority}; run at ${job.run_at}${job.dedupe_key ? `; dedupe key ${quote(job.dedupe_key)}` : ''}`,
        `  Created:   ${job.created_at}${job.finished_at ? `; finished ${job.finished_at}` : ''}`,
        ...(job.locked_by ? [`  Held by:   ${job.locked_by} until ${job.lease_expires_at}`] : []),
        ...(job.last_error ? [`  Last error: ${job.last_error}`] : []),
      ].join('\n'),
    );
    if (job.attempts.length > 0) {
      ctx.out(
        renderTable(
          ['Attempt', 'Outcome', 'Started', 'Finished', 'Worker', 'Error'],
          job.attempts.map((a) => [a.attempt, a.outcome, a.started_at, a.finished_at ?? '', a.worker_id, short(a.error, 80)]),
        ),
      );
    } else {
      ctx.out('  No attempts yet.');
    }
    return 0;
  });
}

export async function runJobsChange(ctx: CliContext, action: 'retry' | 'cancel', id: number, options: { json?: boolean }): Promise<number> {
  return withDatabase(ctx, async (handle) => {
    const job: JobView = await withEventBus(ctx, handle, () =>
      action === 'retry' ? retryJob(handle.pool, id) : cancelJob(handle.pool, id),
    );
    if (options.json) printJson(ctx.out, job);
    else
      ctx.out(
        action === 'retry'
          ? `Job ${job.id} is pending again and runs now (up to ${job.max_attempts - job.attempts} more attempts).`
          : `Job ${job.id} is cancelled.`,
      );
    return 0;
  });
}

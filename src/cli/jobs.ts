import type { JobStatus } from '../db/types.js';
import { NotFoundError } from '../errors.js';
import { cancelJob, getJob, type Job, listJobs, retryJob } from '../queue/jobs.js';
import { type CliContext, withDatabase } from './context.js';
import { printJson, renderTable } from './output.js';

const short = (text: string | null, max = 60): string => (text === null ? '' : text.length > max ? `${text.slice(0, max - 1)}…` : text);

export async function runJobsList(
  ctx: CliContext,
  options: { status?: string; type?: string; limit?: number; json?: boolean },
): Promise<number> {
  return withDatabase(ctx, async (handle) => {
    const jobs = await listJobs(handle.pool, { status: options.status as JobStatus | undefined, type: options.type, limit: options.limit });
    if (options.json) printJson(ctx.out, { jobs });
    else if (jobs.length === 0) ctx.out('No jobs match.');
    else
      ctx.out(
        renderTable(
          ['Id', 'Type', 'Status', 'Attempts', 'Run at', 'Last error'],
          jobs.map((j) => [j.id, j.type, j.status, `${j.attempts}/${j.maxAttempts}`, j.runAt, short(j.lastError)]),
        ),
      );
    return 0;
  });
}

export async function runJobsShow(ctx: CliContext, id: number, options: { json?: boolean }): Promise<number> {
  return withDatabase(ctx, async (handle) => {
    const job = await getJob(handle.pool, id);
    if (!job) throw new NotFoundError(`no job ${id}`, 'list jobs with `cesar jobs list`');
    if (options.json) {
      printJson(ctx.out, job);
      return 0;
    }
    ctx.out(
      [
        `Job ${job.id}: ${job.type} on queue ${job.queue}`,
        `  Status:    ${job.status} (${job.attemptCount} of ${job.maxAttempts} attempts made)`,
        `  Payload:   ${JSON.stringify(job.payload)}`,
        `  Priority:  ${job.priority}; run at ${job.runAt}${job.dedupeKey ? `; dedupe key "${job.dedupeKey}"` : ''}`,
        `  Created:   ${job.createdAt}${job.finishedAt ? `; finished ${job.finishedAt}` : ''}`,
        ...(job.lockedBy ? [`  Held by:   ${job.lockedBy} until ${job.leaseExpiresAt}`] : []),
        ...(job.lastError ? [`  Last error: ${job.lastError}`] : []),
      ].join('\n'),
    );
    if (job.attempts.length > 0) {
      ctx.out(
        renderTable(
          ['Attempt', 'Outcome', 'Started', 'Finished', 'Worker', 'Error'],
          job.attempts.map((a) => [a.attempt, a.outcome, a.startedAt, a.finishedAt ?? '', a.workerId, short(a.error, 80)]),
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
    const job: Job = action === 'retry' ? await retryJob(handle.pool, id) : await cancelJob(handle.pool, id);
    if (options.json) printJson(ctx.out, job);
    else
      ctx.out(
        action === 'retry'
          ? `Job ${job.id} is pending again and runs now (up to ${job.maxAttempts - job.attempts} more attempts).`
          : `Job ${job.id} is cancelled.`,
      );
    return 0;
  });
}

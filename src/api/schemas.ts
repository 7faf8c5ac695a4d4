import * as v from 'valibot';
import type { ExecutionStatus } from '../db/types.js';
import { parseDuration } from '../duration.js';
import { InputError } from '../errors.js';
import { parseIsoTime } from '../iso-time.js';
import type { EnqueuedJob, NewJob } from '../queue/enqueue.js';
import { jobStatuses } from '../read-model/job-view.js';

/** "must be WHAT; got INPUT": the validator puts the field's name in front. */
const mustBe = (what: string) => (issue: v.BaseIssue<unknown>) => {
  const got = typeof issue.input === 'string' ? JSON.stringify(issue.input.slice(0, 40)) : String(issue.received);
  return `must be ${what}; got ${got}`;
};

/** An integer in a path or query string: text on the wire, a number in the handler (and in the OpenAPI document). */
function integerText(min: number, max: number, what: string, description: string) {
  const message = mustBe(what);
  return v.pipe(
    v.string(message),
    v.regex(/^\d{1,15}$/, message),
    v.transform(Number),
    v.number(),
    v.integer(),
    v.minValue(min, message),
    v.maxValue(max, message),
    v.description(description),
  );
}

const maxId = 999_999_999_999_999;
const anyId = integerText(1, maxId, 'a positive integer of up to 15 digits', 'a job id');

export const jobIdParams = v.object({ id: anyId });

export const listJobsQuery = v.object({
  status: v.optional(v.pipe(v.picklist(jobStatuses, mustBe(`one of ${jobStatuses.join(', ')}`)), v.description('only jobs in this state'))),
  type: v.optional(v.pipe(v.string(mustBe('one job type')), v.description('only jobs of this type'))),
  limit: v.optional(integerText(1, 1000, 'an integer from 1 to 1000', 'at most this many jobs, 1 to 1000 (default 50)')),
  before: v.optional(
    integerText(1, maxId, 'a positive integer of up to 15 digits', 'only jobs with a smaller id: the last id of the page before'),
  ),
});

/** A JSON integer within the column's range (or the documented limits): beyond it is a 400 naming the field, never a database error. */
const integer = (min: number, max: number, what: string, description: string) =>
  v.nullish(
    v.pipe(
      v.number(mustBe(what)),
      v.integer(mustBe(what)),
      v.minValue(min, mustBe(what)),
      v.maxValue(max, mustBe(what)),
      v.description(description),
    ),
  );
const int32 = { min: -2_147_483_648, max: 2_147_483_647 };
const maxDelayMs = 366 * 86_400_000;
const isoTime = mustBe('an ISO 8601 time like 2026-01-31T09:00:00Z, with a real date and time');
const duration = mustBe('a duration like 30s, 5m, 1h or 1d');

/** The body of POST /api/jobs: the same fields and rules as `cesar enqueue`; enqueue checks the type and payload. */
export const newJobBody = v.strictObject({
  type: v.pipe(v.string(mustBe('a string (the job type)')), v.description('the job type')),
  payload: v.optional(v.pipe(v.unknown(), v.description("a JSON object checked against the type's payload schema (default {})"))),
  priority: integer(int32.min, int32.max, 'an integer from -2147483648 to 2147483647', 'lower runs first (default 0)'),
  run_at: v.nullish(
    v.pipe(
      v.string(isoTime),
      v.check((text) => parseIsoTime(text) !== undefined, isoTime),
      v.description('run at this time, ISO 8601 (not with delay_ms); a date that does not exist (2026-02-30) is refused'),
    ),
  ),
  delay_ms: integer(
    0,
    maxDelayMs,
    `an integer from 0 to ${maxDelayMs} (366 days)`,
    'run after this many milliseconds, up to 366 days (not with run_at)',
  ),
  max_attempts: integer(1, 1000, 'an integer from 1 to 1000', 'attempts before the job is failed for good, 1 to 1000 (default 5)'),
  queue: v.optional(v.pipe(v.string(mustBe('a string')), v.description('queue name (default "default")'))),
  key: v.nullish(
    v.pipe(
      v.string(mustBe('a string')),
      v.description('dedupe key: while a job with this key is pending or running, that job is returned'),
    ),
  ),
  unique_for: v.nullish(
    v.pipe(
      v.string(duration),
      v.check((text) => parseDuration(text) !== undefined, duration),
      v.description(
        'with key: the key also holds this long after its job finished (cron firing twice makes one job): 30s, 5m, 1h; at most the job retention',
      ),
    ),
  ),
});

export type NewJobBody = v.InferOutput<typeof newJobBody>;

/**
 * The job a body asks for. A `unique_for` longer than the job retention is refused (InputError on
 * the field): finished jobs, and their keys, are deleted after it.
 */
export function toNewJob(body: NewJobBody, jobRetentionMs: number | undefined): NewJob {
  const job: NewJob = {
    type: body.type,
    payload: body.payload,
    priority: body.priority ?? undefined,
    runAt: body.run_at == null ? undefined : parseIsoTime(body.run_at),
    delayMs: body.delay_ms ?? undefined,
    maxAttempts: body.max_attempts ?? undefined,
    queue: body.queue,
    dedupeKey: body.key ?? undefined,
    uniqueForMs: body.unique_for == null ? undefined : parseDuration(body.unique_for),
  };
  if (job.uniqueForMs !== undefined && jobRetentionMs !== undefined && job.uniqueForMs > jobRetentionMs) {
    throw new InputError(
      `unique_for is longer than the job retention (CESAR_JOB_RETENTION, ${Math.round(jobRetentionMs / 1000)} s): finished jobs and their keys are deleted after it`,
      undefined,
      'unique_for',
    );
  }
  return job;
}

/** The answer to an enqueue (POST /api/jobs and the dashboard's): 201, or 200 when deduplicated. */
export function enqueuedAnswer(job: EnqueuedJob): { status: 200 | 201; body: Record<string, unknown> } {
  return {
    status: job.deduplicated ? 200 : 201,
    body: {
      id: job.id,
      deduplicated: job.deduplicated,
      type: job.type,
      queue: job.queue,
      run_at: job.runAt.toISOString(),
      status: job.status,
    },
  };
}

// Workflow routes (src/api/workflows.ts).

/** The states of a workflow execution, as GET /api/executions?status= accepts them. */
export const executionStatuses = ['pending', 'running', 'succeeded', 'failed', 'cancelled'] as const satisfies readonly ExecutionStatus[];

/** A template or step name: snake_case, up to 63 characters (what `cesar workflows apply` accepts). */
const snakeName = (what: string, description: string) => {
  const message = mustBe(`${what}: snake_case (a-z, 0-9, _, starting with a letter), up to 63 characters`);
  return v.pipe(v.string(message), v.regex(/^[a-z][a-z0-9_]{0,62}$/, message), v.description(description));
};

export const templateNameParams = v.object({ name: snakeName('a template name', 'the workflow template name') });

export const workflowHistoryQuery = v.object({
  limit: v.optional(integerText(1, 1000, 'an integer from 1 to 1000', 'at most this many entries, 1 to 1000 (default 20)')),
});

export const executionIdParams = v.object({
  id: integerText(1, maxId, 'a positive integer of up to 15 digits', 'a workflow execution id'),
});

export const listExecutionsQuery = v.object({
  template: v.optional(snakeName('a template name', 'only executions of this template')),
  status: v.optional(
    v.pipe(v.picklist(executionStatuses, mustBe(`one of ${executionStatuses.join(', ')}`)), v.description('only executions in this state')),
  ),
  limit: v.optional(integerText(1, 1000, 'an integer from 1 to 1000', 'at most this many executions, 1 to 1000 (default 50)')),
});

const jsonObject = mustBe('a JSON object');

/** The body of POST /api/workflows/:name/run (optional: no body runs with input {}). */
export const runWorkflowBody = v.strictObject({
  input: v.optional(
    v.pipe(
      // Checked before v.record, which would take an array for an object (with keys "0", "1", ...).
      v.unknown(),
      v.check((value) => typeof value === 'object' && value !== null && !Array.isArray(value), jsonObject),
      v.record(v.string(), v.unknown(), jsonObject),
      v.description("the execution's input, the first step's input: a JSON object of up to 64 KiB (default {})"),
    ),
  ),
});

/** The body of POST /api/executions/:id/retry (optional: no body resumes from the first step that did not succeed). */
export const retryExecutionBody = v.strictObject({
  from_step: v.optional(
    snakeName(
      'a step name',
      'run again from this step (default: the first that did not succeed); with it, a succeeded execution can be retried',
    ),
  ),
});

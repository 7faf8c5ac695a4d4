import fs from 'node:fs';
import { InputError, UsageError } from '../errors.js';
import { publishEnqueued } from '../events/job-events.js';
import { builtInJobTypes } from '../jobs/index.js';
import { checkJob, enqueue, maxPayloadBytes, type NewJob } from '../queue/enqueue.js';
import { quote } from '../text.js';
import { type CliContext, withDatabase } from './context.js';
import { withEventBus } from './event-bus.js';
import { printJson } from './output.js';

export interface EnqueueOptions {
  payload?: string;
  payloadFile?: string;
  priority?: number;
  runAt?: Date;
  delay?: number;
  key?: string;
  uniqueFor?: number;
  maxAttempts?: number;
  queue?: string;
  workflow?: string;
  json?: boolean;
}

/** The flags that describe a job: none of them means anything with --workflow. */
const jobFlags: Array<[keyof EnqueueOptions, string]> = [
  ['payload', '--payload'],
  ['payloadFile', '--payload-file'],
  ['priority', '--priority'],
  ['runAt', '--run-at'],
  ['delay', '--delay'],
  ['key', '--key'],
  ['uniqueFor', '--unique-for'],
  ['maxAttempts', '--max-attempts'],
  ['queue', '--queue'],
];

/**
 * `cesar enqueue TYPE`: put one job on the queue and print its id (or the id of the live job with the
 * same --key, saying it was deduplicated). Everything is checked before the database is touched.
 */
export async function runEnqueue(ctx: CliContext, type: string | undefined, options: EnqueueOptions): Promise<number> {
  if (options.workflow !== undefined) {
    if (type !== undefined)
      throw new UsageError(
        `give a job type or --workflow, not both (got job type ${quote(type)} and --workflow ${quote(options.workflow)})`,
        'drop one of them',
      );
    const given = jobFlags.filter(([option]) => options[option] !== undefined).map(([, flag]) => flag);
    if (given.length > 0)
      throw new UsageError(
        `${given.join(', ')} describe a job and cannot be used with --workflow`,
        'drop them, or enqueue a job type instead',
      );
    // Loaded only for a workflow tick: the job path stays as light as cron needs it.
    const { runEnqueueWorkflow } = await import('./workflows.js');
    return runEnqueueWorkflow(ctx, options.workflow, options);
  }
  if (type === undefined)
    throw new UsageError(
      "missing required argument 'type' (or --workflow NAME)",
      'e.g. `cesar enqueue canary` or `cesar enqueue --workflow supabase_sync`',
    );
  const registry = builtInJobTypes();
  const job: NewJob = {
    type,
    payload: readPayload(options),
    priority: options.priority,
    runAt: options.runAt,
    delayMs: options.delay,
    maxAttempts: options.maxAttempts,
    queue: options.queue,
    dedupeKey: options.key,
    uniqueForMs: options.uniqueFor,
  };
  checkUniqueFor(options, ctx.config.jobRetentionMs);
  checkJob(job, registry);
  return withDatabase(ctx, async (handle) => {
    const result = await withEventBus(ctx, handle, async () => {
      const enqueued = await enqueue(handle.pool, job, registry);
      publishEnqueued(enqueued);
      return enqueued;
    });
    if (options.json) {
      printJson(ctx.out, {
        id: result.id,
        deduplicated: result.deduplicated,
        type: result.type,
        queue: result.queue,
        run_at: result.runAt.toISOString(),
        status: result.status,
      });
    } else {
      ctx.out(String(result.id));
      ctx.log.info(
        result.deduplicated
          ? `Deduplicated: job ${result.id} with key ${quote(options.key)} is ${describeHeld(result.status)}`
          : `Enqueued ${result.type} job ${result.id} on queue ${result.queue}, to run at ${result.runAt.toISOString()}`,
      );
    }
    return 0;
  });
}

function describeHeld(status: string): string {
  if (status === 'pending') return 'already pending';
  if (status === 'in_progress') return 'already running';
  return `${status}, within the --unique-for window`;
}

/** --unique-for needs --key, and cannot outlast the retention (finished jobs are deleted after it). */
function checkUniqueFor(options: EnqueueOptions, retentionMs: number): void {
  if (options.uniqueFor === undefined) return;
  if (options.key === undefined)
    throw new UsageError('--unique-for needs --key: it is the key that holds', 'add --key, e.g. --key sync-$(date +%Y%m%d%H%M)');
  if (options.uniqueFor > retentionMs) {
    throw new UsageError(
      `--unique-for is longer than CESAR_JOB_RETENTION (${Math.round(retentionMs / 1000)} s): finished jobs are deleted after it, and their keys with them`,
      'shorten --unique-for, or raise CESAR_JOB_RETENTION',
    );
  }
}

function readPayload(options: EnqueueOptions): unknown {
  if (options.payload !== undefined && options.payloadFile !== undefined) {
    throw new UsageError('give --payload or --payload-file, not both');
  }
  let text: string;
  let source: string;
  if (options.payloadFile !== undefined) {
    source = `--payload-file ${quote(options.payloadFile)}`;
    try {
      const size = fs.statSync(options.payloadFile).size;
      if (size > maxPayloadBytes)
        throw new InputError(`${source} is ${size} bytes; the payload limit is ${maxPayloadBytes} bytes (64 KiB)`);
      text = fs.readFileSync(options.payloadFile, 'utf8');
    } catch (err) {
      if (err instanceof InputError) throw err;
      throw new InputError(`cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  } else if (options.payload === '-') {
    source = 'the payload on stdin';
    const buffer = fs.readFileSync(0);
    if (buffer.length > maxPayloadBytes)
      throw new InputError(`${source} is ${buffer.length} bytes; the payload limit is ${maxPayloadBytes} bytes (64 KiB)`);
    text = buffer.toString('utf8');
  } else if (options.payload !== undefined) {
    source = '--payload';
    text = options.payload;
  } else {
    return undefined;
  }
  if (Buffer.byteLength(text) > maxPayloadBytes) {
    throw new InputError(`${source} is ${Buffer.byteLength(text)} bytes; the payload limit is ${maxPayloadBytes} bytes (64 KiB)`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError(`${source} is not valid JSON: ${(err as Error).message}`);
  }
}

import type { Kysely } from 'kysely';
import type { Queryable } from '../db/queryable.js';
import type { Database } from '../db/types.js';
import type { Logger } from '../log.js';

/** What a handler gets for one attempt of one job. */
export interface JobContext<P = Record<string, unknown>> {
  jobId: number;
  jobType: string;
  payload: P;
  /** 1 for the first attempt. */
  attempt: number;
  maxAttempts: number;
  /** Aborted on timeout, on shutdown past the grace period, on a lost lease, or when the job is cancelled. */
  signal: AbortSignal;
  log: Logger;
  db: Kysely<Database>;
  pool: Queryable;
}

export interface JobType<P = Record<string, unknown>> {
  name: string;
  description: string;
  /** The problem with a payload, in words, or undefined when it is valid. Runs at enqueue time. */
  validate(payload: unknown): string | undefined;
  run(ctx: JobContext<P>): Promise<unknown>;
  /** Past this an attempt is aborted and counted as failed (timed_out). */
  timeoutMs: number;
}

/** The job types this cesar can run. Enqueueing any other type is refused. */
export class JobCatalog {
  private readonly types = new Map<string, JobType<any>>();

  register<P>(type: JobType<P>): this {
    if (this.types.has(type.name)) throw new Error(`job type ${type.name} is registered twice`);
    this.types.set(type.name, type as JobType<any>);
    return this;
  }

  get(name: string): JobType | undefined {
    return this.types.get(name);
  }

  names(): string[] {
    return [...this.types.keys()].sort();
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export interface CanaryPayload {
  sleep_ms?: number;
  fail_attempts?: number;
}

/**
 * canary: the job that proves the pipeline works. It sleeps sleep_ms (default 0), and fails its
 * first fail_attempts attempts on purpose so that retries can be seen.
 */
export const canary: JobType<CanaryPayload> = {
  name: 'canary',
  description: 'proves the queue works: { "sleep_ms"?: n, "fail_attempts"?: k }',
  timeoutMs: 15 * 60_000,
  validate(payload) {
    if (!isObject(payload)) return 'the canary payload must be a JSON object';
    for (const key of Object.keys(payload)) {
      if (key !== 'sleep_ms' && key !== 'fail_attempts')
        return `the canary payload has an unknown field "${key}" (allowed: sleep_ms, fail_attempts)`;
    }
    const { sleep_ms: sleepMs, fail_attempts: failAttempts } = payload;
    if (sleepMs !== undefined && !(Number.isInteger(sleepMs) && (sleepMs as number) >= 0 && (sleepMs as number) <= 600_000)) {
      return 'sleep_ms must be an integer from 0 to 600000';
    }
    if (
      failAttempts !== undefined &&
      !(Number.isInteger(failAttempts) && (failAttempts as number) >= 0 && (failAttempts as number) <= 1000)
    ) {
      return 'fail_attempts must be an integer from 0 to 1000';
    }
    return undefined;
  },
  async run({ payload, attempt, signal }) {
    if (payload.sleep_ms) await sleep(payload.sleep_ms, signal);
    const failures = payload.fail_attempts ?? 0;
    if (attempt <= failures) {
      throw new Error(`canary failing on purpose: attempt ${attempt} of the first ${failures} that fail`);
    }
    return { ok: true, attempt };
  },
};

/** The built-in catalog. Domain job types (supabase_sync, ...) register here as their issues land. */
export function defaultCatalog(): JobCatalog {
  return new JobCatalog().register(canary);
}

import type { Kysely } from 'kysely';
import * as v from 'valibot';
import type { Queryable } from '../db/queryable.js';
import type { Database } from '../db/types.js';
import type { Logger } from '../log.js';
import { describeIssue } from '../validation.js';

/**
 * Job types: a cheap declaration (name, payload schema, limits) kept apart from the handler, which
 * only a worker loads. `cesar enqueue` and the API validate payloads against the declaration and
 * never import handler code or its dependencies.
 *
 * Payload schemas are valibot schemas: one declaration gives the handler's TypeScript type, the
 * enqueue-time check (one line naming the field), the API's request check and, converted to JSON
 * Schema, the OpenAPI document.
 */

/** A payload schema: valibot, always describing a JSON object. */
// biome-ignore lint/suspicious/noExplicitAny: valibot's own generic schema type
export type PayloadSchema = v.GenericSchema<any, any>;

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

/** A handler may return a value or a promise; what it returns is not stored. Throwing fails the attempt. */
export type JobHandler<P = Record<string, unknown>> = (ctx: JobContext<P>) => unknown;

/** The module a spec's `handler` loads: its default export runs each attempt. */
export interface JobHandlerModule<P = Record<string, unknown>> {
  default: JobHandler<P>;
}

export interface JobTypeSpec<S extends PayloadSchema = PayloadSchema> {
  /** snake_case, unique. */
  name: string;
  description: string;
  payload: S;
  /** Past this an attempt is aborted and counted as failed (timed_out). */
  timeoutMs: number;
  /** Queue a job of this type goes to when the enqueuer names none (default "default"). */
  queue?: string;
  /** Attempts before a job is failed for good when the enqueuer gives no number (default 5). */
  maxAttempts?: number;
  /** Loads the handler module. Called only by a process that runs jobs of this type. */
  handler: () => Promise<JobHandlerModule<v.InferOutput<S>>>;
}

/** Declare a job type (the identity function, for the payload type inference). */
export function defineJobType<S extends PayloadSchema>(spec: JobTypeSpec<S>): JobTypeSpec<S> {
  return spec;
}

/** A job type whose handler is loaded, as a worker runs it. */
export interface RunnableJobType {
  spec: JobTypeSpec;
  run: JobHandler;
}

/** The job types this cesar knows. Enqueueing any other type is refused. */
export class JobTypeRegistry {
  private readonly types = new Map<string, JobTypeSpec>();

  add<S extends PayloadSchema>(spec: JobTypeSpec<S>): this {
    if (!/^[a-z][a-z0-9_]{0,63}$/.test(spec.name)) throw new Error(`job type name "${spec.name}" must be snake_case, up to 64 characters`);
    if (this.types.has(spec.name)) throw new Error(`job type ${spec.name} is registered twice`);
    this.types.set(spec.name, spec as unknown as JobTypeSpec);
    return this;
  }

  get(name: string): JobTypeSpec | undefined {
    return this.types.get(name);
  }

  names(): string[] {
    return [...this.types.keys()].sort();
  }

  specs(): JobTypeSpec[] {
    return this.names().map((n) => this.types.get(n)!);
  }

  /**
   * Load the handlers of the named types (default: all). A type whose handler module fails to load
   * is reported in `failed` rather than thrown, so that one broken handler does not stop a worker
   * from running every other type.
   */
  async load(names: string[] = this.names()): Promise<{ loaded: Map<string, RunnableJobType>; failed: Map<string, Error> }> {
    const loaded = new Map<string, RunnableJobType>();
    const failed = new Map<string, Error>();
    await Promise.all(
      names.map(async (name) => {
        const spec = this.types.get(name);
        if (!spec) {
          failed.set(name, new Error(`unknown job type "${name}"`));
          return;
        }
        try {
          const module = await spec.handler();
          if (typeof module?.default !== 'function') throw new Error('its handler module has no default export function');
          loaded.set(name, { spec, run: module.default as JobHandler });
        } catch (err) {
          failed.set(name, err instanceof Error ? err : new Error(String(err)));
        }
      }),
    );
    return { loaded, failed };
  }
}

/** A problem with one field of a payload: `field` is a dotted path ("payload.sleep_ms"). */
export interface PayloadProblem {
  message: string;
  field: string;
}

/** Check a payload against its type's schema; undefined when valid. Payloads are always JSON objects. */
export function checkPayload(spec: { name: string; payload: PayloadSchema }, payload: unknown): PayloadProblem | undefined {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    return { message: `the ${spec.name} payload must be a JSON object`, field: 'payload' };
  }
  const result = v.safeParse(spec.payload, payload);
  if (result.success) return undefined;
  const { message, field } = describeIssue(spec.payload, result.issues[0], 'payload');
  return { message, field: field === 'payload' ? field : `payload.${field}` };
}

/** An integer field from min to max, with a message that names the range. */
export function integerIn(min: number, max: number) {
  const message = `must be an integer from ${min} to ${max}`;
  return v.pipe(v.number(message), v.integer(message), v.minValue(min, message), v.maxValue(max, message));
}

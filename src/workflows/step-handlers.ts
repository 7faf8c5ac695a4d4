import type { Kysely } from 'kysely';
import * as v from 'valibot';
import type { Queryable } from '../db/queryable.js';
import type { Database } from '../db/types.js';
import type { Logger } from '../log.js';
import { quote } from '../text.js';
import { describeIssue } from '../validation.js';

/**
 * Step handlers: what an agent does for one step of a workflow. Like job types, a handler is a
 * cheap declaration (name, config schema) apart from its code, which only a worker loads: the
 * scheduler, the CLI and verify tell whether a template is runnable from the declarations alone.
 */

// biome-ignore lint/suspicious/noExplicitAny: valibot's own generic schema type
export type StepConfigSchema = v.GenericSchema<any, any>;

/** The agent carrying out a step. */
export interface StepAgent {
  id: number;
  name: string;
  agentType: string;
  config: Record<string, unknown>;
}

/** What a handler gets for one attempt of one step. */
export interface StepContext<C = Record<string, unknown>> {
  executionId: number;
  template: string;
  step: { order: number; name: string; handler: string };
  agent: StepAgent;
  /** The step's config from its template, checked against the handler's schema. */
  config: C;
  /** The previous step's output (null when it was skipped); for the first step, the execution's input. */
  input: unknown;
  /** Every earlier step's output, by step name. */
  outputs: Record<string, unknown>;
  /** 1 for the first attempt. */
  attempt: number;
  maxAttempts: number;
  /** Aborted on the step's timeout, on shutdown, or when the execution is cancelled. */
  signal: AbortSignal;
  log: Logger;
  db: Kysely<Database>;
  pool: Queryable;
  /** End the step as skipped (not failed): return the result of this call. */
  skip(reason: string): StepSkipped;
}

/** A handler's result meaning "skipped, for this reason"; the execution goes on. */
export class StepSkipped {
  constructor(readonly reason: string) {}
}

/** Returns the step's output (JSON; stored, and the next step's input) or ctx.skip(reason). Throwing fails the attempt. */
export type StepHandler<C = Record<string, unknown>> = (ctx: StepContext<C>) => unknown;

export interface StepHandlerModule<C = Record<string, unknown>> {
  default: StepHandler<C>;
}

export interface StepHandlerSpec<S extends StepConfigSchema = StepConfigSchema> {
  /** snake_case, unique: what a template's step names in `handler`. */
  name: string;
  description: string;
  config: S;
  handler: () => Promise<StepHandlerModule<v.InferOutput<S>>>;
}

export function defineStepHandler<S extends StepConfigSchema>(spec: StepHandlerSpec<S>): StepHandlerSpec<S> {
  return spec;
}

/** The step handlers this cesar knows; a template naming any other is not runnable. */
export class StepHandlerRegistry {
  private readonly specs = new Map<string, StepHandlerSpec>();
  private readonly loaded = new Map<string, Promise<StepHandler>>();

  add<S extends StepConfigSchema>(spec: StepHandlerSpec<S>): this {
    if (!/^[a-z][a-z0-9_]{0,63}$/.test(spec.name)) throw new Error(`step handler name "${spec.name}" must be snake_case`);
    if (this.specs.has(spec.name)) throw new Error(`step handler ${spec.name} is registered twice`);
    this.specs.set(spec.name, spec as unknown as StepHandlerSpec);
    return this;
  }

  get(name: string): StepHandlerSpec | undefined {
    return this.specs.get(name);
  }

  has(name: string): boolean {
    return this.specs.has(name);
  }

  names(): string[] {
    return [...this.specs.keys()].sort();
  }

  /** The handler's code, loaded once per process. */
  load(name: string): Promise<StepHandler> {
    let found = this.loaded.get(name);
    if (!found) {
      const spec = this.specs.get(name);
      if (!spec) return Promise.reject(new Error(`no step handler ${quote(name)} is registered`));
      found = spec.handler().then((module) => {
        if (typeof module?.default !== 'function') throw new Error(`step handler ${name}: its module has no default export function`);
        return module.default as StepHandler;
      });
      // A module that failed to load is tried again next time (it may be fixed by then).
      found.catch(() => this.loaded.delete(name));
      this.loaded.set(name, found);
    }
    return found;
  }
}

/** Check a step's config against its handler's schema; the problem in one line, or undefined. */
export function stepConfigProblem(spec: StepHandlerSpec, config: unknown): string | undefined {
  const result = v.safeParse(spec.config, config);
  if (result.success) return undefined;
  return describeIssue(spec.config, result.issues[0], 'config').message;
}

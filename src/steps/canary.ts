import * as v from 'valibot';
import { integerIn } from '../queue/job-types.js';
import { defineStepHandler } from '../workflows/step-handlers.js';

const config = v.strictObject({
  sleep_ms: v.optional(integerIn(0, 600_000)),
  fail_attempts: v.optional(integerIn(0, 100)),
  /** End the step as skipped with this reason (to see a skipped step). */
  skip_reason: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(500))),
});

export type CanaryStepConfig = v.InferOutput<typeof config>;

/**
 * canary: the step that proves the workflow engine works, as the canary job proves the queue. It
 * sleeps sleep_ms, fails its first fail_attempts attempts on purpose, or ends as skipped with
 * skip_reason; its output names the agent that carried it out and what it was given.
 */
export const canaryStep = defineStepHandler({
  name: 'canary',
  description: 'proves the workflow engine works: sleeps sleep_ms, fails its first fail_attempts attempts on purpose',
  config,
  handler: () => import('./canary.handler.js'),
});

import * as v from 'valibot';
import { defineJobType, integerIn } from '../queue/job-types.js';

const payload = v.strictObject({
  sleep_ms: v.optional(integerIn(0, 600_000)),
  fail_attempts: v.optional(integerIn(0, 1000)),
});

export type CanaryPayload = v.InferOutput<typeof payload>;

/**
 * canary: the job that proves the pipeline works. It sleeps sleep_ms (default 0), and fails its
 * first fail_attempts attempts on purpose so that retries can be seen.
 */
export const canary = defineJobType({
  name: 'canary',
  description: 'proves the queue works: sleeps sleep_ms, fails its first fail_attempts attempts on purpose',
  payload,
  timeoutMs: 15 * 60_000,
  handler: () => import('./canary.handler.js'),
});

import * as v from 'valibot';
import { defineJobType, integerIn } from '../queue/job-types.js';
import type { StepHandlerRegistry } from '../workflows/step-handlers.js';

const payload = v.strictObject({
  execution_id: integerIn(1, Number.MAX_SAFE_INTEGER),
  step: integerIn(1, 1000),
});

/**
 * workflow_step: runs one step of a workflow execution (the engine enqueues these; an operator
 * does not). The queue's leases, retries and attempt history apply per step. Its timeout is a
 * ceiling: each step's own timeout_seconds (at most a day) is enforced by the step runner.
 */
export function workflowStepJobType(steps: StepHandlerRegistry) {
  return defineJobType({
    name: 'workflow_step',
    description: 'runs one step of a workflow execution, carried out by an agent (enqueued by the workflow engine)',
    payload,
    timeoutMs: 86_400_000 + 60_000,
    maxAttempts: 3,
    handler: async () => {
      const { stepRunner } = await import('../workflows/step-runner.js');
      return { default: stepRunner(steps) };
    },
  });
}

import { JobTypeRegistry } from '../queue/job-types.js';
import { builtInStepHandlers, type StepSettings } from '../steps/index.js';
import { canary } from './canary.js';
import { workflowStepJobType } from './workflow-step.js';

/**
 * Every built-in job type, in one place. Adding a type: declare it in a file of this folder
 * (`defineJobType`, with its handler module loaded on demand) and add one line here.
 */
export function builtInJobTypes(settings: StepSettings = {}): JobTypeRegistry {
  return new JobTypeRegistry().add(canary).add(workflowStepJobType(builtInStepHandlers(settings)));
}

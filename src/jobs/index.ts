import { defaultEmailSettings, type EmailSettings } from '../email/settings.js';
import { JobTypeRegistry } from '../queue/job-types.js';
import { builtInStepHandlers, type StepSettings } from '../steps/index.js';
import { canary } from './canary.js';
import { emailIngestJobType } from './email.js';
import { workflowStepJobType } from './workflow-step.js';

/** What built-in job types need from the settings; a process that only reads declarations passes none. */
export interface JobSettings extends StepSettings {
  email?: EmailSettings;
}

/**
 * Every built-in job type, in one place. Adding a type: declare it in a file of this folder
 * (`defineJobType`, with its handler module loaded on demand) and add one line here.
 */
export function builtInJobTypes(settings: JobSettings = {}): JobTypeRegistry {
  return new JobTypeRegistry()
    .add(canary)
    .add(workflowStepJobType(builtInStepHandlers(settings)))
    .add(emailIngestJobType(settings.email ?? defaultEmailSettings));
}

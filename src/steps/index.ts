import { StepHandlerRegistry } from '../workflows/step-handlers.js';
import { canaryStep } from './canary.js';

/**
 * Every built-in step handler, in one place. Adding one: declare it in a file of this folder
 * (`defineStepHandler`, with its module loaded on demand) and add one line here.
 */
export function builtInStepHandlers(): StepHandlerRegistry {
  return new StepHandlerRegistry().add(canaryStep);
}

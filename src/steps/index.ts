import { defaultSyncSettings, type SyncSettings } from '../sync/settings.js';
import { StepHandlerRegistry } from '../workflows/step-handlers.js';
import { canaryStep } from './canary.js';
import { syncSteps } from './sync.js';

/** What built-in handlers need from the settings; a process that only reads declarations passes none. */
export interface StepSettings {
  sync?: SyncSettings;
}

/**
 * Every built-in step handler, in one place. Adding one: declare it in a file of this folder
 * (`defineStepHandler`, with its module loaded on demand) and add one line here.
 */
export function builtInStepHandlers(settings: StepSettings = {}): StepHandlerRegistry {
  const registry = new StepHandlerRegistry().add(canaryStep);
  for (const step of syncSteps(settings.sync ?? defaultSyncSettings)) registry.add(step);
  return registry;
}

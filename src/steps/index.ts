import { defaultLlmSettings, type LlmSettings } from '../llm/settings.js';
import { defaultMarketSettings, type MarketSettings } from '../market/settings.js';
import { defaultSyncSettings, type SyncSettings } from '../sync/settings.js';
import { StepHandlerRegistry } from '../workflows/step-handlers.js';
import { canaryStep } from './canary.js';
import { knowledgeSteps } from './knowledge.js';
import { llmSteps } from './llm.js';
import { marketSteps } from './market.js';
import { memorySteps } from './memory.js';
import { syncSteps } from './sync.js';

/** What built-in handlers need from the settings; a process that only reads declarations passes none. */
export interface StepSettings {
  sync?: SyncSettings;
  market?: MarketSettings;
  llm?: LlmSettings;
}

/**
 * Every built-in step handler, in one place. Adding one: declare it in a file of this folder
 * (`defineStepHandler`, with its module loaded on demand) and add one line here.
 */
export function builtInStepHandlers(settings: StepSettings = {}): StepHandlerRegistry {
  const registry = new StepHandlerRegistry().add(canaryStep);
  for (const step of syncSteps(settings.sync ?? defaultSyncSettings)) registry.add(step);
  for (const step of marketSteps(settings.market ?? defaultMarketSettings, settings.llm ?? defaultLlmSettings)) registry.add(step);
  const [refresh, evict] = llmSteps(settings.llm ?? defaultLlmSettings);
  registry.add(refresh).add(evict);
  const [consolidate, summarize, prune] = memorySteps(settings.llm ?? defaultLlmSettings);
  registry.add(consolidate).add(summarize).add(prune);
  for (const step of knowledgeSteps()) registry.add(step);
  return registry;
}

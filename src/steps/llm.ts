import * as v from 'valibot';
import type { LlmSettings } from '../llm/settings.js';
import { integerIn } from '../queue/job-types.js';
import { defineStepHandler, type StepContext } from '../workflows/step-handlers.js';

const refreshConfig = v.strictObject({
  /** Entries expiring within this many minutes are refreshed now (default: until the next run, 4 h, plus 10 min). */
  horizon_minutes: v.optional(integerIn(1, 7 * 24 * 60)),
  concurrency: v.optional(integerIn(1, 16)),
});
const evictConfig = v.strictObject({
  /** Entries unused for this many days are evicted (default 7). */
  unused_days: v.optional(integerIn(1, 3650)),
});

export type RefreshStepConfig = v.InferOutput<typeof refreshConfig>;
export type EvictStepConfig = v.InferOutput<typeof evictConfig>;

/**
 * llm_cache_refresh's steps: refresh the entries in use that expire before the next run (and mark
 * the entries of re-pulled models stale), then evict the entries unused for long. The agent's
 * config gives min_hits_to_refresh, batch_size and ttl_hours; the settings (OLLAMA_URL) are the worker's.
 */
export function llmSteps(settings: LlmSettings) {
  return [refreshStep(settings), evictStep] as const;
}

function refreshStep(settings: LlmSettings) {
  return defineStepHandler({
    name: 'refresh_expired_entries',
    description: 'asks Ollama again the cached requests in use that expire before the next run; marks re-pulled models’ entries stale',
    config: refreshConfig,
    handler: async () => {
      const { runRefreshStep } = await import('./llm.handler.js');
      return { default: (ctx: StepContext<RefreshStepConfig>) => runRefreshStep(ctx, settings) };
    },
  });
}

const evictStep = defineStepHandler({
  name: 'evict_stale_entries',
  description: 'deletes the LLM cache entries unused for the configured time, and stale entries past expiry',
  config: evictConfig,
  handler: async () => {
    const { runEvictStep } = await import('./llm.handler.js');
    return { default: (ctx: StepContext<EvictStepConfig>) => runEvictStep(ctx) };
  },
});

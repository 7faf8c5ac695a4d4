import * as v from 'valibot';
import type { LlmSettings } from '../llm/settings.js';
import { integerIn } from '../queue/job-types.js';
import { defineStepHandler, type StepContext } from '../workflows/step-handlers.js';

const consolidateConfig = v.strictObject({
  /** Episodes younger than this many minutes wait for the next run (default 10). */
  settle_minutes: v.optional(integerIn(0, 7 * 24 * 60)),
  /** Episodes needed for a new fact (default 3, or the agent's config min_support). */
  min_support: v.optional(integerIn(1, 1000)),
});
const summarizeConfig = v.strictObject({});
const pruneConfig = v.strictObject({
  /** Consolidated episodes older than this many days are deleted (default 90). */
  retention_days: v.optional(integerIn(1, 3650)),
});

export type ConsolidateStepConfig = v.InferOutput<typeof consolidateConfig>;
export type SummarizeStepConfig = v.InferOutput<typeof summarizeConfig>;
export type PruneStepConfig = v.InferOutput<typeof pruneConfig>;

/**
 * memory_consolidation's steps: consolidate settled episodes into semantic facts (deterministic),
 * have the agent's model phrase the facts written (through the LLM cache; the template's statement
 * stands when Ollama cannot answer), and delete old consolidated episodes.
 */
export function memorySteps(llm: LlmSettings) {
  return [
    defineStepHandler({
      name: 'consolidate_episodes',
      description: 'turns settled episodes into semantic facts: add, update, supersede, each in the history',
      config: consolidateConfig,
      handler: async () => {
        const { runConsolidateStep } = await import('./memory.handler.js');
        return { default: (ctx: StepContext<ConsolidateStepConfig>) => runConsolidateStep(ctx) };
      },
    }),
    summarizeStep(llm),
    defineStepHandler({
      name: 'prune_episodes',
      description: 'deletes consolidated episodes older than the retention (their facts keep the history)',
      config: pruneConfig,
      handler: async () => {
        const { runPruneStep } = await import('./memory.handler.js');
        return { default: (ctx: StepContext<PruneStepConfig>) => runPruneStep(ctx) };
      },
    }),
  ] as const;
}

function summarizeStep(llm: LlmSettings) {
  return defineStepHandler({
    name: 'summarize_topics',
    description: 'has the agent’s model phrase the facts written in this run, through the LLM cache (OLLAMA_URL)',
    config: summarizeConfig,
    handler: async () => {
      const { runSummarizeStep } = await import('./memory.handler.js');
      return { default: (ctx: StepContext<SummarizeStepConfig>) => runSummarizeStep(ctx, llm) };
    },
  });
}

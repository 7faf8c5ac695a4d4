import type { Queryable } from '../db/queryable.js';
import type { ConnectionPool } from '../db/transaction.js';
import { cachedAsk, isOutage } from '../llm/cache.js';
import { ollamaClient } from '../llm/client.js';
import { agentModel, type LlmSettings } from '../llm/settings.js';
import { type ConsolidationResult, consolidateMemory, defaultConsolidationOptions } from '../memory/consolidate.js';
import { factsToPhraseSql, phraseFactSql, pruneEpisodesSql } from '../memory/queries.js';
import type { StepContext } from '../workflows/step-handlers.js';
import type { ConsolidateStepConfig, PruneStepConfig, SummarizeStepConfig } from './memory.js';

export async function runConsolidateStep(ctx: StepContext<ConsolidateStepConfig>): Promise<unknown> {
  const agentMin = ctx.agent.config.min_support;
  return consolidateMemory(ctx.pool as unknown as ConnectionPool & Queryable, {
    ...defaultConsolidationOptions,
    settleMs: (ctx.config.settle_minutes ?? 10) * 60_000,
    minSupport:
      ctx.config.min_support ?? (typeof agentMin === 'number' && agentMin >= 1 ? agentMin : defaultConsolidationOptions.minSupport),
    executionId: ctx.executionId,
  });
}

/** The facts consolidate_episodes wrote, phrased by the agent's model through the cache; the template's statement stays when it cannot. */
export async function runSummarizeStep(ctx: StepContext<SummarizeStepConfig>, llm: LlmSettings): Promise<unknown> {
  const consolidated = ctx.outputs.consolidate_episodes as ConsolidationResult | null | undefined;
  const ids = consolidated?.changed_facts ?? [];
  if (ids.length === 0) return { phrased: 0, kept_template: 0, note: 'no fact was written in this run' };
  const model = agentModel(ctx.agent.config);
  const client = ollamaClient(llm);
  const facts = await ctx.pool.query<{ id: string; content: string; agent: string | null }>({ text: factsToPhraseSql, values: [ids] });
  let phrased = 0;
  for (const fact of facts.rows) {
    ctx.signal.throwIfAborted();
    try {
      const answered = await cachedAsk(
        ctx.pool,
        client,
        {
          endpoint: 'generate',
          request: {
            model,
            system: 'Rewrite the fact as one plain sentence. Keep every number and name; add nothing.',
            prompt: fact.content,
            options: { temperature: 0 },
          },
        },
        { ttlMs: llm.cacheTtlMs, signal: ctx.signal },
      );
      const text = (answered.answer as { response: string }).response.trim();
      if (text) phrased += (await ctx.pool.query({ text: phraseFactSql, values: [fact.id, fact.content, text] })).rowCount ?? 0;
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      const reason = (err as Error).message;
      ctx.log.warn(`summarize_topics: the statements stand as written: ${reason}`);
      return { phrased, kept_template: facts.rows.length - phrased, model, reason: isOutage(err) ? reason : `the model failed: ${reason}` };
    }
  }
  return { phrased, kept_template: facts.rows.length - phrased, model };
}

export async function runPruneStep(ctx: StepContext<PruneStepConfig>): Promise<unknown> {
  const days = ctx.config.retention_days ?? 90;
  const pruned = await ctx.pool.query({ text: pruneEpisodesSql, values: [days * 86_400_000] });
  return { pruned: pruned.rowCount ?? 0, retention_days: days };
}

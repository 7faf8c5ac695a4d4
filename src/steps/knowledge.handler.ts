import { extractEntities, extractRelations, type GraphPool, knowledgeDefaults, pruneWeakEdges } from '../knowledge/update.js';
import type { StepContext } from '../workflows/step-handlers.js';
import type { EntitiesStepConfig, PruneStepConfig, RelationsStepConfig } from './knowledge.js';

/** A number from 0 to 1 in the agent's config, or the default; anything else is the operator's mistake, said so. */
function agentFraction(ctx: StepContext<unknown>, key: string, fallback: number): number {
  const value = ctx.agent.config[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new Error(`agent ${ctx.agent.name}: config.${key} must be a number from 0 to 1; got ${JSON.stringify(value)}`);
  }
  return value;
}

const poolOf = (ctx: StepContext<unknown>) => ctx.pool as unknown as GraphPool;

export async function runExtractEntities(ctx: StepContext<EntitiesStepConfig>): Promise<unknown> {
  return extractEntities(poolOf(ctx), {
    lagMs: ctx.config.lag_seconds === undefined ? undefined : ctx.config.lag_seconds * 1000,
    batchSize: ctx.config.batch_size,
    halfLifeDays: ctx.config.half_life_days,
    minConfidence: agentFraction(ctx, 'min_confidence', knowledgeDefaults.minConfidence),
    signal: ctx.signal,
  });
}

export async function runExtractRelations(ctx: StepContext<RelationsStepConfig>): Promise<unknown> {
  return extractRelations(poolOf(ctx), { halfLifeDays: ctx.config.half_life_days });
}

export async function runPruneEdges(ctx: StepContext<PruneStepConfig>): Promise<unknown> {
  return pruneWeakEdges(poolOf(ctx), {
    minWeight: agentFraction(ctx, 'min_weight', knowledgeDefaults.minWeight),
    executionId: ctx.executionId,
  });
}

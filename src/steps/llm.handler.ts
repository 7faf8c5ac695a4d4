import { ollamaClient } from '../llm/client.js';
import { evictCache, refreshCache } from '../llm/refresh.js';
import type { LlmSettings } from '../llm/settings.js';
import type { StepContext } from '../workflows/step-handlers.js';
import type { EvictStepConfig, RefreshStepConfig } from './llm.js';

const hourMs = 3_600_000;

/** A positive number from the agent's config, or the default. */
function agentNumber(config: Record<string, unknown>, key: string, fallback: number): number {
  const value = config[key];
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}

export async function runRefreshStep(ctx: StepContext<RefreshStepConfig>, settings: LlmSettings): Promise<unknown> {
  const client = ollamaClient(settings);
  const result = await refreshCache(ctx.pool, client, {
    minHits: agentNumber(ctx.agent.config, 'min_hits_to_refresh', 3),
    limit: Math.round(agentNumber(ctx.agent.config, 'batch_size', 100)),
    ttlMs: agentNumber(ctx.agent.config, 'ttl_hours', settings.cacheTtlMs / hourMs) * hourMs,
    horizonMs: (ctx.config.horizon_minutes ?? 250) * 60_000,
    concurrency: ctx.config.concurrency ?? 2,
    signal: ctx.signal,
  });
  if (result.note) ctx.log.warn(result.note);
  return result;
}

export async function runEvictStep(ctx: StepContext<EvictStepConfig>): Promise<unknown> {
  const days = ctx.config.unused_days ?? 7;
  return { evicted: await evictCache(ctx.pool, days * 24 * hourMs), unused_days: days };
}

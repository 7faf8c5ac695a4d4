import { sleep } from '../sleep.js';
import type { StepContext } from '../workflows/step-handlers.js';
import type { CanaryStepConfig } from './canary.js';

export default async function runCanaryStep(ctx: StepContext<CanaryStepConfig>): Promise<unknown> {
  const { config, attempt, signal } = ctx;
  if (config.sleep_ms) await sleepAtLeast(config.sleep_ms, signal);
  const failures = config.fail_attempts ?? 0;
  if (attempt <= failures) {
    throw new Error(`canary step failing on purpose: attempt ${attempt} of the first ${failures} that fail`);
  }
  if (config.skip_reason) return ctx.skip(config.skip_reason);
  return { ok: true, step: ctx.step.name, agent: ctx.agent.name, attempt, input: ctx.input ?? null };
}

/** Node's timers may fire a fraction of a millisecond early; a canary that says it slept must have. */
async function sleepAtLeast(ms: number, signal: AbortSignal): Promise<void> {
  const until = performance.now() + ms;
  for (let left = ms; left > 0; left = until - performance.now()) await sleep(Math.ceil(left), signal);
}

import { CesarError, ExitCode, InputError } from '../errors.js';
import { cachedAsk, type LlmRequest } from '../llm/cache.js';
import { LlmError, ollamaClient } from '../llm/client.js';
import { statsByModelSql, statsSql } from '../llm/queries.js';
import { type CliContext, withDatabase } from './context.js';
import { dim, printJson, renderTable } from './output.js';

export interface LlmAskOptions {
  system?: string;
  temperature?: number;
  seed?: number;
  cache?: boolean;
  allowStale?: boolean;
  json?: boolean;
}

/** Ollama's failures as operator errors: a missing model or a refused request is the input (65), the rest is Ollama (69). */
function operatorError(err: unknown): unknown {
  if (!(err instanceof LlmError)) return err;
  if (err.kind === 'model_not_found' || err.kind === 'bad_request') return new InputError(err.message);
  return new CesarError(err.message, `llm_${err.kind}`, ExitCode.unavailable, 'is Ollama running there? check OLLAMA_URL');
}

/** `cesar llm ask MODEL PROMPT`: one generate request through the cache (temperature 0 by default, so cacheable). */
export async function runLlmAsk(ctx: CliContext, model: string, prompt: string, options: LlmAskOptions): Promise<number> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$/.test(model)) throw new InputError(`not a model name: ${JSON.stringify(model.slice(0, 60))}`);
  if (prompt.trim() === '') throw new InputError('the prompt is empty');
  const llmOptions: Record<string, unknown> = { temperature: options.temperature ?? 0 };
  if (options.seed !== undefined) llmOptions.seed = options.seed;
  const call: LlmRequest = { endpoint: 'generate', request: { model, prompt, system: options.system, options: llmOptions } };
  return withDatabase(ctx, async (handle) => {
    const answered = await cachedAsk(handle.pool, ollamaClient(ctx.config.llm), call, {
      ttlMs: ctx.config.llm.cacheTtlMs,
      allowStale: options.allowStale === true,
      noCache: options.cache === false,
    }).catch((err: unknown) => {
      throw operatorError(err);
    });
    const answer = answered.answer as { response: string; eval_count?: number; prompt_eval_count?: number; total_duration?: number };
    if (options.json) {
      printJson(ctx.out, {
        model,
        answer: answer.response,
        cache: answered.cache,
        from_cache: answered.cache === 'hit' || answered.cache === 'stale',
        stale: answered.cache === 'stale',
        cache_key: answered.cache_key,
        answered_at: answered.answered_at,
        prompt_tokens: answer.prompt_eval_count ?? null,
        completion_tokens: answer.eval_count ?? null,
      });
      return 0;
    }
    ctx.out(answer.response);
    if (answered.cache === 'stale')
      ctx.log.warn(`Ollama could not be reached: this answer is from the cache, made ${answered.answered_at}`);
    return 0;
  });
}

/** `cesar llm models`: the models Ollama has, with their digests. */
export async function runLlmModels(ctx: CliContext, options: { json?: boolean }): Promise<number> {
  const models = await ollamaClient(ctx.config.llm)
    .tags()
    .catch((err: unknown) => {
      throw operatorError(err);
    });
  if (options.json) {
    printJson(ctx.out, { ollama: ctx.config.llm.ollamaUrl, models });
    return 0;
  }
  if (models.length === 0) ctx.out(dim(`Ollama at ${ctx.config.llm.ollamaUrl} has no model: pull one with \`ollama pull llama3.1:8b\`.`));
  else
    ctx.out(
      renderTable(
        ['Model', 'Size', 'Digest', 'Modified'],
        models.map((m) => [m.name, `${(m.size / 1e9).toFixed(1)} GB`, m.digest.slice(0, 12), m.modified_at]),
      ),
    );
  return 0;
}

/** `cesar llm cache stats`: entries, hits and misses, stale and expired entries, per model. */
export async function runLlmCacheStats(ctx: CliContext, options: { json?: boolean }): Promise<number> {
  return withDatabase(ctx, async (handle) => {
    const total = (await handle.pool.query(statsSql)).rows[0]!;
    const byModel = (await handle.pool.query(statsByModelSql)).rows;
    const numbers = (row: Record<string, unknown>) =>
      Object.fromEntries(
        Object.entries(row).map(([k, v]) => [
          k,
          typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v instanceof Date ? v.toISOString() : v,
        ]),
      );
    const stats = { ...numbers(total), models: byModel.map(numbers) };
    if (options.json) {
      printJson(ctx.out, stats);
      return 0;
    }
    const hits = Number(total.hits);
    const misses = Number(total.misses);
    const rate = hits + misses === 0 ? '-' : `${((100 * hits) / (hits + misses)).toFixed(1)}%`;
    ctx.out(
      `LLM cache: ${total.entries} entries (${total.stale} stale, ${total.expired} expired), ${hits} hits, ${misses} misses, hit rate ${rate}`,
    );
    if (byModel.length > 0) {
      ctx.out(
        renderTable(
          ['Model', 'Endpoint', 'Entries', 'Stale', 'Hits', 'Misses', 'Mean answer time'],
          byModel.map((m) => [
            m.model,
            m.endpoint,
            m.entries,
            m.stale,
            Number(m.hits),
            Number(m.misses),
            m.mean_duration_ms === null ? '-' : `${Math.round(m.mean_duration_ms)} ms`,
          ]),
        ),
      );
    }
    return 0;
  });
}

import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Queryable } from '../db/queryable.js';
import type {
  ChatRequest,
  ChatResponse,
  EmbedRequest,
  EmbedResponse,
  GenerateRequest,
  GenerateResponse,
  OllamaClient,
  Usage,
} from './client.js';
import { LlmError } from './client.js';
import { hitSql, newestOfRequestSql, storeSql } from './queries.js';

/**
 * The LLM response cache. An entry is keyed by the canonical request (endpoint, model, prompt or
 * messages or input, system, format, options, template, suffix, raw, truncate; never transport
 * fields such as stream or keep_alive) and by the digest of the model build that answered it, so
 * that a re-pulled model never serves an old answer. Only deterministic requests are cached
 * (temperature 0, or a seed; embeddings always). When Ollama cannot be reached, the newest entry of
 * the request may be served, flagged stale, if the caller allows it.
 */

export type Endpoint = 'generate' | 'chat' | 'embed';

export type LlmRequest =
  | { endpoint: 'generate'; request: GenerateRequest }
  | { endpoint: 'chat'; request: ChatRequest }
  | { endpoint: 'embed'; request: EmbedRequest };

export type LlmAnswer = GenerateResponse | ChatResponse | EmbedResponse;

/** hit: a stored answer; miss: asked the model and stored; stale: stored, model unreachable; bypass: not cacheable or not asked to. */
export type CacheOutcome = 'hit' | 'miss' | 'stale' | 'bypass';

export interface CachePolicy {
  ttlMs: number;
  /** Serve the newest entry, flagged stale, when Ollama cannot be reached. */
  allowStale?: boolean;
  /** Ask the model whatever the cache holds (the answer is not stored either). */
  noCache?: boolean;
  signal?: AbortSignal;
}

export interface CachedAnswer {
  answer: LlmAnswer;
  cache: CacheOutcome;
  cache_key: string | null;
  /** When the answer was made (for a hit or a stale answer, when it was stored). */
  answered_at: string;
}

const transportFields = new Set(['stream', 'keep_alive']);

/** JSON with object keys sorted at every level: the same request always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The request as it is keyed: endpoint and every field that shapes the answer. */
export function canonicalRequest(call: LlmRequest): Record<string, unknown> {
  const fields = Object.fromEntries(Object.entries(call.request).filter(([k]) => !transportFields.has(k)));
  return { endpoint: call.endpoint, ...fields };
}

export function requestKey(call: LlmRequest): string {
  return sha256(canonicalJson(canonicalRequest(call)));
}

export function cacheKey(requestKeyHex: string, digest: string): string {
  return sha256(`${requestKeyHex}:${digest}`);
}

/** Deterministic requests only: embeddings, or temperature 0, or a seed. */
export function isCacheable(call: LlmRequest): boolean {
  if (call.endpoint === 'embed') return true;
  const options = call.request.options ?? {};
  return options.temperature === 0 || typeof options.seed === 'number';
}

export function answerText(call: LlmRequest, answer: LlmAnswer): string {
  if (call.endpoint === 'generate') return (answer as GenerateResponse).response;
  if (call.endpoint === 'chat') return (answer as ChatResponse).message.content;
  return '';
}

function promptText(call: LlmRequest): string {
  if (call.endpoint === 'generate') return call.request.prompt;
  if (call.endpoint === 'chat') return call.request.messages.at(-1)?.content ?? '';
  return Array.isArray(call.request.input) ? call.request.input.join('\n') : call.request.input;
}

export async function ask(client: OllamaClient, call: LlmRequest, signal?: AbortSignal): Promise<LlmAnswer> {
  if (call.endpoint === 'generate') return client.generate(call.request, { signal });
  if (call.endpoint === 'chat') return client.chat(call.request, { signal });
  return client.embed(call.request, signal);
}

/** An error that means Ollama could not be asked at all (the stale answer may stand in). */
export function isOutage(err: unknown): boolean {
  return err instanceof LlmError && (err.kind === 'unreachable' || err.kind === 'timeout' || err.kind === 'server_error');
}

/** The digest of the model as Ollama has it now; undefined when it is not pulled (asking will say so). */
export async function modelDigest(client: OllamaClient, model: string, signal?: AbortSignal): Promise<string | undefined> {
  const models = await client.tags(signal);
  const withTag = model.includes(':') ? model : `${model}:latest`;
  return models.find((m) => m.name === model || m.name === withTag || m.model === model)?.digest;
}

interface EntryRow {
  cache_key: string;
  answer: LlmAnswer;
  created_at: Date;
}

export async function cachedAsk(q: Queryable, client: OllamaClient, call: LlmRequest, policy: CachePolicy): Promise<CachedAnswer> {
  if (policy.noCache || !isCacheable(call)) {
    const answer = await ask(client, call, policy.signal);
    return { answer, cache: 'bypass', cache_key: null, answered_at: new Date().toISOString() };
  }
  const reqKey = requestKey(call);
  let digest: string | undefined;
  try {
    digest = await modelDigest(client, call.request.model, policy.signal);
  } catch (err) {
    return staleOrThrow(q, reqKey, err, policy);
  }
  if (digest === undefined) {
    // Not pulled: asking produces Ollama's own "not found", which the client turns into the pull line.
    const answer = await ask(client, call, policy.signal);
    return { answer, cache: 'bypass', cache_key: null, answered_at: new Date().toISOString() };
  }
  const key = cacheKey(reqKey, digest);
  const hit = (await q.query<EntryRow>({ text: hitSql, values: [key] })).rows[0];
  if (hit) return { answer: hit.answer, cache: 'hit', cache_key: key, answered_at: hit.created_at.toISOString() };
  let answer: LlmAnswer;
  const started = performance.now();
  try {
    answer = await ask(client, call, policy.signal);
  } catch (err) {
    return staleOrThrow(q, reqKey, err, policy);
  }
  await storeAnswer(q, call, reqKey, key, digest, answer, performance.now() - started, policy.ttlMs, false);
  return { answer, cache: 'miss', cache_key: key, answered_at: new Date().toISOString() };
}

async function staleOrThrow(q: Queryable, reqKey: string, err: unknown, policy: CachePolicy): Promise<CachedAnswer> {
  if (policy.allowStale && isOutage(err)) {
    const entry = (await q.query<EntryRow>({ text: newestOfRequestSql, values: [reqKey] })).rows[0];
    if (entry) return { answer: entry.answer, cache: 'stale', cache_key: entry.cache_key, answered_at: entry.created_at.toISOString() };
  }
  throw err;
}

export async function storeAnswer(
  q: Queryable,
  call: LlmRequest,
  reqKey: string,
  key: string,
  digest: string,
  answer: LlmAnswer,
  durationMs: number,
  ttlMs: number,
  refresh: boolean,
): Promise<void> {
  const usage = answer as Usage;
  await q.query({
    text: storeSql,
    values: [
      key,
      reqKey,
      call.endpoint,
      call.request.model,
      digest,
      promptText(call),
      answerText(call, answer),
      JSON.stringify(canonicalRequest(call)),
      JSON.stringify(answer),
      ttlMs,
      durationMs,
      usage.prompt_eval_count ?? null,
      usage.eval_count ?? null,
      refresh,
    ],
  });
}

/** The LLM settings, from the environment (see config.ts). */
export interface LlmSettings {
  /** OLLAMA_URL. */
  ollamaUrl: string;
  /** CESAR_LLM_TIMEOUT: per request to Ollama, generation included. */
  timeoutMs: number;
  /** Attempts in all on refused connections and 5xx. */
  maxAttempts: number;
  backoffMs: number;
  /** CESAR_LLM_CACHE_TTL: how long a cached answer is served. */
  cacheTtlMs: number;
}

/** The model an agent asks: its config's `model`, else the reference agents' own. */
export function agentModel(config: Record<string, unknown>): string {
  return typeof config.model === 'string' && config.model !== '' ? config.model : 'llama3.1:8b';
}

export const defaultLlmSettings: LlmSettings = {
  ollamaUrl: 'http://127.0.0.1:11434',
  timeoutMs: 120_000,
  maxAttempts: 3,
  backoffMs: 500,
  cacheTtlMs: 24 * 3_600_000,
};

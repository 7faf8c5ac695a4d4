/**
 * A client for Ollama's HTTP API (https://github.com/ollama/ollama/blob/main/docs/api.md):
 * /api/version, /api/tags, /api/generate, /api/chat and /api/embed, streaming (NDJSON, one JSON
 * object per line, the last with "done": true) or not. Each request has a timeout (AbortSignal);
 * refused connections, 503 and other 5xx are retried a bounded number of times before any answer
 * was read, never 400 or 404; "model not found" becomes a line that says to pull the model.
 */
import { sleep } from '../sleep.js';
import type { LlmSettings } from './settings.js';

export type LlmErrorKind = 'unreachable' | 'timeout' | 'model_not_found' | 'bad_request' | 'server_error' | 'bad_response';

export class LlmError extends Error {
  constructor(
    readonly kind: LlmErrorKind,
    message: string,
    readonly retryable = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LlmError';
  }
}

export interface OllamaClientOptions {
  /** OLLAMA_URL, e.g. http://127.0.0.1:11434 */
  baseUrl: string;
  /** Per request, streaming included. */
  timeoutMs: number;
  /** Attempts in all on refused connections and 5xx. */
  maxAttempts: number;
  /** First pause between attempts, doubled each time. */
  backoffMs: number;
}

export interface OllamaModel {
  name: string;
  model: string;
  digest: string;
  size: number;
  modified_at: string;
}

export type Options = Record<string, unknown>;

export interface GenerateRequest {
  model: string;
  prompt: string;
  system?: string;
  format?: unknown;
  options?: Options;
  template?: string;
  suffix?: string;
  raw?: boolean;
  keep_alive?: string | number;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  format?: unknown;
  options?: Options;
  keep_alive?: string | number;
}

export interface EmbedRequest {
  model: string;
  input: string | string[];
  truncate?: boolean;
  options?: Options;
  keep_alive?: string | number;
}

/** What Ollama reports of a finished request (durations in nanoseconds, as it sends them). */
export interface Usage {
  total_duration?: number;
  load_duration?: number;
  prompt_eval_count?: number;
  prompt_eval_duration?: number;
  eval_count?: number;
  eval_duration?: number;
}

export interface GenerateResponse extends Usage {
  model: string;
  response: string;
  done_reason?: string;
}

export interface ChatResponse extends Usage {
  model: string;
  message: ChatMessage;
  done_reason?: string;
}

export interface EmbedResponse extends Usage {
  model: string;
  embeddings: number[][];
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Stream the answer, calling this with each piece of text as it arrives. */
  onText?: (text: string) => void;
}

/** The client the settings describe (OLLAMA_URL, CESAR_LLM_TIMEOUT). */
export function ollamaClient(settings: LlmSettings): OllamaClient {
  return new OllamaClient({
    baseUrl: settings.ollamaUrl,
    timeoutMs: settings.timeoutMs,
    maxAttempts: settings.maxAttempts,
    backoffMs: settings.backoffMs,
  });
}

export class OllamaClient {
  private readonly base: string;

  constructor(private readonly options: OllamaClientOptions) {
    this.base = options.baseUrl.replace(/\/+$/, '');
  }

  get url(): string {
    return this.base;
  }

  async version(signal?: AbortSignal): Promise<string> {
    const body = await this.json<{ version?: unknown }>('GET', '/api/version', undefined, signal);
    if (typeof body.version !== 'string') throw this.badResponse('/api/version', 'no version in the answer');
    return body.version;
  }

  async tags(signal?: AbortSignal): Promise<OllamaModel[]> {
    const body = await this.json<{ models?: unknown }>('GET', '/api/tags', undefined, signal);
    if (!Array.isArray(body.models)) throw this.badResponse('/api/tags', 'no model list in the answer');
    return body.models as OllamaModel[];
  }

  async generate(request: GenerateRequest, call: CallOptions = {}): Promise<GenerateResponse> {
    if (!call.onText) return this.json<GenerateResponse>('POST', '/api/generate', { ...request, stream: false }, call.signal);
    let text = '';
    const last = await this.stream<GenerateResponse>('/api/generate', { ...request, stream: true }, call.signal, (part) => {
      const piece = typeof part.response === 'string' ? part.response : '';
      text += piece;
      if (piece) call.onText?.(piece);
    });
    return { ...last, response: text };
  }

  async chat(request: ChatRequest, call: CallOptions = {}): Promise<ChatResponse> {
    if (!call.onText) return this.json<ChatResponse>('POST', '/api/chat', { ...request, stream: false }, call.signal);
    let text = '';
    const last = await this.stream<ChatResponse>('/api/chat', { ...request, stream: true }, call.signal, (part) => {
      const piece = typeof part.message?.content === 'string' ? part.message.content : '';
      text += piece;
      if (piece) call.onText?.(piece);
    });
    return { ...last, message: { role: 'assistant', content: text } };
  }

  async embed(request: EmbedRequest, signal?: AbortSignal): Promise<EmbedResponse> {
    const body = await this.json<EmbedResponse>('POST', '/api/embed', request, signal);
    if (!Array.isArray(body.embeddings)) throw this.badResponse('/api/embed', 'no embeddings in the answer');
    return body;
  }

  private async json<T>(method: 'GET' | 'POST', path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    return this.withRetries(path, signal, async (combined) => {
      const response = await this.send(method, path, body, combined);
      const text = await response.text();
      return parseJson<T>(text, () => this.badResponse(path, `the answer is not JSON: ${text.slice(0, 80)}`));
    });
  }

  /** A streamed answer: each line to onPart; the last ("done": true) is returned. A line {"error"} fails it. */
  private async stream<T>(path: string, body: unknown, signal: AbortSignal | undefined, onPart: (part: T) => void): Promise<T> {
    return this.withRetries(path, signal, async (combined) => {
      const response = await this.send('POST', path, body, combined);
      if (!response.body) throw this.badResponse(path, 'an empty answer');
      const decoder = new TextDecoder();
      let buffered = '';
      let last: T | undefined;
      const handle = (line: string): void => {
        if (line.trim() === '') return;
        const part = parseJson<T & { error?: unknown; done?: unknown }>(line, () =>
          this.badResponse(path, `a streamed line is not JSON: ${line.slice(0, 80)}`),
        );
        if (typeof part.error === 'string') throw this.errorFromMessage(path, 500, part.error);
        onPart(part);
        if (part.done === true) last = part;
      };
      // Once text has been handed on, the request is not sent again: the caller has seen part of it.
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          buffered += decoder.decode(chunk, { stream: true });
          let newline = buffered.indexOf('\n');
          while (newline >= 0) {
            handle(buffered.slice(0, newline));
            buffered = buffered.slice(newline + 1);
            newline = buffered.indexOf('\n');
          }
        }
        handle(buffered + decoder.decode());
      } catch (err) {
        if (err instanceof LlmError) throw new LlmError(err.kind, err.message, false, { cause: err.cause });
        if (signal?.aborted) throw err;
        if (combined.aborted) {
          throw new LlmError('timeout', `Ollama at ${this.base}${path} did not finish within ${this.options.timeoutMs} ms`, false);
        }
        throw new LlmError('bad_response', `${this.base}${path}: the stream broke off: ${(err as Error).message}`, false, {
          cause: err,
        });
      }
      if (!last) throw new LlmError('bad_response', `${this.base}${path}: the stream ended before its last ("done") line`, false);
      return last;
    });
  }

  private async send(method: string, path: string, body: unknown, signal: AbortSignal): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, {
        method,
        signal,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      if (signal.aborted) throw err;
      throw new LlmError('unreachable', `Ollama is unreachable at ${this.base} (${connectionReason(err)})`, true, { cause: err });
    }
    if (response.ok) return response;
    const text = await response.text().catch(() => '');
    const message = parseJson<{ error?: unknown }>(text, () => ({}))?.error;
    throw this.errorFromMessage(path, response.status, typeof message === 'string' ? message : text.slice(0, 200) || response.statusText);
  }

  private errorFromMessage(path: string, status: number, message: string): LlmError {
    const missing = /model ["']?([^"'\s]+)["']? not found/i.exec(message);
    if (missing) {
      return new LlmError(
        'model_not_found',
        `Ollama at ${this.base} has no model ${missing[1]}: pull it with \`ollama pull ${missing[1]}\``,
      );
    }
    if (status >= 500) return new LlmError('server_error', `Ollama at ${this.base}${path} answered ${status}: ${message}`, true);
    return new LlmError('bad_request', `Ollama at ${this.base}${path} refused the request (${status}): ${message}`);
  }

  private badResponse(path: string, what: string): LlmError {
    return new LlmError('bad_response', `${this.base}${path}: ${what}`);
  }

  private async withRetries<T>(path: string, signal: AbortSignal | undefined, attempt: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const attempts = Math.max(1, this.options.maxAttempts);
    for (let n = 1; ; n++) {
      const timeout = AbortSignal.timeout(this.options.timeoutMs);
      const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
      try {
        return await attempt(combined);
      } catch (err) {
        if (signal?.aborted) throw signal.reason ?? err;
        const failure =
          timeout.aborted && !(err instanceof LlmError)
            ? new LlmError('timeout', `Ollama at ${this.base}${path} did not answer within ${this.options.timeoutMs} ms`, true)
            : err;
        if (!(failure instanceof LlmError) || !failure.retryable || n >= attempts) throw failure;
        await sleep(this.options.backoffMs * 2 ** (n - 1), signal);
      }
    }
  }
}

function parseJson<T>(text: string, fallback: () => T | Error): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    const value = fallback();
    if (value instanceof Error) throw value;
    return value;
  }
}

/** undici's "fetch failed" keeps the reason in its cause. */
function connectionReason(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return (err as Error).message;
}

/**
 * The one HTTP GET the market data providers use: global fetch, a timeout per attempt, bounded
 * retries with jittered exponential backoff on 429, 5xx, timeouts and connection errors (never on
 * another 4xx), and every failure mapped to a MarketDataError whose message names the URL with any
 * `apikey=` value redacted.
 */
import { createHash } from 'node:crypto';
import { packageVersion } from '../package-info.js';
import { sleep } from '../sleep.js';
import { MarketDataError } from './bars.js';
import type { MarketSettings } from './settings.js';

/** The compatible-browser form: Yahoo answers 429 to agents that do not start with Mozilla/5.0. */
export const userAgent = `Mozilla/5.0 (compatible; cesar/${packageVersion})`;

/** The longest wait between two attempts, whatever the backoff or a Retry-After header says. */
export const maxRetryDelayMs = 30_000;

export type HttpSettings = Pick<MarketSettings, 'timeoutMs' | 'maxAttempts' | 'backoffMs'>;

export interface HttpGetOptions {
  /** The provider as messages name it ("Stooq"). */
  provider: string;
  signal?: AbortSignal;
  accept?: string;
  /**
   * Non-2xx statuses handed back with their body instead of failing, for a provider that explains
   * its errors in the body (Yahoo answers 404 with a chart.error JSON).
   */
  passStatuses?: readonly number[];
}

export interface HttpBody {
  status: number;
  /** The body decoded as UTF-8 (a BOM, if any, kept). */
  text: string;
  /** sha256 (hex) of the body bytes as received. */
  sha256: string;
  /** The URL, its apikey redacted: fit for messages and FetchResult.location. */
  location: string;
}

/** A URL (or any text holding one) with every `apikey=` value, in any case, replaced by `***`. */
export function redactUrl(text: string): string {
  return text.replace(/(apikey=)[^&#\s"']*/gi, '$1***');
}

/** Retry-After as milliseconds from now: delta seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  const trimmed = value?.trim();
  if (!trimmed) return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The wait before attempt `failedAttempts + 1`: a Retry-After wins (up to the cap); otherwise
 * backoffMs doubled per failed attempt, with "equal jitter" (half fixed, half random) so that
 * clients failing together do not come back together.
 */
export function retryDelayMs(failedAttempts: number, backoffMs: number, retryAfterMs?: number, random = Math.random): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, maxRetryDelayMs);
  const exponential = Math.min(backoffMs * 2 ** (failedAttempts - 1), maxRetryDelayMs);
  return Math.round(exponential / 2 + random() * (exponential / 2));
}

/** One failed attempt: the error to throw if it is the last, and how long to wait before the next (if any). */
interface AttemptFailure {
  error: MarketDataError;
  retryAfterMs?: number;
}

export async function httpGet(url: string, settings: HttpSettings, options: HttpGetOptions): Promise<HttpBody> {
  const location = redactUrl(url);
  if (!URL.canParse(url)) {
    throw new MarketDataError('not_configured', `${options.provider}: ${location} is not a URL (check CESAR_MARKET_URL)`);
  }
  const attempts = Math.max(1, settings.maxAttempts);
  for (let attempt = 1; ; attempt++) {
    const outcome = await attemptGet(url, location, settings, options);
    if (!('error' in outcome)) return outcome;
    const { error } = outcome;
    if (!error.retryable || attempt >= attempts) {
      if (attempts > 1 && error.retryable) error.message += ` (after ${attempt} attempts)`;
      throw error;
    }
    await waitOrCancel(retryDelayMs(attempt, settings.backoffMs, outcome.retryAfterMs), location, options);
  }
}

async function attemptGet(
  url: string,
  location: string,
  settings: HttpSettings,
  options: HttpGetOptions,
): Promise<HttpBody | AttemptFailure> {
  const timeout = AbortSignal.timeout(settings.timeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  try {
    const response = await fetch(url, {
      signal,
      headers: { 'user-agent': userAgent, accept: options.accept ?? '*/*' },
      redirect: 'follow',
    });
    const bytes = Buffer.from(await response.arrayBuffer());
    if (response.ok || options.passStatuses?.includes(response.status)) {
      return {
        status: response.status,
        text: bytes.toString('utf8'),
        sha256: createHash('sha256').update(bytes).digest('hex'),
        location,
      };
    }
    return statusFailure(response, location, options.provider);
  } catch (err) {
    if (options.signal?.aborted) throw cancelled(location, options);
    if (timeout.aborted) {
      return {
        error: new MarketDataError('timeout', `${options.provider}: no answer within ${settings.timeoutMs} ms from ${location}`, true),
      };
    }
    return { error: connectionError(err, url, options.provider) };
  }
}

function statusFailure(response: Response, location: string, provider: string): AttemptFailure {
  const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
  if (response.status === 429) {
    return {
      error: new MarketDataError('rate_limited', `${provider} refused the request as too many (${status}) for ${location}`, true),
      retryAfterMs,
    };
  }
  const retryable = response.status >= 500;
  return { error: new MarketDataError('http_error', `${provider} answered ${status} for ${location}`, retryable), retryAfterMs };
}

/** fetch's "fetch failed": the reason is in the cause (undici), sometimes an AggregateError of one per address. */
function connectionError(err: unknown, url: string, provider: string): MarketDataError {
  const parsed = new URL(url);
  const where = `${parsed.hostname}:${parsed.port || (parsed.protocol === 'https:' ? '443' : '80')}`;
  const reason = errorCode(err) ?? (err instanceof Error ? err.message : String(err));
  const errorClass = /TIMEOUT/i.test(reason) && !/CONNECT/i.test(reason) ? 'timeout' : 'unreachable';
  return new MarketDataError(errorClass, `${provider} is unreachable at ${where} (${redactUrl(reason)})`, true, { cause: err });
}

function errorCode(err: unknown): string | undefined {
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  const candidates = [cause, ...((cause as { errors?: unknown[] } | undefined)?.errors ?? []), err];
  for (const candidate of candidates) {
    const code = (candidate as { code?: unknown } | undefined)?.code;
    if (typeof code === 'string') return code;
  }
  const message = (cause as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' && message ? message : undefined;
}

/** The caller gave up (a shutdown): still a MarketDataError, as the provider contract says. */
function cancelled(location: string, options: HttpGetOptions): MarketDataError {
  return new MarketDataError('timeout', `${options.provider}: the request for ${location} was cancelled`, true, {
    cause: options.signal?.reason,
  });
}

async function waitOrCancel(ms: number, location: string, options: HttpGetOptions): Promise<void> {
  try {
    await sleep(ms, options.signal);
  } catch {
    throw cancelled(location, options);
  }
}

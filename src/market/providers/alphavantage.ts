/**
 * Alpha Vantage TIME_SERIES_DAILY (JSON):
 *   GET {base}/query?function=TIME_SERIES_DAILY&symbol=AAPL&outputsize=compact|full&apikey=KEY&datatype=json
 * Answer: {"Meta Data": {...}, "Time Series (Daily)": {"2024-01-02": {"1. open": "187.15",
 * "2. high": ..., "3. low": ..., "4. close": ..., "5. volume": "82488674"}, ...}}, newest first,
 * numbers as strings (kept as they are). Unadjusted: adj_close is null.
 * Quirks: errors come with HTTP 200 as a one-key object: {"Error Message"} (bad call, unknown
 * symbol), {"Note"} or {"Information"} (rate limits, premium-only features). The rate-limit
 * message quotes the API key itself, so every provider text is scrubbed of it.
 * An entry whose date or open/high/low/close is not a plain decimal string is skipped.
 */
import { registerSecret } from '../../mask.js';
import { type DailyBar, type FetchDailyOptions, type FetchResult, MarketDataError, type MarketDataProvider } from '../bars.js';
import { httpGet, redactUrl } from '../http.js';
import type { MarketSettings } from '../settings.js';
import { finishBars, isDecimal, isoDay, looksLikeHtml } from './stooq-csv.js';

export const alphaVantageDefaultBase = 'https://www.alphavantage.co';

const seriesKey = 'Time Series (Daily)';

/**
 * `compact` (the latest 100 trading days) unless `from` is further back. 135 calendar days hold
 * at most 97 weekdays, so within that compact surely reaches `from`. `full` is now a premium
 * feature of TIME_SERIES_DAILY (a free key gets an "Information" refusal, reported as api_error
 * naming the premium plan): it is asked for only when compact cannot cover the range.
 */
export function chooseOutputSize(from: string | undefined, today: string): 'compact' | 'full' {
  if (!from) return 'compact';
  const days = (Date.parse(`${today}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000;
  return days > 135 ? 'full' : 'compact';
}

export function alphaVantageUrl(base: string, symbol: string, outputSize: 'compact' | 'full', key: string): string {
  const params = new URLSearchParams({ function: 'TIME_SERIES_DAILY', symbol, outputsize: outputSize, apikey: key, datatype: 'json' });
  return `${base.replace(/\/+$/, '')}/query?${params}`;
}

export function createAlphaVantageProvider(settings: MarketSettings): MarketDataProvider {
  const base = settings.baseUrl ?? alphaVantageDefaultBase;
  const key = settings.alphaVantageKey;
  registerSecret(key);
  return {
    name: 'alphavantage',
    async fetchDaily(symbol: string, options: FetchDailyOptions = {}): Promise<FetchResult> {
      if (!key) {
        throw new MarketDataError(
          'not_configured',
          'Alpha Vantage needs an API key: set ALPHAVANTAGE_API_KEY (a free one: https://www.alphavantage.co/support/#api-key)',
        );
      }
      const upper = symbol.trim().toUpperCase();
      const today = new Date().toISOString().slice(0, 10);
      const url = alphaVantageUrl(base, upper, chooseOutputSize(options.from, today), key);
      const body = await httpGet(url, settings, { provider: 'Alpha Vantage', signal: options.signal, accept: 'application/json' });
      const bars = parseAlphaVantage(body.text, upper, key);
      const range = { from: options.from, to: options.to, origin: 'Alpha Vantage', symbol: upper };
      return { bars: finishBars(bars, range), payload_sha256: body.sha256, location: body.location };
    },
  };
}

/** The bars of a TIME_SERIES_DAILY answer, in payload order; `key` is scrubbed from any message. */
export function parseAlphaVantage(text: string, symbol: string, key = ''): DailyBar[] {
  const json = parseJson(text, symbol);
  refuseNotices(json, symbol, key);
  const series = json[seriesKey];
  if (series === undefined) {
    const keys = Object.keys(json).slice(0, 5).join(', ');
    throw new MarketDataError('bad_format', `Alpha Vantage answered without "${seriesKey}" for ${symbol} (keys: ${keys || 'none'})`);
  }
  if (!isRecord(series)) throw new MarketDataError('bad_format', `Alpha Vantage's "${seriesKey}" for ${symbol} is not an object`);
  const entries = Object.entries(series);
  if (entries.length === 0) throw new MarketDataError('no_data', `Alpha Vantage has an empty series for ${symbol}`);
  const bars = entries.flatMap(([day, values]) => {
    const bar = readEntry(day, values, symbol);
    return bar ? [bar] : [];
  });
  if (bars.length === 0) {
    throw new MarketDataError('bad_format', `Alpha Vantage: none of the ${entries.length} entries for ${symbol} holds a usable bar`);
  }
  return bars;
}

function parseJson(text: string, symbol: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    const what = looksLikeHtml(text) ? 'an HTML page' : 'text that is not JSON';
    throw new MarketDataError('bad_format', `Alpha Vantage answered with ${what} for ${symbol}`);
  }
  if (!isRecord(json)) throw new MarketDataError('bad_format', `Alpha Vantage answered JSON that is not an object for ${symbol}`);
  return json;
}

/** The errors Alpha Vantage sends with HTTP 200. */
function refuseNotices(json: Record<string, unknown>, symbol: string, key: string): void {
  const error = json['Error Message'];
  if (error !== undefined) {
    throw new MarketDataError('api_error', `Alpha Vantage refused the call for ${symbol}: ${providerText(error, key)}`);
  }
  const notice = json.Note ?? json.Information;
  if (notice === undefined) return;
  const text = providerText(notice, key);
  // The daily-limit text also mentions premium plans: the rate-limit words decide first.
  if (/rate limit|call frequency|(requests|calls) per (day|minute|second)|more sparingly/i.test(text)) {
    throw new MarketDataError('rate_limited', `Alpha Vantage rate limit: ${text}`, true);
  }
  if (/premium/i.test(text)) {
    throw new MarketDataError('api_error', `Alpha Vantage needs a premium plan for this (${symbol}): ${text}`);
  }
  throw new MarketDataError('api_error', `Alpha Vantage answered a notice instead of data for ${symbol}: ${text}`);
}

/** A provider's message, on one line, bounded, without the key. */
function providerText(value: unknown, key: string): string {
  let text = (typeof value === 'string' ? value : JSON.stringify(value)).replace(/\s+/g, ' ').trim();
  if (key.length >= 3) text = text.split(key).join('***');
  text = redactUrl(text);
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

function readEntry(day: string, values: unknown, symbol: string): DailyBar | undefined {
  const ts = isoDay(day.trim());
  if (!ts || !isRecord(values)) return undefined;
  const field = (name: string) => {
    const value = values[name];
    return typeof value === 'string' && isDecimal(value.trim()) ? value.trim() : undefined;
  };
  const [open, high, low, close] = [field('1. open'), field('2. high'), field('3. low'), field('4. close')];
  if (open === undefined || high === undefined || low === undefined || close === undefined) return undefined;
  return {
    symbol,
    interval: '1d',
    ts,
    open,
    high,
    low,
    close,
    adj_close: null,
    volume: field('5. volume') ?? null,
    source: 'alphavantage',
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Yahoo Finance chart v8 (JSON, unofficial and undocumented):
 *   GET {base}/v8/finance/chart/{symbol}?period1=UNIX&period2=UNIX&interval=1d&events=history&includeAdjustedClose=true
 * Answer: {"chart": {"result": [{"meta": {"exchangeTimezoneName", "gmtoffset", ...},
 * "timestamp": [...], "indicators": {"quote": [{"open": [...], "high", "low", "close", "volume"}],
 * "adjclose": [{"adjclose": [...]}]}}], "error": null}}.
 * Quirks: the arrays hold nulls (days without trades: such an entry is skipped); a timestamp is a
 * moment of the trading day (often the open), so the day is read in the exchange's time zone;
 * prices are JSON floats (each rendered as its shortest round-trip decimal, never in exponent
 * notation); errors are {"chart": {"result": null, "error": {"code", "description"}}}, often with
 * HTTP 404 ("No data found, symbol may be delisted"), read here like a 200; `timestamp` is absent
 * when the range holds no bar. Yahoo answers 429 to some clients without a browser User-Agent.
 */
import { type DailyBar, type FetchDailyOptions, type FetchResult, MarketDataError, type MarketDataProvider } from '../bars.js';
import { httpGet } from '../http.js';
import type { MarketSettings } from '../settings.js';
import { finishBars, looksLikeHtml } from './stooq-csv.js';

export const yahooDefaultBase = 'https://query1.finance.yahoo.com';

const daySeconds = 86_400;

/**
 * A JSON number as a plain decimal string: String(n) is the shortest round trip but switches to
 * exponent notation below 1e-6 and from 1e21; those are rewritten digit for digit.
 */
export function plainDecimal(n: number): string {
  const shortest = String(n);
  const match = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(shortest);
  if (!match) return shortest;
  const [, sign, first, rest = '', exponentText] = match;
  const digits = `${first}${rest}`;
  const point = 1 + Number(exponentText);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/**
 * period1/period2 a day wider than [from, to] on each side: a bar's moment may fall on the
 * previous UTC day (Sydney's open) or the next; the exact range is kept after reading each day.
 * Without `from`, the whole history (period1=0), as Stooq gives it.
 */
export function yahooUrl(base: string, symbol: string, options: Pick<FetchDailyOptions, 'from' | 'to'>, now = Date.now()): string {
  const seconds = (day: string) => Date.parse(`${day}T00:00:00Z`) / 1000;
  const period1 = options.from ? seconds(options.from) - daySeconds : 0;
  const period2 = options.to ? seconds(options.to) + 2 * daySeconds : Math.floor(now / 1000) + daySeconds;
  const params = new URLSearchParams({
    period1: String(period1),
    period2: String(period2),
    interval: '1d',
    events: 'history',
    includeAdjustedClose: 'true',
  });
  return `${base.replace(/\/+$/, '')}/v8/finance/chart/${encodeURIComponent(symbol)}?${params}`;
}

export function createYahooProvider(settings: MarketSettings): MarketDataProvider {
  const base = settings.baseUrl ?? yahooDefaultBase;
  return {
    name: 'yahoo',
    async fetchDaily(symbol: string, options: FetchDailyOptions = {}): Promise<FetchResult> {
      const upper = symbol.trim().toUpperCase();
      const body = await httpGet(yahooUrl(base, upper, options), settings, {
        provider: 'Yahoo',
        signal: options.signal,
        accept: 'application/json',
        passStatuses: [400, 404],
      });
      const bars = parseYahooChart(body.text, upper, body.status);
      const range = { from: options.from, to: options.to, origin: 'Yahoo', symbol: upper };
      return { bars: finishBars(bars, range), payload_sha256: body.sha256, location: body.location };
    },
  };
}

interface ChartResult {
  meta?: { exchangeTimezoneName?: unknown; gmtoffset?: unknown };
  timestamp?: unknown;
  indicators?: { quote?: Array<Record<string, unknown> | undefined>; adjclose?: Array<{ adjclose?: unknown } | undefined> };
}

/** The bars of a chart answer, in payload order; `status` is the HTTP status it came with. */
export function parseYahooChart(text: string, symbol: string, status = 200): DailyBar[] {
  const chart = readChart(text, symbol, status);
  const result = (Array.isArray(chart.result) ? chart.result[0] : undefined) as ChartResult | undefined;
  if (!result || !Array.isArray(result.timestamp) || result.timestamp.length === 0) {
    throw new MarketDataError('no_data', `Yahoo has no bars for ${symbol} in the range asked`);
  }
  const quote = result.indicators?.quote?.[0];
  if (!quote) throw new MarketDataError('bad_format', `Yahoo's answer for ${symbol} has timestamps but no indicators.quote`);
  const adjclose = result.indicators?.adjclose?.[0]?.adjclose;
  const dayOf = tradingDay(result.meta);
  const bars: DailyBar[] = [];
  result.timestamp.forEach((ts, i) => {
    const [open, high, low, close] = [priceAt(quote.open, i), priceAt(quote.high, i), priceAt(quote.low, i), priceAt(quote.close, i)];
    if (typeof ts !== 'number' || open === null || high === null || low === null || close === null) return;
    const adj = priceAt(adjclose, i);
    const volume = priceAt(quote.volume, i);
    bars.push({ symbol, interval: '1d', ts: dayOf(ts), open, high, low, close, adj_close: adj, volume, source: 'yahoo' });
  });
  if (bars.length === 0) {
    throw new MarketDataError('no_data', `Yahoo has no complete bar for ${symbol} in the range asked (every entry holds a null)`);
  }
  return bars;
}

function readChart(text: string, symbol: string, status: number): { result?: unknown } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    const what = looksLikeHtml(text) ? 'an HTML page' : 'text that is not JSON';
    if (status !== 200) throw new MarketDataError('http_error', `Yahoo answered HTTP ${status} with ${what} for ${symbol}`);
    throw new MarketDataError('bad_format', `Yahoo answered with ${what} for ${symbol}`);
  }
  const chart = (json as { chart?: { result?: unknown; error?: unknown } } | null)?.chart;
  if (typeof chart !== 'object' || chart === null) {
    throw new MarketDataError(
      status === 200 ? 'bad_format' : 'http_error',
      `Yahoo answered HTTP ${status} without a "chart" for ${symbol}`,
    );
  }
  if (chart.error) throw chartError(chart.error, symbol);
  return chart;
}

function chartError(error: unknown, symbol: string): MarketDataError {
  const { code, description } = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown; description?: unknown };
  const text = [code, description].filter((part) => typeof part === 'string' && part).join(': ') || JSON.stringify(error);
  const noData = /no data found|delisted|not found|(doesn't|does not) exist/i.test(text);
  return new MarketDataError(noData ? 'no_data' : 'api_error', `Yahoo: ${text.slice(0, 300)} (${symbol})`);
}

/** The element i of a Yahoo array as a decimal string; null for null, absent or not a finite number. */
function priceAt(values: unknown, i: number): string | null {
  const value = Array.isArray(values) ? values[i] : undefined;
  return typeof value === 'number' && Number.isFinite(value) ? plainDecimal(value) : null;
}

/** Timestamp (seconds) to the exchange's calendar day: by its time zone name, else by gmtoffset, else UTC. */
function tradingDay(meta: ChartResult['meta']): (ts: number) => string {
  const zone = meta?.exchangeTimezoneName;
  if (typeof zone === 'string' && zone) {
    try {
      const format = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' });
      return (ts) => {
        const parts = Object.fromEntries(format.formatToParts(new Date(ts * 1000)).map((p) => [p.type, p.value]));
        return `${parts.year}-${parts.month}-${parts.day}`;
      };
    } catch {
      // An unknown zone name: fall back to the offset.
    }
  }
  const offset = typeof meta?.gmtoffset === 'number' ? meta.gmtoffset : 0;
  return (ts) => new Date((ts + offset) * 1000).toISOString().slice(0, 10);
}

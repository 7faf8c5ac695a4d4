/**
 * Stooq daily CSV: GET {base}/q/d/l/?s={symbol}&i=d[&d1=YYYYMMDD][&d2=YYYYMMDD].
 * Answer: `Date,Open,High,Low,Close,Volume` (no Volume for indices), oldest first; see stooq-csv.ts
 * for the row rules. Quirks: errors come with HTTP 200 as text (`No data`, `Exceeded the daily hits
 * limit`) or as an HTML page; since 2026 Stooq serves an HTML page asking for an API key (or a
 * browser check) to clients without one, which ends here as bad_format saying so.
 */
import type { FetchDailyOptions, FetchResult, MarketDataProvider } from '../bars.js';
import { httpGet } from '../http.js';
import type { MarketSettings } from '../settings.js';
import { finishBars, parseStooqCsv } from './stooq-csv.js';

export const stooqDefaultBase = 'https://stooq.com';

/**
 * Stooq names US listings with a market suffix (AAPL is aapl.us). The suffix is added unless the
 * symbol already has one (it contains a dot: vod.uk, btc.v) or is an index (^spx, ^dji), which
 * Stooq names without one. Stooq's names are lower case.
 */
export function stooqSymbol(symbol: string): string {
  const lower = symbol.trim().toLowerCase();
  return lower.startsWith('^') || lower.includes('.') ? lower : `${lower}.us`;
}

export function stooqUrl(
  base: string,
  symbol: string,
  options: Pick<FetchDailyOptions, 'from' | 'to'> = {},
  apiKey: string | undefined = undefined,
): string {
  const params = new URLSearchParams({ s: stooqSymbol(symbol), i: 'd' });
  if (apiKey) params.set('apikey', apiKey);
  if (options.from) params.set('d1', options.from.replaceAll('-', ''));
  if (options.to) params.set('d2', options.to.replaceAll('-', ''));
  return `${base.replace(/\/+$/, '')}/q/d/l/?${params}`;
}

export function createStooqProvider(settings: MarketSettings): MarketDataProvider {
  const base = settings.baseUrl ?? stooqDefaultBase;
  return {
    name: 'stooq',
    async fetchDaily(symbol: string, options: FetchDailyOptions = {}): Promise<FetchResult> {
      const upper = symbol.trim().toUpperCase();
      const body = await httpGet(stooqUrl(base, upper, options, settings.stooqKey), settings, {
        provider: 'Stooq',
        signal: options.signal,
        accept: 'text/csv, text/plain;q=0.9, */*;q=0.1',
      });
      const bars = parseStooqCsv(body.text, { symbol: upper, source: 'stooq', origin: 'Stooq' });
      const range = { from: options.from, to: options.to, origin: 'Stooq', symbol: upper };
      return { bars: finishBars(bars, range), payload_sha256: body.sha256, location: body.location };
    },
  };
}

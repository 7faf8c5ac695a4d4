/**
 * Stooq's CSV, as its download URL and its bulk files give it, parsed into bars; pure (text in,
 * bars or a MarketDataError out). Two headers are known:
 *   download:  Date,Open,High,Low,Close,Volume           (Volume absent for indices; dates YYYY-MM-DD)
 *   bulk file: <TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>   (dates YYYYMMDD)
 * Row rules: a row whose date or any of open/high/low/close is empty or not a plain decimal is
 * skipped (one bad row does not cost the rest); an empty or unreadable volume is kept as null; a
 * bulk row whose <PER> is not D (daily) is skipped. Rows but none usable: bad_format.
 *
 * Also the helpers every provider shares: the decimal check and sort/dedupe/filter.
 */
import { type DailyBar, MarketDataError, type ProviderName } from '../bars.js';

/** A price or volume as the bars keep it: optional minus, digits, optional fraction. No exponent, no "N/A". */
export function isDecimal(value: string): boolean {
  return /^-?\d+(\.\d+)?$/.test(value);
}

/** YYYY-MM-DD (or YYYYMMDD) of a real calendar day, as YYYY-MM-DD; undefined otherwise. */
export function isoDay(value: string): string | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value) ?? /^(\d{4})(\d{2})(\d{2})$/.exec(value);
  if (!match) return undefined;
  const day = `${match[1]}-${match[2]}-${match[3]}`;
  const parsed = new Date(`${day}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().startsWith(day) ? day : undefined;
}

/**
 * Sorted by ts, one per day (a later entry of the payload wins over an earlier one), within
 * [from, to]; none left is no_data, naming the range.
 */
export function finishBars(bars: DailyBar[], range: { from?: string; to?: string; origin: string; symbol: string }): DailyBar[] {
  const { from, to } = range;
  const byDay = new Map<string, DailyBar>();
  for (const bar of bars) {
    if ((from && bar.ts < from) || (to && bar.ts > to)) continue;
    byDay.set(bar.ts, bar);
  }
  if (byDay.size === 0) {
    const within = from || to ? ` between ${from ?? 'the start'} and ${to ?? 'today'}` : '';
    throw new MarketDataError('no_data', `${range.origin} has no bars for ${range.symbol}${within}`);
  }
  return [...byDay.values()].sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
}

export function looksLikeHtml(text: string): boolean {
  return /^\s*<(!doctype|html|head|body|\?xml|script|div|p)\b/i.test(text) || /<html[\s>]/i.test(text.slice(0, 2000));
}

interface Columns {
  date: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number | undefined;
  period: number | undefined;
}

export interface StooqCsvContext {
  /** The bars' symbol, upper case. */
  symbol: string;
  source: ProviderName;
  /** Names the payload in messages: "Stooq" or a file path. */
  origin: string;
}

export function parseStooqCsv(text: string, context: StooqCsvContext): DailyBar[] {
  const lines = text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n|\r/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const [header, ...rows] = lines;
  if (header === undefined) throw new MarketDataError('no_data', `${context.origin}: empty answer for ${context.symbol}`);
  refuseNonCsv(header, text, context);
  const columns = readHeader(header, context);
  if (rows.length === 0) throw new MarketDataError('no_data', `${context.origin}: no rows for ${context.symbol}`);
  const bars = rows.flatMap((row) => {
    const bar = readRow(
      row.split(',').map((field) => field.trim()),
      columns,
      context,
    );
    return bar ? [bar] : [];
  });
  if (bars.length === 0) {
    throw new MarketDataError('bad_format', `${context.origin}: none of the ${rows.length} rows for ${context.symbol} holds a usable bar`);
  }
  return bars;
}

/** Stooq answers errors with HTTP 200 and a line of text, or an HTML page (a key request, a browser check). */
function refuseNonCsv(firstLine: string, text: string, context: StooqCsvContext): void {
  if (/^no data$/i.test(firstLine)) throw new MarketDataError('no_data', `${context.origin} has no data for ${context.symbol}`);
  if (/exceeded the daily hits limit/i.test(firstLine)) {
    throw new MarketDataError('rate_limited', `${context.origin}: exceeded the daily hits limit`, true);
  }
  if (looksLikeHtml(text)) {
    const why = context.source === 'stooq' ? ' (Stooq does so when it asks for an API key or a browser check)' : '';
    throw new MarketDataError('bad_format', `${context.origin} answered with an HTML page instead of CSV for ${context.symbol}${why}`);
  }
}

function readHeader(header: string, context: StooqCsvContext): Columns {
  const names = header.split(',').map((name) => name.trim().replace(/^<|>$/g, '').toLowerCase());
  const index = (...candidates: string[]) => {
    const found = names.findIndex((name) => candidates.includes(name));
    return found === -1 ? undefined : found;
  };
  const [date, open, high, low, close] = [index('date'), index('open'), index('high'), index('low'), index('close')];
  if (date === undefined || open === undefined || high === undefined || low === undefined || close === undefined) {
    throw new MarketDataError(
      'bad_format',
      `${context.origin}: the header "${header.slice(0, 120)}" lacks one of Date, Open, High, Low, Close (for ${context.symbol})`,
    );
  }
  return { date, open, high, low, close, volume: index('volume', 'vol'), period: index('per') };
}

function readRow(fields: string[], columns: Columns, context: StooqCsvContext): DailyBar | undefined {
  if (columns.period !== undefined && fields[columns.period]?.toUpperCase() !== 'D') return undefined;
  const ts = isoDay(fields[columns.date] ?? '');
  const [open, high, low, close] = [columns.open, columns.high, columns.low, columns.close].map((i) => fields[i] ?? '');
  if (!ts || open === undefined || high === undefined || low === undefined || close === undefined) return undefined;
  if (![open, high, low, close].every(isDecimal)) return undefined;
  const volume = columns.volume === undefined ? undefined : fields[columns.volume];
  return {
    symbol: context.symbol,
    interval: '1d',
    ts,
    open,
    high,
    low,
    close,
    adj_close: null,
    volume: volume !== undefined && isDecimal(volume) ? volume : null,
    source: context.source,
  };
}

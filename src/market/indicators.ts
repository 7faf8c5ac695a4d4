/**
 * Daily indicators of one symbol, computed in float64 from a series ordered oldest first. Each
 * function returns its value at the last point, or null when the series is too short for it.
 * The definitions follow the usual references (Wilder, Appel, Bollinger, StockCharts) and are
 * cross-checked against the trading-signals library in test/market/indicators.test.ts; the one
 * deliberate difference (EMA seeding) is described at emaSeries.
 */
import type { DailyBar } from './bars.js';

export const TRADING_DAYS_PER_YEAR = 252;

export interface HighLowClose {
  high: number;
  low: number;
  close: number;
}

export interface Volatility {
  /** Sample standard deviation of the daily log returns. */
  daily: number;
  /** daily × √(trading days per year), 252 by default. */
  annualized: number;
}

export interface MacdValue {
  macd: number;
  signal: number;
  histogram: number;
}

export interface BollingerBands {
  middle: number;
  upper: number;
  lower: number;
}

function checkPeriod(period: number, name = 'period'): void {
  if (!Number.isInteger(period) || period < 1) throw new RangeError(`${name} must be a positive integer, got ${period}`);
}

function mean(values: readonly number[]): number {
  let sum = 0;
  for (const value of values) sum += value;
  return sum / values.length;
}

/** Divides by n (population), or by n − 1 when `sample`. */
function standardDeviation(values: readonly number[], { sample }: { sample: boolean }): number {
  const average = mean(values);
  let squares = 0;
  for (const value of values) squares += (value - average) ** 2;
  return Math.sqrt(squares / (sample ? values.length - 1 : values.length));
}

/**
 * Wilder's smoothing (RMA/SMMA, α = 1/period): the first average is the plain mean of the first
 * `period` values, then each next value moves it by (value − average) / period.
 */
function wilderAverage(values: readonly number[], period: number): number | null {
  checkPeriod(period);
  if (values.length < period) return null;
  let average = mean(values.slice(0, period));
  for (let i = period; i < values.length; i++) average += (values[i]! - average) / period;
  return average;
}

/** Simple return of the last day: last close / previous close − 1 (0.01 is +1 %). */
export function dayReturn(closes: readonly number[]): number | null {
  if (closes.length < 2) return null;
  const previous = closes[closes.length - 2]!;
  return previous === 0 ? null : closes[closes.length - 1]! / previous - 1;
}

/**
 * Historical volatility: the sample standard deviation (n − 1) of the last `period` daily log
 * returns ln(cᵢ / cᵢ₋₁), so it needs period + 1 closes; annualised by √tradingDaysPerYear. Null
 * when a close in the window is not positive (no log return exists).
 */
export function volatility(closes: readonly number[], period = 20, tradingDaysPerYear = TRADING_DAYS_PER_YEAR): Volatility | null {
  checkPeriod(period);
  if (period < 2) throw new RangeError(`a sample standard deviation needs period >= 2, got ${period}`);
  if (closes.length < period + 1) return null;
  const window = closes.slice(-(period + 1));
  if (window.some((close) => close <= 0)) return null;
  const logReturns = window.slice(1).map((close, i) => Math.log(close / window[i]!));
  const daily = standardDeviation(logReturns, { sample: true });
  return { daily, annualized: daily * Math.sqrt(tradingDaysPerYear) };
}

/** Arithmetic mean of the last `period` values. */
export function sma(values: readonly number[], period: number): number | null {
  checkPeriod(period);
  return values.length < period ? null : mean(values.slice(-period));
}

/**
 * Exponential moving average per point, α = 2 / (period + 1): seeded at index period − 1 with the
 * SMA of the first `period` values (TA-Lib's and StockCharts' convention), then
 * emaᵢ = valueᵢ·α + emaᵢ₋₁·(1 − α); null before the seed.
 * trading-signals instead seeds with the first value and reports from index period − 1; the two
 * differ by (seed difference)·(1 − α)^n after n more points, which is below 1e-9 relative after a
 * few hundred days for the periods used here, but visible on short series.
 */
export function emaSeries(values: readonly number[], period: number): (number | null)[] {
  checkPeriod(period);
  const series: (number | null)[] = new Array<number | null>(values.length).fill(null);
  if (values.length < period) return series;
  const alpha = 2 / (period + 1);
  let current = mean(values.slice(0, period));
  series[period - 1] = current;
  for (let i = period; i < values.length; i++) {
    current = values[i]! * alpha + current * (1 - alpha);
    series[i] = current;
  }
  return series;
}

/** The last point of emaSeries (SMA-seeded EMA). */
export function ema(values: readonly number[], period: number): number | null {
  return emaSeries(values, period).at(-1) ?? null;
}

/**
 * Wilder's RSI: the changes of consecutive closes are split into gains and losses (absolute),
 * each averaged with Wilder's smoothing (seeded with the mean of the first `period` changes, so it
 * needs period + 1 closes); RSI = 100 − 100 / (1 + avgGain / avgLoss). When the average loss is 0
 * it is 100, a flat series included (as trading-signals; some tools report 50 there).
 */
export function rsi(closes: readonly number[], period = 14): number | null {
  checkPeriod(period);
  if (closes.length < period + 1) return null;
  const changes = closes.slice(1).map((close, i) => close - closes[i]!);
  const averageGain = wilderAverage(
    changes.map((change) => Math.max(change, 0)),
    period,
  )!;
  const averageLoss = wilderAverage(
    changes.map((change) => Math.max(-change, 0)),
    period,
  )!;
  if (averageLoss === 0) return 100;
  return 100 - 100 / (1 + averageGain / averageLoss);
}

/**
 * Appel's MACD: macd = EMA(fast) − EMA(slow) of the closes (each SMA-seeded, see emaSeries), from
 * the first day both exist (index slow − 1); signal = EMA(signal) of that macd line, SMA-seeded on
 * its first `signal` values; histogram = macd − signal. Needs slow + signal − 1 closes (34 by
 * default); trading-signals reports from `slow` closes on, with a signal seeded by one macd value.
 */
export function macd(closes: readonly number[], fast = 12, slow = 26, signal = 9): MacdValue | null {
  checkPeriod(fast, 'fast');
  checkPeriod(slow, 'slow');
  checkPeriod(signal, 'signal');
  const fastEma = emaSeries(closes, fast);
  const slowEma = emaSeries(closes, slow);
  const line: number[] = [];
  for (let i = 0; i < closes.length; i++) {
    const fastValue = fastEma[i];
    const slowValue = slowEma[i];
    if (fastValue != null && slowValue != null) line.push(fastValue - slowValue);
  }
  const signalValue = ema(line, signal);
  if (signalValue === null) return null;
  const macdValue = line[line.length - 1]!;
  return { macd: macdValue, signal: signalValue, histogram: macdValue - signalValue };
}

/**
 * Bollinger bands over the last `period` closes: middle = their SMA, upper/lower = middle ± k·σ
 * with σ the population standard deviation (divide by n), as Bollinger defines it and as
 * trading-signals computes it.
 */
export function bollinger(closes: readonly number[], period = 20, k = 2): BollingerBands | null {
  checkPeriod(period);
  if (closes.length < period) return null;
  const window = closes.slice(-period);
  const middle = mean(window);
  const deviation = standardDeviation(window, { sample: false });
  return { middle, upper: middle + k * deviation, lower: middle - k * deviation };
}

/**
 * True range per bar: max(high − low, |high − previous close|, |low − previous close|); the
 * first bar, with no previous close, has high − low.
 */
export function trueRanges(bars: readonly HighLowClose[]): number[] {
  return bars.map((bar, i) => {
    const range = bar.high - bar.low;
    if (i === 0) return range;
    const previousClose = bars[i - 1]!.close;
    return Math.max(range, Math.abs(bar.high - previousClose), Math.abs(bar.low - previousClose));
  });
}

/**
 * Wilder's ATR: Wilder's smoothing of the true ranges, the first ATR being the mean of the first
 * `period` true ranges, the first bar's (high − low) included, so it needs `period` bars (as
 * Wilder's worksheet, StockCharts and trading-signals; TA-Lib skips the first bar).
 */
export function atr(bars: readonly HighLowClose[], period = 14): number | null {
  return wilderAverage(trueRanges(bars), period);
}

export interface IndicatorParameters {
  /** The bar price the close-based indicators read: `close` (as the provider gave it; adj_close is not used). */
  price: 'close';
  volatility_period: number;
  trading_days_per_year: number;
  sma_periods: number[];
  ema_periods: number[];
  rsi_period: number;
  macd: { fast: number; slow: number; signal: number };
  bollinger: { period: number; k: number };
  atr_period: number;
}

export const defaultIndicatorParameters: IndicatorParameters = {
  price: 'close',
  volatility_period: 20,
  trading_days_per_year: TRADING_DAYS_PER_YEAR,
  sma_periods: [20, 50, 200],
  ema_periods: [12, 26],
  rsi_period: 14,
  macd: { fast: 12, slow: 26, signal: 9 },
  bollinger: { period: 20, k: 2 },
  atr_period: 14,
};

export interface SeriesAnalysis {
  /** The last bar's trading day (YYYY-MM-DD); null without bars. */
  as_of: string | null;
  bars_used: number;
  parameters: IndicatorParameters;
  close: number | null;
  day_return: number | null;
  volatility: Volatility | null;
  /** Keyed by period ("20", "50", "200"). */
  sma: Record<string, number | null>;
  /** Keyed by period ("12", "26"). */
  ema: Record<string, number | null>;
  rsi: number | null;
  macd: MacdValue | null;
  bollinger: BollingerBands | null;
  atr: number | null;
}

function parsePrice(value: string, field: string, ts: string): number {
  const price = Number(value);
  if (value.trim() === '' || !Number.isFinite(price)) throw new RangeError(`bar ${ts}: ${field} is not a number: ${JSON.stringify(value)}`);
  return price;
}

function toHighLowClose(bar: DailyBar): HighLowClose {
  return {
    high: parsePrice(bar.high, 'high', bar.ts),
    low: parsePrice(bar.low, 'low', bar.ts),
    close: parsePrice(bar.close, 'close', bar.ts),
  };
}

function byPeriod(periods: readonly number[], compute: (period: number) => number | null): Record<string, number | null> {
  return Object.fromEntries(periods.map((period) => [String(period), compute(period)]));
}

/**
 * The latest value of every indicator over the bars of one symbol (sorted by ts here, whatever
 * their order), with the parameters used so they can be stored beside the values. Throws a
 * RangeError when a price is not a decimal number.
 */
export function analyzeSeries(bars: readonly DailyBar[], parameters: IndicatorParameters = defaultIndicatorParameters): SeriesAnalysis {
  const sorted = [...bars].sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
  const candles = sorted.map(toHighLowClose);
  const closes = candles.map((candle) => candle.close);
  return {
    as_of: sorted.at(-1)?.ts ?? null,
    bars_used: sorted.length,
    parameters,
    close: closes.at(-1) ?? null,
    day_return: dayReturn(closes),
    volatility: volatility(closes, parameters.volatility_period, parameters.trading_days_per_year),
    sma: byPeriod(parameters.sma_periods, (period) => sma(closes, period)),
    ema: byPeriod(parameters.ema_periods, (period) => ema(closes, period)),
    rsi: rsi(closes, parameters.rsi_period),
    macd: macd(closes, parameters.macd.fast, parameters.macd.slow, parameters.macd.signal),
    bollinger: bollinger(closes, parameters.bollinger.period, parameters.bollinger.k),
    atr: atr(candles, parameters.atr_period),
  };
}

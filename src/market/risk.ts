import { TRADING_DAYS_PER_YEAR } from './indicators.js';

/**
 * Risk of the watch list held as an equally weighted portfolio, from daily closes: historical
 * value at risk, volatility and maximum drawdown over the days every symbol has a close, and flags
 * per symbol. Pure: the caller reads the closes and stores the result.
 */

export interface RiskLimits {
  /** VaR confidence, e.g. 0.95. */
  varConfidence: number;
  /** A one-day VaR (as a fraction of the portfolio) above this is a breach. */
  maxVar: number;
  /** A maximum drawdown (fraction) above this is a breach. */
  maxDrawdown: number;
  /** A day move (fraction) of one symbol above this is flagged. */
  maxDailyMove: number;
  /** Annualised volatility (fraction) of one symbol above this is flagged. */
  maxVolatility: number;
}

export const defaultRiskLimits: RiskLimits = {
  varConfidence: 0.95,
  maxVar: 0.03,
  maxDrawdown: 0.08,
  maxDailyMove: 0.05,
  maxVolatility: 0.6,
};

export interface SymbolSignals {
  symbol: string;
  day_return: number | null;
  rsi: number | null;
  volatility_annualized: number | null;
}

export interface RiskFlag {
  /** null for the portfolio as a whole. */
  symbol: string | null;
  kind: 'var_breach' | 'drawdown_breach' | 'large_move' | 'high_volatility' | 'overbought' | 'oversold';
  message: string;
}

export interface PortfolioRisk {
  symbols: string[];
  /** Days with a close for every symbol (the window the figures come from). */
  days: number;
  weights: Record<string, number>;
  var_confidence: number;
  /** One-day historical VaR as a positive fraction of the portfolio; null with fewer than 20 returns. */
  var_1d: number | null;
  volatility_annualized: number | null;
  max_drawdown: number | null;
  flags: RiskFlag[];
}

const percent = (x: number): string => `${(x * 100).toFixed(2)}%`;

/**
 * `closes`: per symbol, its closes by day (YYYY-MM-DD). Returns over the last `window` days that
 * all symbols share; symbols with no closes are left out of the portfolio.
 */
export function assessPortfolio(
  closes: Map<string, Map<string, number>>,
  signals: SymbolSignals[],
  limits: RiskLimits = defaultRiskLimits,
  window = 250,
): PortfolioRisk {
  const symbols = [...closes.keys()].filter((s) => (closes.get(s)?.size ?? 0) > 0).sort();
  const shared = sharedDays(symbols.map((s) => closes.get(s)!)).slice(-(window + 1));
  const weights = Object.fromEntries(symbols.map((s) => [s, 1 / symbols.length]));
  const returns = portfolioReturns(symbols, closes, shared);
  const var1d = returns.length >= 20 ? historicalVar(returns, limits.varConfidence) : null;
  const vol = returns.length >= 2 ? sampleStdDev(returns) * Math.sqrt(TRADING_DAYS_PER_YEAR) : null;
  const drawdown = returns.length >= 1 ? maxDrawdown(returns) : null;
  const flags: RiskFlag[] = [];
  if (var1d !== null && var1d > limits.maxVar) {
    flags.push({
      symbol: null,
      kind: 'var_breach',
      message: `one-day VaR ${percent(var1d)} is above the limit ${percent(limits.maxVar)}`,
    });
  }
  if (drawdown !== null && drawdown > limits.maxDrawdown) {
    flags.push({
      symbol: null,
      kind: 'drawdown_breach',
      message: `maximum drawdown ${percent(drawdown)} is above the limit ${percent(limits.maxDrawdown)}`,
    });
  }
  for (const s of signals) flags.push(...symbolFlags(s, limits));
  return {
    symbols,
    days: shared.length,
    weights,
    var_confidence: limits.varConfidence,
    var_1d: var1d,
    volatility_annualized: vol,
    max_drawdown: drawdown,
    flags,
  };
}

function symbolFlags(s: SymbolSignals, limits: RiskLimits): RiskFlag[] {
  const flags: RiskFlag[] = [];
  if (s.day_return !== null && Math.abs(s.day_return) > limits.maxDailyMove) {
    flags.push({ symbol: s.symbol, kind: 'large_move', message: `${s.symbol} moved ${percent(s.day_return)} on the day` });
  }
  if (s.volatility_annualized !== null && s.volatility_annualized > limits.maxVolatility) {
    flags.push({
      symbol: s.symbol,
      kind: 'high_volatility',
      message: `${s.symbol} annualised volatility ${percent(s.volatility_annualized)} is above ${percent(limits.maxVolatility)}`,
    });
  }
  if (s.rsi !== null && s.rsi > 70)
    flags.push({ symbol: s.symbol, kind: 'overbought', message: `${s.symbol} RSI ${s.rsi.toFixed(1)} > 70` });
  if (s.rsi !== null && s.rsi < 30) flags.push({ symbol: s.symbol, kind: 'oversold', message: `${s.symbol} RSI ${s.rsi.toFixed(1)} < 30` });
  return flags;
}

/** The days present in every series, in order. */
function sharedDays(series: Map<string, number>[]): string[] {
  if (series.length === 0) return [];
  return [...series[0]!.keys()].filter((day) => series.every((s) => s.has(day))).sort();
}

/** Daily returns of the equally weighted portfolio, rebalanced daily: the mean of the symbols' simple returns. */
function portfolioReturns(symbols: string[], closes: Map<string, Map<string, number>>, days: string[]): number[] {
  const returns: number[] = [];
  for (let i = 1; i < days.length; i++) {
    let sum = 0;
    for (const s of symbols) {
      const series = closes.get(s)!;
      sum += series.get(days[i]!)! / series.get(days[i - 1]!)! - 1;
    }
    returns.push(sum / symbols.length);
  }
  return returns;
}

/** The loss not exceeded with the given confidence: minus the (1 − confidence) quantile of returns (nearest rank), at least 0. */
export function historicalVar(returns: readonly number[], confidence: number): number {
  const sorted = [...returns].sort((a, b) => a - b);
  const rank = Math.max(0, Math.ceil((1 - confidence) * sorted.length) - 1);
  return Math.max(0, -sorted[rank]!);
}

/** The largest fall from a peak of the value 1 compounded by these returns, as a positive fraction. */
export function maxDrawdown(returns: readonly number[]): number {
  let value = 1;
  let peak = 1;
  let worst = 0;
  for (const r of returns) {
    value *= 1 + r;
    peak = Math.max(peak, value);
    worst = Math.max(worst, 1 - value / peak);
  }
  return worst;
}

function sampleStdDev(values: readonly number[]): number {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1));
}

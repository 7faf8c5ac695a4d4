import type { Queryable } from '../db/queryable.js';
import type { DailyBar, ProviderName } from './bars.js';
import { barsHash } from './indicator-hash.js';
import { analyzeSeries, type SeriesAnalysis } from './indicators.js';
import { insertAnalysisSql, latestAnalysisSql, recentBarsSql } from './queries.js';

/**
 * Analysis of the stored bars, per symbol: the indicators of src/market/indicators.ts over the
 * newest bars of one source, stored in market_analysis with the hash of exactly those bars, so the
 * same input never makes a second row and every stored figure names its data.
 */

/** Enough for the 200-day SMA and a year of returns for the risk figures. */
export const barsAnalysed = 300;

export interface SymbolAnalysis {
  symbol: string;
  analysed: boolean;
  /** Why not, when not analysed. */
  reason?: string;
  analysis_id?: number;
  /** False when these bars had been analysed before (the stored row is reused). */
  new?: boolean;
  bars_sha256?: string;
  indicators?: SeriesAnalysis;
}

/** The newest `limit` daily bars of a symbol from one source, oldest first. */
export async function recentBars(q: Queryable, symbol: string, source: string, limit = barsAnalysed): Promise<DailyBar[]> {
  const { rows } = await q.query<Omit<DailyBar, 'interval' | 'source' | 'symbol'>>({
    text: recentBarsSql,
    values: [symbol, source, limit],
  });
  return rows.reverse().map((r) => ({ ...r, symbol, interval: '1d', source: source as ProviderName }));
}

export async function analyseSymbol(q: Queryable, symbol: string, source: string, executionId: number | null): Promise<SymbolAnalysis> {
  const bars = await recentBars(q, symbol, source);
  if (bars.length === 0) return { symbol, analysed: false, reason: `no ${source} bars stored for ${symbol}` };
  const indicators = analyzeSeries(bars);
  const hash = barsHash(bars);
  const { parameters, ...values } = indicators;
  const inserted = await q.query<{ id: string }>({
    text: insertAnalysisSql,
    values: [symbol, source, indicators.as_of, bars.length, hash, JSON.stringify(parameters), JSON.stringify(values), executionId],
  });
  const id = inserted.rows[0]
    ? Number(inserted.rows[0].id)
    : Number((await q.query<{ id: string }>({ text: latestAnalysisSql, values: [symbol, source, hash] })).rows[0]!.id);
  return { symbol, analysed: true, analysis_id: id, new: inserted.rows.length > 0, bars_sha256: hash, indicators };
}

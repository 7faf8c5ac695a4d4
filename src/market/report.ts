import type { Queryable } from '../db/queryable.js';
import { reportSql, upsertReportSql } from './queries.js';
import type { PortfolioRisk } from './risk.js';

/**
 * The daily financial report: plain text (Markdown) written from the figures of the day's run, and
 * stored with those figures, one per day.
 */

export interface ReportSymbolLine {
  symbol: string;
  as_of: string | null;
  close: number | null;
  day_return: number | null;
  rsi: number | null;
  sma_20: number | null;
  sma_50: number | null;
  volatility_annualized: number | null;
}

export interface ReportInput {
  date: string;
  source: string;
  ingestion: { received: number; written: number; failed: number; failures: string[] } | null;
  symbols: ReportSymbolLine[];
  notAnalysed: string[];
  risk: PortfolioRisk | null;
}

export interface StoredReport {
  id: number;
  report_date: string;
  summary: Record<string, unknown>;
  body: string;
  execution_id: number | null;
  agent: string | null;
  created_at: string;
  updated_at: string;
}

const fixed = (x: number | null, digits = 2): string => (x === null ? '-' : x.toFixed(digits));
const pct = (x: number | null): string => (x === null ? '-' : `${(x * 100).toFixed(2)}%`);

export function composeReport(input: ReportInput): string {
  const lines = [`# Daily financial report, ${input.date}`, '', `Market data: ${input.source}.`];
  if (input.ingestion) {
    const i = input.ingestion;
    lines.push(`Fetched ${i.received} bars (${i.written} new or changed); ${i.failed} symbol(s) got no data.`);
    for (const f of i.failures) lines.push(`- ${f}`);
  } else lines.push('No market data was fetched in this run.');
  lines.push('', '| Symbol | As of | Close | Day | RSI 14 | SMA 20 | SMA 50 | Volatility (ann.) |', '|---|---|---|---|---|---|---|---|');
  for (const s of input.symbols) {
    lines.push(
      `| ${s.symbol} | ${s.as_of ?? '-'} | ${fixed(s.close)} | ${pct(s.day_return)} | ${fixed(s.rsi, 1)} | ${fixed(s.sma_20)} | ${fixed(s.sma_50)} | ${pct(s.volatility_annualized)} |`,
    );
  }
  if (input.notAnalysed.length > 0) lines.push('', `Not analysed: ${input.notAnalysed.join('; ')}.`);
  lines.push('', '## Risk');
  const r = input.risk;
  if (!r || r.symbols.length === 0) lines.push('No risk figures: no symbol has stored prices.');
  else {
    lines.push(
      `Equally weighted portfolio of ${r.symbols.join(', ')} over ${r.days} shared days:`,
      `one-day VaR (${Math.round(r.var_confidence * 100)}%) ${pct(r.var_1d)}, annualised volatility ${pct(r.volatility_annualized)}, maximum drawdown ${pct(r.max_drawdown)}.`,
    );
    if (r.flags.length === 0) lines.push('No flags.');
    for (const f of r.flags) lines.push(`- ${f.kind}: ${f.message}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function storeReport(
  q: Queryable,
  input: ReportInput,
  body: string,
  executionId: number | null,
  agentId: number | null,
): Promise<number> {
  const { rows } = await q.query<{ id: string }>({
    text: upsertReportSql,
    values: [input.date, JSON.stringify(input), body, executionId, agentId],
  });
  return Number(rows[0]!.id);
}

/** The report of that day (YYYY-MM-DD), or the newest; undefined when there is none. */
export async function readReport(q: Queryable, date?: string): Promise<StoredReport | undefined> {
  const { rows } = await q.query<Omit<StoredReport, 'created_at' | 'updated_at'> & { created_at: Date; updated_at: Date }>({
    text: reportSql,
    values: [date ?? null],
  });
  const row = rows[0];
  if (!row) return undefined;
  return {
    ...row,
    id: Number(row.id),
    execution_id: row.execution_id === null ? null : Number(row.execution_id),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

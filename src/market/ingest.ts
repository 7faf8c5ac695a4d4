import { performance } from 'node:perf_hooks';
import type { Queryable } from '../db/queryable.js';
import { type ConnectionPool, withClientTransaction } from '../db/transaction.js';
import { logIngestionAttempt } from '../ingestion/log.js';
import { recordSystemRun } from '../sync/system-status.js';
import { type DailyBar, type ErrorClass, type FetchDailyOptions, MarketDataError, type MarketDataProvider } from './bars.js';
import { upsertBarsSql } from './queries.js';

/**
 * Ingestion of daily bars into financial_data: fetch each symbol from the provider, upsert its bars
 * and log the attempt in one transaction (the log never says more or less than what was stored).
 * A symbol that fails is logged with its error class and does not stop the others.
 */

export type Pool = ConnectionPool & Queryable;

export interface SymbolOutcome {
  symbol: string;
  source: string;
  ok: boolean;
  /** Bars the provider answered with. */
  received: number;
  /** Of those, rows inserted or changed (0 when the same data was ingested before). */
  written: number;
  first_day: string | null;
  last_day: string | null;
  error_class: ErrorClass | null;
  error: string | null;
  ingestion_log_id: number;
}

export interface IngestOptions extends FetchDailyOptions {
  /** The job that runs the ingestion, for the log. */
  jobId?: number;
  /** Symbols fetched at once (the providers rate-limit). */
  concurrency?: number;
}

export interface IngestRun {
  symbols: SymbolOutcome[];
  received: number;
  written: number;
  failed: number;
}

/** Symbols as the operator writes them: trimmed, upper case, each once, in the order given. */
export function normaliseSymbols(symbols: readonly string[]): string[] {
  return [...new Set(symbols.map((s) => s.trim().toUpperCase()).filter((s) => s !== ''))];
}

/** A symbol as a provider can be asked for it: letters, digits and . - ^ = only, at most 32. */
export function isValidSymbol(symbol: string): boolean {
  return /^[A-Z0-9^][A-Z0-9.\-^=]{0,31}$/.test(symbol);
}

export async function ingestSymbols(
  pool: Pool,
  provider: MarketDataProvider,
  symbols: string[],
  options: IngestOptions = {},
): Promise<IngestRun> {
  const started = performance.now();
  const outcomes: SymbolOutcome[] = new Array(symbols.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < symbols.length) {
      const index = next++;
      outcomes[index] = await ingestSymbol(pool, provider, symbols[index]!, options);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 2, symbols.length) }, worker));
  const run: IngestRun = {
    symbols: outcomes,
    received: outcomes.reduce((n, o) => n + o.received, 0),
    written: outcomes.reduce((n, o) => n + o.written, 0),
    failed: outcomes.filter((o) => !o.ok).length,
  };
  await recordFinancialApi(pool, run, performance.now() - started);
  return run;
}

async function ingestSymbol(pool: Pool, provider: MarketDataProvider, symbol: string, options: IngestOptions): Promise<SymbolOutcome> {
  const started = performance.now();
  const base = { symbol, source: provider.name, received: 0, written: 0, first_day: null, last_day: null };
  let fetched: Awaited<ReturnType<MarketDataProvider['fetchDaily']>>;
  try {
    fetched = await provider.fetchDaily(symbol, options);
  } catch (err) {
    const failure =
      err instanceof MarketDataError
        ? err
        : new MarketDataError('bad_format', `unexpected failure: ${(err as Error).message}`, false, { cause: err });
    options.signal?.throwIfAborted();
    const id = await logIngestionAttempt(pool, {
      ...attempt(provider.name, symbol, options.jobId, started),
      rows: 0,
      error: failure.message,
      errorClass: failure.errorClass,
    });
    return { ...base, ok: false, error_class: failure.errorClass, error: failure.message, ingestion_log_id: id };
  }
  const { bars } = fetched;
  return withClientTransaction(pool, async (q) => {
    const written = (await q.query<{ written: number }>({ text: upsertBarsSql, values: [JSON.stringify(bars.map(asRow))] })).rows[0]!
      .written;
    const id = await logIngestionAttempt(q, {
      ...attempt(provider.name, symbol, options.jobId, started),
      rows: written,
      payloadSha256: fetched.payload_sha256,
    });
    return {
      ...base,
      ok: true,
      received: bars.length,
      written,
      first_day: bars[0]?.ts ?? null,
      last_day: bars.at(-1)?.ts ?? null,
      error_class: null,
      error: null,
      ingestion_log_id: id,
    };
  });
}

function attempt(source: string, symbol: string, jobId: number | undefined, started: number) {
  return { source, targetTable: 'financial_data', subject: symbol, jobId, elapsedMs: performance.now() - started };
}

function asRow(bar: DailyBar) {
  return {
    symbol: bar.symbol,
    bar_interval: bar.interval,
    ts: bar.ts,
    source: bar.source,
    open: bar.open,
    high: bar.high,
    low: bar.low,
    close: bar.close,
    adj_close: bar.adj_close,
    volume: bar.volume,
  };
}

/** sync_status of financial_api: ok when a symbol got data, error (with the failures) when none did. */
async function recordFinancialApi(pool: Pool, run: IngestRun, elapsedMs: number): Promise<void> {
  await recordSystemRun(pool, 'financial_api', {
    ok: run.failed < run.symbols.length,
    failures: run.symbols.filter((s) => !s.ok).map((s) => `${s.symbol}: ${s.error}`),
    result: { symbols: run.symbols.length, received: run.received, written: run.written, failed: run.failed },
    elapsedMs,
  });
}

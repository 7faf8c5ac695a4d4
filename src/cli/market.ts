import { InputError, NotFoundError } from '../errors.js';
import { recentBars } from '../market/analysis.js';
import { ingestSymbols, isValidSymbol, normaliseSymbols } from '../market/ingest.js';
import { createProvider } from '../market/providers/index.js';
import { newestAnalysisSql } from '../market/queries.js';
import { readReport } from '../market/report.js';
import { listIngestFailures, listIngestSources } from '../read-model/index.js';
import { type CliContext, withDatabase } from './context.js';
import { dim, printJson, renderTable } from './output.js';

export interface MarketFetchOptions {
  from?: string;
  to?: string;
  json?: boolean;
}

/** YYYY-MM-DD of a day that exists, or the operator line saying what is expected (exit 65). */
function checkDay(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const date = day ? new Date(Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3]))) : undefined;
  if (!date || date.toISOString().slice(0, 10) !== value) {
    throw new InputError(`${flag} must be a day like 2026-01-31; got "${value.slice(0, 40)}"`, undefined, flag);
  }
  return value;
}

/**
 * `cesar market fetch SYMBOL...`: fetch daily bars from the configured provider into financial_data.
 * Exit 1 with one line per symbol that got no data (each is in the ingestion log).
 */
export async function runMarketFetch(ctx: CliContext, given: string[], options: MarketFetchOptions): Promise<number> {
  const symbols = normaliseSymbols(given);
  const bad = symbols.filter((s) => !isValidSymbol(s));
  if (bad.length > 0 || symbols.length === 0) {
    throw new InputError(
      `not a symbol: ${bad.map((s) => JSON.stringify(s.slice(0, 40))).join(', ') || '(none given)'}`,
      'symbols are letters, digits and . - ^ =, like AAPL, BRK-B, ^GSPC or VOD.L',
    );
  }
  const from = checkDay(options.from, '--from');
  const to = checkDay(options.to, '--to');
  if (from && to && from > to) throw new InputError(`--from (${from}) is after --to (${to})`);
  const provider = createProvider(ctx.config.market);
  return withDatabase(ctx, async (handle) => {
    const run = await ingestSymbols(handle.pool, provider, symbols, { from, to });
    if (options.json) printJson(ctx.out, { provider: provider.name, ...run });
    else {
      ctx.out(`Market data from ${provider.name}:`);
      ctx.out(
        renderTable(
          ['Symbol', 'Bars', 'New or changed', 'First day', 'Last day'],
          run.symbols.filter((s) => s.ok).map((s) => [s.symbol, s.received, s.written, s.first_day ?? '-', s.last_day ?? '-']),
        ),
      );
      if (run.failed === 0) ctx.out(dim('Every attempt is in the ingestion log (cesar ingest status).'));
    }
    for (const s of run.symbols.filter((x) => !x.ok)) process.stderr.write(`${s.symbol}: ${s.error_class}: ${s.error}\n`);
    return run.failed > 0 ? 1 : 0;
  });
}

/** `cesar ingest status`: per source, attempts and failures of the last 24 hours, and the newest failures. */
export async function runIngestStatus(ctx: CliContext, options: { json?: boolean }): Promise<number> {
  return withDatabase(ctx, async (handle) => {
    const db = await handle.kysely();
    const sources = await listIngestSources(db);
    const failures = await listIngestFailures(db);
    if (options.json) {
      printJson(ctx.out, { provider: ctx.config.market.provider, maildir: ctx.config.email.maildir ?? null, sources, failures });
      return 0;
    }
    ctx.out(`Market data provider: ${ctx.config.market.provider}`);
    ctx.out(`Maildir (email_ingest): ${ctx.config.email.maildir ?? 'not configured (CESAR_MAILDIR)'}`);
    if (sources.length === 0) ctx.out(dim('No ingestion has run yet: try `cesar market fetch AAPL` or `cesar ingest email`.'));
    else
      ctx.out(
        renderTable(
          ['Source', 'Attempts 24 h', 'Failed 24 h', 'Rows 24 h', 'Last attempt', 'Last success', 'Last failure'],
          sources.map((s) => [
            s.source,
            s.attempts_24h,
            s.failed_24h,
            s.rows_24h,
            s.last_attempt_at ?? '-',
            s.last_success_at ?? '-',
            s.last_failure_at ?? '-',
          ]),
        ),
      );
    if (failures.length > 0) {
      ctx.out('Newest failures:');
      ctx.out(
        renderTable(
          ['When', 'Source', 'Subject', 'Class', 'Error'],
          failures.map((f) => [f.started_at, f.source, f.subject ?? '-', f.error_class ?? '-', (f.error ?? '').slice(0, 100)]),
        ),
      );
    }
    return 0;
  });
}

/** `cesar market show SYMBOL`: the newest bars stored from the configured provider, and the newest analysis. */
export async function runMarketShow(ctx: CliContext, given: string, options: { json?: boolean; days?: number }): Promise<number> {
  const [symbol] = normaliseSymbols([given]);
  if (!symbol || !isValidSymbol(symbol)) throw new InputError(`not a symbol: ${JSON.stringify(given.slice(0, 40))}`);
  const source = ctx.config.market.provider;
  return withDatabase(ctx, async (handle) => {
    const bars = await recentBars(handle.pool, symbol, source, options.days ?? 10);
    const analysis = (await handle.pool.query({ text: newestAnalysisSql, values: [symbol] })).rows[0] ?? null;
    if (bars.length === 0 && !analysis) {
      throw new NotFoundError(`no ${source} bars and no analysis stored for ${symbol}`, `run \`cesar market fetch ${symbol}\``);
    }
    if (options.json) {
      printJson(ctx.out, { symbol, source, bars: bars.map(({ symbol: _s, source: _src, ...b }) => b), analysis });
      return 0;
    }
    ctx.out(`${symbol} (${source}), newest ${bars.length} bars:`);
    ctx.out(
      renderTable(
        ['Day', 'Open', 'High', 'Low', 'Close', 'Volume'],
        bars.map((b) => [b.ts, b.open, b.high, b.low, b.close, b.volume ?? '-']),
      ),
    );
    if (!analysis) ctx.out(dim('No analysis yet: the daily_financial_analysis workflow computes it.'));
    else {
      const i = analysis.indicators as Record<string, unknown>;
      ctx.out(
        `Analysis as of ${analysis.as_of} (${analysis.bars_used} bars of ${analysis.source}, bars sha256 ${String(analysis.bars_sha256).slice(0, 12)}…):`,
      );
      ctx.out(
        renderTable(
          ['Indicator', 'Value'],
          Object.entries(i).map(([k, v]) => [k, typeof v === 'number' ? Number(v.toFixed(6)) : JSON.stringify(v)]),
        ),
      );
    }
    return 0;
  });
}

/** `cesar market report [DATE]`: the daily report of that day, or the newest. */
export async function runMarketReport(ctx: CliContext, date: string | undefined, options: { json?: boolean }): Promise<number> {
  const day = checkDay(date, 'DATE');
  return withDatabase(ctx, async (handle) => {
    const report = await readReport(handle.pool, day);
    if (!report) {
      throw new NotFoundError(
        day ? `no daily report for ${day}` : 'no daily report yet',
        'the daily_financial_analysis workflow writes one (cesar workflows run daily_financial_analysis)',
      );
    }
    if (options.json) printJson(ctx.out, report);
    else ctx.out(report.body.trimEnd());
    return 0;
  });
}

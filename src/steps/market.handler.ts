import type { Queryable } from '../db/queryable.js';
import type { ConnectionPool } from '../db/transaction.js';
import { cachedAsk } from '../llm/cache.js';
import { ollamaClient } from '../llm/client.js';
import { agentModel, type LlmSettings } from '../llm/settings.js';
import { analyseSymbol, barsAnalysed, recentBars, type SymbolAnalysis } from '../market/analysis.js';
import { type IngestRun, ingestSymbols, isValidSymbol, normaliseSymbols } from '../market/ingest.js';
import { createProvider } from '../market/providers/index.js';
import { composeReport, type ReportInput, type ReportSymbolLine, storeReport } from '../market/report.js';
import { assessPortfolio, defaultRiskLimits, type PortfolioRisk, type RiskLimits } from '../market/risk.js';
import type { MarketSettings } from '../market/settings.js';
import type { StepContext } from '../workflows/step-handlers.js';
import type { MarketStepConfig, MarketStepKind } from './market.js';

/** The watch list when the template's config names none. */
export const defaultWatchList = ['AAPL', 'MSFT', 'GOOGL', 'AMZN', 'SPY', 'QQQ'];

/** Days fetched for a symbol with no bars yet: enough for the 200-day SMA and a year of risk figures. */
const firstFetchDays = 450;
/** Days fetched again for a symbol that has bars: late corrections by the provider are picked up. */
const refetchDays = 7;

type Context = StepContext<MarketStepConfig>;

export async function runMarketStep(ctx: Context, kind: MarketStepKind, settings: MarketSettings, llm: LlmSettings): Promise<unknown> {
  switch (kind) {
    case 'fetch':
      return fetchStep(ctx, settings);
    case 'analyze':
      return analyzeStep(ctx, settings);
    case 'risk':
      return riskStep(ctx, settings);
    case 'report':
      return reportStep(ctx, settings, llm);
  }
}

/** The template's config.symbols, checked; the default list when it names none. */
async function watchList(ctx: Context): Promise<string[]> {
  const { rows } = await ctx.pool.query<{ symbols: unknown }>({
    text: `SELECT config->'symbols' AS symbols FROM workflow_templates WHERE name = $1`,
    values: [ctx.template],
  });
  const configured = rows[0]?.symbols;
  if (configured === null || configured === undefined) return defaultWatchList;
  if (!Array.isArray(configured) || !configured.every((s) => typeof s === 'string')) {
    throw new Error(`the ${ctx.template} template's config.symbols must be a list of symbols, like ["AAPL", "MSFT"]`);
  }
  const symbols = normaliseSymbols(configured);
  const bad = symbols.filter((s) => !isValidSymbol(s));
  if (bad.length > 0) throw new Error(`the ${ctx.template} template's config.symbols holds what is not a symbol: ${bad.join(', ')}`);
  return symbols.length > 0 ? symbols : defaultWatchList;
}

async function fetchStep(ctx: Context, settings: MarketSettings): Promise<unknown> {
  const symbols = await watchList(ctx);
  const pool = ctx.pool as unknown as ConnectionPool & Queryable;
  const from = await fetchFrom(ctx.pool, symbols, settings.provider);
  const run = await ingestSymbols(pool, createProvider(settings), symbols, { from, signal: ctx.signal });
  const failures = run.symbols.filter((s) => !s.ok);
  if (failures.length === run.symbols.length) {
    if (failures.every((f) => f.error_class === 'not_configured')) return ctx.skip(failures[0]!.error ?? 'market data is not configured');
    throw new Error(`no market data for any symbol from ${settings.provider}: ${describeFailures(failures)}`);
  }
  return summariseRun(settings.provider, from, run);
}

/** The failures, the symbols that failed the same way together: "AAPL, MSFT: Yahoo is unreachable at ...". */
function describeFailures(failures: ReadonlyArray<{ symbol: string; error?: string | null }>): string {
  const symbolsByError = new Map<string, string[]>();
  for (const f of failures) {
    const error = f.error ?? 'failed';
    symbolsByError.set(error, [...(symbolsByError.get(error) ?? []), f.symbol]);
  }
  return [...symbolsByError].map(([error, symbols]) => `${symbols.join(', ')}: ${error}`).join('; ');
}

/** From a week before the oldest of the symbols' newest bars, or 450 days back when one has none. */
async function fetchFrom(q: Queryable, symbols: string[], source: string): Promise<string> {
  const { rows } = await q.query<{ from: string }>({
    text: `SELECT (CASE WHEN count(DISTINCT symbol) < $3 THEN current_date - $4::int
                        ELSE min(newest) - $5::int END)::text AS from
             FROM (SELECT symbol, max((observed_at AT TIME ZONE 'UTC')::date) AS newest
                     FROM financial_data WHERE symbol = ANY($1::text[]) AND source = $2 AND bar_interval = '1d'
                    GROUP BY symbol) s`,
    values: [symbols, source, symbols.length, firstFetchDays, refetchDays],
  });
  return rows[0]!.from;
}

function summariseRun(provider: string, from: string, run: IngestRun) {
  return {
    provider,
    from,
    received: run.received,
    written: run.written,
    failed: run.failed,
    symbols: run.symbols.map((s) => ({
      symbol: s.symbol,
      ok: s.ok,
      received: s.received,
      written: s.written,
      last_day: s.last_day,
      ...(s.ok ? {} : { error_class: s.error_class, error: s.error }),
    })),
  };
}

async function analyzeStep(ctx: Context, settings: MarketSettings): Promise<unknown> {
  const symbols = await watchList(ctx);
  const results: SymbolAnalysis[] = [];
  for (const symbol of symbols) {
    ctx.signal.throwIfAborted();
    results.push(await analyseSymbol(ctx.pool, symbol, settings.provider, ctx.executionId));
  }
  const analysed = results.filter((r) => r.analysed);
  if (analysed.length === 0) return ctx.skip(`no ${settings.provider} bars are stored for ${symbols.join(', ')}: nothing to analyse`);
  return {
    source: settings.provider,
    analysed: analysed.length,
    symbols: analysed.map((r) => ({ analysis_id: r.analysis_id, new: r.new, ...reportLine(r) })),
    not_analysed: results.filter((r) => !r.analysed).map((r) => r.reason),
  };
}

function reportLine(r: SymbolAnalysis): ReportSymbolLine {
  const i = r.indicators!;
  return {
    symbol: r.symbol,
    as_of: i.as_of,
    close: i.close,
    day_return: i.day_return,
    rsi: i.rsi,
    sma_20: i.sma['20'] ?? null,
    sma_50: i.sma['50'] ?? null,
    volatility_annualized: i.volatility?.annualized ?? null,
  };
}

interface AnalyzeOutput {
  source: string;
  symbols: ReportSymbolLine[];
  not_analysed: string[];
}

function analyzeOutput(ctx: Context): AnalyzeOutput | undefined {
  const output = ctx.outputs.analyze_portfolio as AnalyzeOutput | null | undefined;
  return output && Array.isArray(output.symbols) ? output : undefined;
}

async function riskStep(ctx: Context, settings: MarketSettings): Promise<unknown> {
  const analysis = analyzeOutput(ctx);
  if (!analysis) return ctx.skip('analyze_portfolio analysed no symbol: no risk to assess');
  const closes = new Map<string, Map<string, number>>();
  for (const s of analysis.symbols) {
    const bars = await recentBars(ctx.pool, s.symbol, settings.provider, barsAnalysed);
    closes.set(s.symbol, new Map(bars.map((b) => [b.ts, Number(b.close)])));
  }
  const limits = riskLimits(ctx.agent.config);
  return assessPortfolio(
    closes,
    analysis.symbols.map((s) => ({
      symbol: s.symbol,
      day_return: s.day_return,
      rsi: s.rsi,
      volatility_annualized: s.volatility_annualized,
    })),
    limits,
  );
}

/** The risk agent's config may set var_confidence, max_var_pct, max_drawdown_pct, max_daily_move_pct, max_volatility_pct. */
function riskLimits(config: Record<string, unknown>): RiskLimits {
  const fraction = (key: string, fallback: number, scale = 100): number => {
    const value = config[key];
    return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value / scale : fallback;
  };
  return {
    varConfidence: fraction('var_confidence', defaultRiskLimits.varConfidence, 1),
    maxVar: fraction('max_var_pct', defaultRiskLimits.maxVar),
    maxDrawdown: fraction('max_drawdown_pct', defaultRiskLimits.maxDrawdown),
    maxDailyMove: fraction('max_daily_move_pct', defaultRiskLimits.maxDailyMove),
    maxVolatility: fraction('max_volatility_pct', defaultRiskLimits.maxVolatility),
  };
}

async function reportStep(ctx: Context, settings: MarketSettings, llm: LlmSettings): Promise<unknown> {
  const fetched = ctx.outputs.fetch_market_data as ReturnType<typeof summariseRun> | null | undefined;
  const analysis = analyzeOutput(ctx);
  if (!analysis) return ctx.skip('analyze_portfolio analysed no symbol: no report to write');
  const risk = (ctx.outputs.assess_risk as PortfolioRisk | null | undefined) ?? null;
  const { rows } = await ctx.pool.query<{ today: string }>({ text: `SELECT current_date::text AS today` });
  const input: ReportInput = {
    date: rows[0]!.today,
    source: settings.provider,
    ingestion: fetched
      ? {
          received: fetched.received,
          written: fetched.written,
          failed: fetched.failed,
          failures: fetched.symbols.filter((s) => !s.ok).map((s) => `${s.symbol}: ${s.error}`),
        }
      : null,
    symbols: analysis.symbols,
    notAnalysed: analysis.not_analysed,
    risk: risk && Array.isArray(risk.symbols) ? risk : null,
  };
  const figures = composeReport(input);
  const summary = await modelSummary(ctx, llm, figures, input.date);
  const body = summary.text ? `${figures}\n## Summary (${summary.model})\n\n${summary.text.trim()}\n` : figures;
  const id = await storeReport(ctx.pool, input, body, ctx.executionId, ctx.agent.id);
  return {
    report_id: id,
    report_date: input.date,
    symbols: input.symbols.length,
    flags: input.risk?.flags.length ?? 0,
    failures: input.ingestion?.failed ?? 0,
    summary: summary.text ? { model: summary.model, cache: summary.cache } : { skipped: summary.skipped },
  };
}

/**
 * The report agent's model writes a short summary of the figures, through the LLM cache. Seeded with
 * the report's day, so the same figures on the same day get the same (cached) answer. Optional: when
 * Ollama cannot answer, the report is the figures alone and says why in the step's output.
 */
async function modelSummary(
  ctx: Context,
  llm: LlmSettings,
  figures: string,
  date: string,
): Promise<{ text?: string; model: string; cache?: string; skipped?: string }> {
  const config = ctx.agent.config;
  const model = agentModel(config);
  const options: Record<string, unknown> = { seed: Number(date.replaceAll('-', '')) };
  if (typeof config.temperature === 'number') options.temperature = config.temperature;
  if (typeof config.max_tokens === 'number') options.num_predict = config.max_tokens;
  const client = ollamaClient(llm);
  try {
    const answered = await cachedAsk(
      ctx.pool,
      client,
      {
        endpoint: 'generate',
        request: {
          model,
          system: `You are ${ctx.agent.name}. Write plain, factual prose; invent nothing that is not in the figures.`,
          prompt: `Summarise this daily financial report in at most three sentences for a portfolio manager:\n\n${figures}`,
          options,
        },
      },
      { ttlMs: llm.cacheTtlMs, allowStale: true, signal: ctx.signal },
    );
    return { text: (answered.answer as { response: string }).response, model, cache: answered.cache };
  } catch (err) {
    ctx.signal.throwIfAborted();
    ctx.log.warn(`write_report: no model summary: ${(err as Error).message}`);
    return { model, skipped: (err as Error).message };
  }
}

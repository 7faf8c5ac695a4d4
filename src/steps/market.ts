import * as v from 'valibot';
import type { LlmSettings } from '../llm/settings.js';
import type { MarketSettings } from '../market/settings.js';
import { defineStepHandler, type StepContext } from '../workflows/step-handlers.js';

const config = v.strictObject({});

export type MarketStepConfig = v.InferOutput<typeof config>;

/** Which of daily_financial_analysis's steps a handler runs. */
export type MarketStepKind = 'fetch' | 'analyze' | 'risk' | 'report';

/**
 * daily_financial_analysis's steps: fetch the watch list's bars (CESAR_MARKET_PROVIDER), compute the
 * indicators per symbol, assess the portfolio's risk, and write the daily report. The watch list is
 * the template's config.symbols. The settings are the worker's, bound when it builds its handlers.
 */
function marketStep(name: string, description: string, kind: MarketStepKind, settings: MarketSettings, llm: LlmSettings) {
  return defineStepHandler({
    name,
    description,
    config,
    handler: async () => {
      const { runMarketStep } = await import('./market.handler.js');
      return { default: (ctx: StepContext<MarketStepConfig>) => runMarketStep(ctx, kind, settings, llm) };
    },
  });
}

export function marketSteps(settings: MarketSettings, llm: LlmSettings) {
  return [
    marketStep(
      'fetch_market_data',
      'fetches the watch list’s daily bars into financial_data (CESAR_MARKET_PROVIDER)',
      'fetch',
      settings,
      llm,
    ),
    marketStep(
      'analyze_portfolio',
      'computes returns, volatility, SMA/EMA, RSI, MACD, Bollinger bands and ATR per symbol',
      'analyze',
      settings,
      llm,
    ),
    marketStep('assess_risk', 'computes the portfolio’s VaR, volatility and drawdown, and flags limit breaches', 'risk', settings, llm),
    marketStep(
      'write_report',
      'writes the daily financial report (cesar market report), with a model’s summary through the LLM cache when Ollama answers',
      'report',
      settings,
      llm,
    ),
  ] as const;
}

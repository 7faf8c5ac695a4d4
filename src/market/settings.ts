import type { ProviderName } from './bars.js';

/** The market data settings, from the environment (see config.ts). */
export interface MarketSettings {
  /** CESAR_MARKET_PROVIDER. */
  provider: ProviderName;
  /** CESAR_MARKET_URL: the provider's base URL, for a mirror, a proxy or a local server. */
  baseUrl: string | undefined;
  /** CESAR_MARKET_DIR: the folder `csvdir` reads. */
  dir: string | undefined;
  /** STOOQ_API_KEY: Stooq asks for one since 2026; sent as apikey=, never printed. */
  stooqKey: string | undefined;
  /** ALPHAVANTAGE_API_KEY: never printed. */
  alphaVantageKey: string | undefined;
  /** Per HTTP request. */
  timeoutMs: number;
  /** Attempts per symbol on 429, 5xx, timeouts and refused connections (none on other 4xx). */
  maxAttempts: number;
  /** First backoff; doubled each retry, with jitter, capped at 30 s; a Retry-After header wins when shorter than the cap. */
  backoffMs: number;
}

export const defaultMarketSettings: MarketSettings = {
  provider: 'yahoo',
  baseUrl: undefined,
  dir: undefined,
  stooqKey: undefined,
  alphaVantageKey: undefined,
  timeoutMs: 15_000,
  maxAttempts: 3,
  backoffMs: 1_000,
};

/**
 * Market data: the canonical daily bar every provider parses its wire format into, and the errors
 * a fetch ends with. Prices and volumes are decimal strings exactly as the payload gave them
 * (never rounded through a float), so storing a bar twice stores the same numbers.
 */

export const providerNames = ['stooq', 'alphavantage', 'yahoo', 'csvdir'] as const;
export type ProviderName = (typeof providerNames)[number];

export interface DailyBar {
  /** As the caller asked for it, upper case (AAPL, SPY, ^GSPC). */
  symbol: string;
  interval: '1d';
  /** The trading day, YYYY-MM-DD. */
  ts: string;
  open: string;
  high: string;
  low: string;
  close: string;
  adj_close: string | null;
  volume: string | null;
  source: ProviderName;
}

/**
 * Why a fetch failed, as stored in ingestion_log.error_class and summarised by mv_ingestion_errors:
 * - no_data: the provider knows nothing for this symbol or range (Stooq's "No data", an empty series)
 * - rate_limited: HTTP 429, or a rate-limit body sent with HTTP 200 (Alpha Vantage's "Note"/"Information")
 * - api_error: the provider answered with an error of its own (Alpha Vantage's "Error Message", Yahoo's chart.error)
 * - bad_format: the body is not the format expected (an HTML page instead of CSV, a truncated JSON)
 * - http_error: any other HTTP status that is not 2xx
 * - timeout: no complete answer within the timeout
 * - unreachable: connection refused, DNS, reset
 * - not_configured: a setting the provider needs is missing (ALPHAVANTAGE_API_KEY, CESAR_MARKET_DIR)
 */
export const errorClasses = [
  'no_data',
  'rate_limited',
  'api_error',
  'bad_format',
  'http_error',
  'timeout',
  'unreachable',
  'not_configured',
] as const;
export type ErrorClass = (typeof errorClasses)[number];

export class MarketDataError extends Error {
  constructor(
    readonly errorClass: ErrorClass,
    message: string,
    /** Whether trying again later may help (rate limits, 5xx, timeouts, unreachable). */
    readonly retryable = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MarketDataError';
  }
}

export interface FetchDailyOptions {
  /** First day wanted, YYYY-MM-DD (inclusive); default: what the provider gives by default. */
  from?: string;
  /** Last day wanted, YYYY-MM-DD (inclusive); default: today. */
  to?: string;
  signal?: AbortSignal;
}

export interface FetchResult {
  /** Sorted by ts, one per day, within [from, to]. */
  bars: DailyBar[];
  /** sha256 (hex) of the payload as received: the same answer twice has the same hash. */
  payload_sha256: string;
  /** Where it came from, for the log: a URL with any key redacted (apikey=***), or a file path. */
  location: string;
}

export interface MarketDataProvider {
  readonly name: ProviderName;
  /** Daily bars of one symbol; throws MarketDataError (never another error) when it gets none. */
  fetchDaily(symbol: string, options?: FetchDailyOptions): Promise<FetchResult>;
}

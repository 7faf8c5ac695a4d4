import path from 'node:path';
import { parseDuration } from './duration.js';
import { defaultEmailSettings, type EmailSettings } from './email/settings.js';
import { ConfigError } from './errors.js';
import { defaultLlmSettings, type LlmSettings } from './llm/settings.js';
import { providerNames } from './market/bars.js';
import { defaultMarketSettings, type MarketSettings } from './market/settings.js';
import { registerSecret } from './mask.js';
import { defaultSyncSettings, type SyncSettings } from './sync/settings.js';
import { quote } from './text.js';

export const logLevels = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof logLevels)[number];
export const logFormats = ['text', 'json'] as const;
export type LogFormat = (typeof logFormats)[number];

/** Every setting cesar reads, validated once at start-up. Nothing reads process.env later. */
export interface Config {
  /** An external server (DATABASE_URL or COCKROACH_DB_URL); undefined means the embedded server. */
  readonly databaseUrl: string | undefined;
  /** Where cesar keeps its state: the embedded cluster (pgdata/), its log and lock files. */
  readonly home: string;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  readonly verbose: boolean;
  readonly poolMax: number;
  readonly connectTimeoutSeconds: number;
  /** Port of the embedded server; 0 picks a free one at each start. */
  readonly embeddedPort: number;
  /** auto: workers LISTEN for new jobs (not on CockroachDB); off: poll only (transaction-mode poolers). */
  readonly listen: 'auto' | 'off';
  /** Whether templates marked first_run at_once run as soon as a scheduler sees them, if they never ran (CESAR_FIRST_RUNS). */
  readonly firstRuns: boolean;
  /** Completed and cancelled jobs are deleted after this long; failed jobs are kept. */
  readonly jobRetentionMs: number;
  /** REDIS_URL: lifecycle events go to a Redis stream; undefined: through PostgreSQL NOTIFY. */
  readonly redisUrl: string | undefined;
  /** The sync with Supabase: SUPABASE_DB_URL (undefined: not configured) and its CESAR_SYNC_* settings. */
  readonly sync: SyncSettings;
  /** Market data: CESAR_MARKET_* and ALPHAVANTAGE_API_KEY. */
  readonly market: MarketSettings;
  /** Email ingestion: CESAR_MAILDIR (undefined: not configured). */
  readonly email: EmailSettings;
  /** Ollama and the LLM cache: OLLAMA_URL, CESAR_LLM_*. */
  readonly llm: LlmSettings;
}

/** Flags that override environment variables. */
export interface ConfigFlags {
  home?: string;
  logLevel?: string;
  logFormat?: string;
  verbose?: boolean;
}

type Env = Record<string, string | undefined>;

/** One line per setting: name, what is allowed, and the default. The README's table mirrors it. */
export const settings = [
  ['DATABASE_URL', 'postgres://user:password@host:port/database of an external server', 'unset: embedded PostgreSQL'],
  ['COCKROACH_DB_URL', 'alias of DATABASE_URL (as in the original system)', 'unset'],
  ['CESAR_HOME', 'directory for the embedded cluster, its log and lock files (--home)', './.cesar'],
  ['CESAR_LOG_LEVEL', 'debug | info | warn | error (--log-level)', 'info'],
  ['CESAR_LOG_FORMAT', 'text | json (--log-format)', 'text'],
  ['CESAR_DB_POOL_MAX', 'connections per process, 1 to 1000', '10'],
  ['CESAR_DB_CONNECT_TIMEOUT', 'seconds to wait for a connection, 1 to 600', '10'],
  ['CESAR_PG_PORT', 'port of the embedded server, 0 (a free port) or 1024 to 65535', '0'],
  ['CESAR_LISTEN', 'auto | off: workers wake on LISTEN/NOTIFY, or only poll', 'auto'],
  [
    'CESAR_FIRST_RUNS',
    'on | off: on, a template that never ran and is marked to run at once (the five original ones) runs as soon as a scheduler sees it; off, every template waits for its schedule',
    'on',
  ],
  ['CESAR_JOB_RETENTION', 'age after which completed and cancelled jobs, and workflow ticks, are deleted, e.g. 7d, 12h', '7d'],
  ['SUPABASE_DB_URL', 'postgres:// URL of the Supabase database (direct or session pooler, not port 6543)', 'unset: sync not configured'],
  ['CESAR_SYNC_SAFETY_LAG', 'versions younger than this wait for the next sync run, e.g. 10s; 0 to 1h', '10s'],
  ['CESAR_SYNC_MAX_CLOCK_SKEW', 'a sync run is refused when the two servers’ clocks differ by more, e.g. 5s', '5s'],
  ['CESAR_SYNC_TOMBSTONE_RETENTION', 'deletes are remembered this long (once synced both ways), e.g. 30d; at least 1h', '30d'],
  ['CESAR_MARKET_PROVIDER', 'where market data comes from: yahoo | stooq | alphavantage | csvdir', 'yahoo'],
  ['CESAR_MARKET_URL', 'the provider’s base URL instead of its own (a mirror, a proxy, a local server)', 'the provider’s'],
  ['CESAR_MARKET_DIR', 'folder of CSV files in Stooq’s format, read by the csvdir provider', 'unset'],
  ['ALPHAVANTAGE_API_KEY', 'the Alpha Vantage key (never printed)', 'unset'],
  ['STOOQ_API_KEY', 'the Stooq key, which Stooq asks for since 2026 (never printed)', 'unset'],
  ['CESAR_MARKET_TIMEOUT', 'per market data request, e.g. 15s; 1s to 5m', '15s'],
  ['OLLAMA_URL', 'the Ollama server cesar asks (http:// or https://)', 'http://127.0.0.1:11434'],
  ['CESAR_LLM_TIMEOUT', 'per request to Ollama, generation included, e.g. 120s; 1s to 1h', '120s'],
  ['CESAR_LLM_CACHE_TTL', 'how long a cached LLM answer is served, e.g. 24h; 1m to 365d', '24h'],
  [
    'CESAR_MAILDIR',
    'the Maildir folder whose messages email_ingest reads (its new/ and cur/; tmp/ is never read)',
    'unset: email_ingest not configured',
  ],
] as const;

export function loadConfig(env: Env, flags: ConfigFlags = {}, cwd = process.cwd()): Config {
  const problems: string[] = [];
  const nonEmpty = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };

  const databaseUrl = parseDatabaseUrl(nonEmpty('DATABASE_URL'), nonEmpty('COCKROACH_DB_URL'), problems);

  const homeSetting = flags.home ?? nonEmpty('CESAR_HOME') ?? '.cesar';
  const home = path.resolve(cwd, homeSetting);

  const logLevel = oneOf(
    flags.logLevel ?? nonEmpty('CESAR_LOG_LEVEL') ?? 'info',
    logLevels,
    flags.logLevel !== undefined ? '--log-level' : 'CESAR_LOG_LEVEL',
    problems,
  );
  const logFormat = oneOf(
    flags.logFormat ?? nonEmpty('CESAR_LOG_FORMAT') ?? 'text',
    logFormats,
    flags.logFormat !== undefined ? '--log-format' : 'CESAR_LOG_FORMAT',
    problems,
  );

  const poolMax = integer(nonEmpty('CESAR_DB_POOL_MAX'), 10, 1, 1000, 'CESAR_DB_POOL_MAX', problems);
  const connectTimeoutSeconds = integer(nonEmpty('CESAR_DB_CONNECT_TIMEOUT'), 10, 1, 600, 'CESAR_DB_CONNECT_TIMEOUT', problems);
  const embeddedPort = integer(nonEmpty('CESAR_PG_PORT'), 0, 0, 65535, 'CESAR_PG_PORT', problems);
  if (embeddedPort > 0 && embeddedPort < 1024) problems.push(`CESAR_PG_PORT must be 0 or 1024 to 65535, got ${embeddedPort}`);

  const listen = oneOf(nonEmpty('CESAR_LISTEN') ?? 'auto', ['auto', 'off'], 'CESAR_LISTEN', problems);
  const firstRuns = oneOf(nonEmpty('CESAR_FIRST_RUNS') ?? 'on', ['on', 'off'], 'CESAR_FIRST_RUNS', problems) === 'on';
  const retentionText = nonEmpty('CESAR_JOB_RETENTION') ?? '7d';
  const jobRetentionMs = parseDuration(retentionText);
  if (jobRetentionMs === undefined || jobRetentionMs < 60_000) {
    problems.push(`CESAR_JOB_RETENTION must be a duration of at least 1m, like 7d or 12h; got ${quote(retentionText)}`);
  }

  const redisUrl = parseRedisUrl(nonEmpty('REDIS_URL'), problems);
  const sync = parseSyncSettings(nonEmpty, problems);
  const market = parseMarketSettings(nonEmpty, problems);
  const llm = parseLlmSettings(nonEmpty, problems);
  const maildir = nonEmpty('CESAR_MAILDIR');
  const email: EmailSettings = Object.freeze({
    ...defaultEmailSettings,
    maildir: maildir === undefined ? undefined : path.resolve(cwd, maildir),
  });

  if (problems.length > 0) {
    throw new ConfigError(problems.join('; '), 'see "Configuration" in the README');
  }
  return Object.freeze({
    databaseUrl,
    home,
    logLevel: logLevel as LogLevel,
    logFormat: logFormat as LogFormat,
    verbose: flags.verbose === true,
    poolMax,
    connectTimeoutSeconds,
    embeddedPort,
    listen: listen as 'auto' | 'off',
    firstRuns,
    jobRetentionMs: jobRetentionMs ?? 0,
    redisUrl,
    sync,
    market,
    email,
    llm,
  });
}

function parseLlmSettings(nonEmpty: (name: string) => string | undefined, problems: string[]): LlmSettings {
  const ollamaUrl = nonEmpty('OLLAMA_URL') ?? defaultLlmSettings.ollamaUrl;
  const parsed = URL.canParse(ollamaUrl) ? new URL(ollamaUrl) : undefined;
  if (parsed?.protocol !== 'http:' && parsed?.protocol !== 'https:') {
    problems.push(`OLLAMA_URL must be an http:// or https:// URL, like http://127.0.0.1:11434; got ${quote(ollamaUrl)}`);
  } else registerSecret(safeDecode(parsed.password));
  const duration = (name: string, fallback: number, min: number, max: number, example: string): number => {
    const text = nonEmpty(name);
    if (text === undefined) return fallback;
    const ms = parseDuration(text);
    if (ms === undefined || ms < min || ms > max) {
      problems.push(`${name} must be a duration like ${example}; got ${quote(text)}`);
      return fallback;
    }
    return ms;
  };
  return Object.freeze({
    ...defaultLlmSettings,
    ollamaUrl,
    timeoutMs: duration('CESAR_LLM_TIMEOUT', defaultLlmSettings.timeoutMs, 1_000, 3_600_000, '120s, from 1s to 1h'),
    cacheTtlMs: duration('CESAR_LLM_CACHE_TTL', defaultLlmSettings.cacheTtlMs, 60_000, 365 * 86_400_000, '24h, from 1m to 365d'),
  });
}

function parseMarketSettings(nonEmpty: (name: string) => string | undefined, problems: string[]): MarketSettings {
  const provider = oneOf(
    nonEmpty('CESAR_MARKET_PROVIDER') ?? defaultMarketSettings.provider,
    providerNames,
    'CESAR_MARKET_PROVIDER',
    problems,
  );
  const baseUrl = nonEmpty('CESAR_MARKET_URL');
  if (baseUrl !== undefined && !/^https?:$/.test(URL.canParse(baseUrl) ? new URL(baseUrl).protocol : '')) {
    problems.push(`CESAR_MARKET_URL must be an http:// or https:// URL; got ${quote(baseUrl)}`);
  }
  const alphaVantageKey = nonEmpty('ALPHAVANTAGE_API_KEY');
  if (alphaVantageKey !== undefined) registerSecret(alphaVantageKey);
  const stooqKey = nonEmpty('STOOQ_API_KEY');
  if (stooqKey !== undefined) registerSecret(stooqKey);
  const timeoutText = nonEmpty('CESAR_MARKET_TIMEOUT');
  let timeoutMs = defaultMarketSettings.timeoutMs;
  if (timeoutText !== undefined) {
    const ms = parseDuration(timeoutText);
    if (ms === undefined || ms < 1_000 || ms > 300_000)
      problems.push(`CESAR_MARKET_TIMEOUT must be a duration like 15s, from 1s to 5m; got ${quote(timeoutText)}`);
    else timeoutMs = ms;
  }
  return Object.freeze({
    ...defaultMarketSettings,
    provider: provider as MarketSettings['provider'],
    baseUrl,
    dir: nonEmpty('CESAR_MARKET_DIR'),
    alphaVantageKey,
    stooqKey,
    timeoutMs,
  });
}

function parseSyncSettings(nonEmpty: (name: string) => string | undefined, problems: string[]): SyncSettings {
  const supabaseDbUrl = nonEmpty('SUPABASE_DB_URL');
  if (supabaseDbUrl !== undefined) {
    // Checked for its shape here; the port-6543 refusal is the sync's own, at run time.
    if (!URL.canParse(supabaseDbUrl)) problems.push('SUPABASE_DB_URL is not a URL; expected postgres://user:password@host:5432/postgres');
    else registerSecret(safeDecode(new URL(supabaseDbUrl).password));
  }
  const duration = (name: string, fallback: number, min: number, max: number, example: string): number => {
    const text = nonEmpty(name);
    if (text === undefined) return fallback;
    const ms = parseDuration(text);
    if (ms === undefined || ms < min || ms > max) {
      problems.push(`${name} must be a duration like ${example}, from ${min / 1000}s to ${max / 1000}s; got ${quote(text)}`);
      return fallback;
    }
    return ms;
  };
  return Object.freeze({
    supabaseDbUrl,
    safetyLagMs: duration('CESAR_SYNC_SAFETY_LAG', defaultSyncSettings.safetyLagMs, 0, 3_600_000, '10s'),
    maxClockSkewMs: duration('CESAR_SYNC_MAX_CLOCK_SKEW', defaultSyncSettings.maxClockSkewMs, 0, 3_600_000, '5s'),
    tombstoneRetentionMs: duration(
      'CESAR_SYNC_TOMBSTONE_RETENTION',
      defaultSyncSettings.tombstoneRetentionMs,
      3_600_000,
      3_650 * 86_400_000,
      '30d',
    ),
  });
}

function parseDatabaseUrl(primary: string | undefined, alias: string | undefined, problems: string[]): string | undefined {
  const name = primary !== undefined ? 'DATABASE_URL' : 'COCKROACH_DB_URL';
  const value = primary ?? alias;
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(`${name} is not a URL; expected postgres://user:password@host:port/database`);
    return undefined;
  }
  registerSecret(decodeURIComponent(url.password));
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    problems.push(`${name} must start with postgres:// or postgresql://, got ${url.protocol}//`);
    return undefined;
  }
  if (url.pathname.replace(/^\//, '') === '') {
    problems.push(`${name} names no database; expected postgres://user:password@host:port/database`);
    return undefined;
  }
  if (url.port !== '' && !(Number(url.port) >= 1 && Number(url.port) <= 65535)) {
    problems.push(`${name} has an invalid port`);
    return undefined;
  }
  return value;
}

function parseRedisUrl(value: string | undefined, problems: string[]): string | undefined {
  if (value === undefined) return undefined;
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (url) registerSecret(safeDecode(url.password));
  if (url?.protocol !== 'redis:' && url?.protocol !== 'rediss:') {
    problems.push('REDIS_URL must be a redis:// URL (rediss:// for TLS), like redis://127.0.0.1:6379/0');
    return undefined;
  }
  return value;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function oneOf(value: string, allowed: readonly string[], name: string, problems: string[]): string {
  if (!allowed.includes(value)) problems.push(`${name} must be one of ${allowed.join(', ')}; got ${quote(value)}`);
  return value;
}

function integer(value: string | undefined, fallback: number, min: number, max: number, name: string, problems: string[]): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    problems.push(`${name} must be an integer from ${min} to ${max}; got ${quote(value)}`);
    return fallback;
  }
  return Number(value);
}

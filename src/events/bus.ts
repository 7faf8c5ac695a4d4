import { eventChannel } from '../db/event-channel.js';
import type { Queryable } from '../db/queryable.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { registerSecret } from '../mask.js';
import { quote } from '../text.js';
import { type CesarEvent, type EventPublisher, type EventSubscription, noEvents, type SubscribeOptions } from './envelope.js';
import { noHistory, postgresTransport, subscribePostgres } from './postgres.js';
import { type BufferOptions, bufferedPublisher, type EventTransport } from './publisher.js';
import type { EventHistory, HistoryOptions, RedisStreamOptions } from './redis.js';
import { reportPublisherStats, type StatsReporter } from './stats.js';

export type { EventHistory, HistoryOptions } from './redis.js';

/** Publisher and subscriber over one transport: a Redis stream when REDIS_URL is set, PostgreSQL NOTIFY otherwise. */
export interface EventBus extends EventPublisher {
  readonly transport: 'redis' | 'postgres';
  /** "Redis stream cesar:events at 127.0.0.1:6379": no password, fit for printing. */
  describe(): string;
  /**
   * Resolves once subscribed: every event published afterwards arrives through onEvent, in order,
   * until close(). Redis: from `since` (exclusive) when given, reconnecting and resuming after the
   * last event delivered. PostgreSQL: `since` is a UsageError (NOTIFY keeps no history).
   */
  subscribe(options: SubscribeOptions, onEvent: (event: CesarEvent) => void): Promise<EventSubscription>;
  /** The events the Redis stream holds (the newest, or those after `since`); a UsageError on PostgreSQL. */
  history(options: HistoryOptions): Promise<EventHistory>;
}

export interface EventBusOptions {
  /** REDIS_URL (config.redisUrl): set, events go to a Redis stream; unset, through PostgreSQL NOTIFY. */
  redisUrl?: string;
  /** Where NOTIFY batches and the publisher's stats are sent: a pool, never a client inside a transaction. */
  pool: Queryable;
  /** For the LISTEN connection of PostgreSQL subscriptions (may hold a password: never printed). */
  databaseUrl: string;
  log: Logger;
  /** Names this publisher in event_publishers ("worker:host:pid"); without it no stats are written. */
  holder?: string;
  /** The Redis stream; default CESAR_EVENTS_STREAM, else cesar:events. */
  stream?: string;
  /** The stream's approximate cap; default CESAR_EVENTS_MAXLEN, else 100000. */
  maxLen?: number;
  /** Only subscribe and read history (`cesar events`): no publishing connection; publish() sends nothing. */
  readOnly?: boolean;
  /** Buffer sizes and timings (tests). */
  buffer?: Omit<BufferOptions, 'log'>;
}

const defaultStream = 'cesar:events';
const defaultMaxLen = 100_000;

/**
 * CESAR_EVENTS_STREAM and CESAR_EVENTS_MAXLEN, checked: one ConfigError naming what is wrong. (Read
 * here, not in config.ts, to keep the event bus's settings with it; read once, when a bus opens.)
 */
export function eventStreamSettings(env: Record<string, string | undefined>): { stream: string; maxLen: number } {
  const problems: string[] = [];
  const stream = env.CESAR_EVENTS_STREAM?.trim() || defaultStream;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (stream.length > 200 || /[\s\u0000-\u001f\u007f]/.test(stream)) {
    problems.push(`CESAR_EVENTS_STREAM must be a Redis key of at most 200 characters without spaces; got ${quote(stream)}`);
  }
  const maxLenText = env.CESAR_EVENTS_MAXLEN?.trim() || String(defaultMaxLen);
  const maxLen = Number(maxLenText);
  if (!/^\d+$/.test(maxLenText) || maxLen < 100 || maxLen > 1_000_000_000) {
    problems.push(`CESAR_EVENTS_MAXLEN must be an integer from 100 to 1000000000; got ${quote(maxLenText)}`);
  }
  if (problems.length > 0) throw new ConfigError(problems.join('; '), 'see "Configuration" in the README');
  return { stream, maxLen };
}

/**
 * Open the process's event bus. Never fails because Redis is down: the publisher then drops and
 * counts until it is back (subscribe and history do fail, exit 69). Close it to send what is buffered.
 */
export async function openEventBus(options: EventBusOptions): Promise<EventBus> {
  const { log } = options;
  const side = options.redisUrl ? await redisSide(options.redisUrl, options) : postgresSide(options);
  const publisher = options.readOnly ? noEvents : bufferedPublisher(await side.openSender(), { ...options.buffer, log });
  const reporter: StatsReporter | undefined =
    options.holder === undefined || options.readOnly ? undefined : reportPublisherStats(options.pool, options.holder, publisher.stats, log);
  let closing: Promise<void> | undefined;

  return {
    transport: side.name,
    describe: () => side.describe,
    subscribe: side.subscribe,
    history: side.history,
    publish: publisher.publish,
    flush: publisher.flush,
    stats: publisher.stats,
    close() {
      closing ??= (async () => {
        // The last row says whether the transport worked, not that it is now closed.
        const connected = publisher.stats().connected;
        await publisher.close();
        await reporter?.stop({ ...publisher.stats(), connected });
      })();
      return closing;
    },
  };
}

/** One transport's ways in and out. */
interface TransportSide {
  name: 'redis' | 'postgres';
  describe: string;
  subscribe: EventBus['subscribe'];
  history: EventBus['history'];
  /** The publishing side: opened only by a bus that publishes. */
  openSender(): Promise<EventTransport>;
}

async function redisSide(url: string, options: EventBusOptions): Promise<TransportSide> {
  registerRedisPassword(url);
  const settings = options.stream === undefined || options.maxLen === undefined ? eventStreamSettings(process.env) : undefined;
  const redisOptions: RedisStreamOptions = {
    url,
    stream: options.stream ?? settings!.stream,
    maxLen: options.maxLen ?? settings!.maxLen,
    log: options.log,
  };
  const redis = await import('./redis.js');
  return {
    name: 'redis',
    describe: redis.describeRedis(url, redisOptions.stream),
    subscribe: (sub, onEvent) => redis.subscribeRedis(redisOptions, sub, onEvent),
    history: (h) => redis.redisHistory(redisOptions, h),
    openSender: () => redis.redisTransport(redisOptions),
  };
}

function postgresSide(options: EventBusOptions): TransportSide {
  return {
    name: 'postgres',
    describe: `PostgreSQL NOTIFY channel ${eventChannel} on ${databaseAddress(options.databaseUrl)}`,
    subscribe: (sub, onEvent) => subscribePostgres(options.databaseUrl, sub, onEvent, options.log),
    history: async () => {
      throw noHistory('listing past events');
    },
    openSender: async () => postgresTransport(options.pool, options.log),
  };
}

function registerRedisPassword(url: string): void {
  try {
    registerSecret(decodeURIComponent(new URL(url).password));
  } catch {
    // not a URL: config.ts refuses it before we get here
  }
}

/** "127.0.0.1:5432/cesar": where, without user or password. */
function databaseAddress(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || 'localhost'}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return 'the database';
  }
}

import { UsageError } from '../errors.js';
import { type CesarEvent, type EventType, eventTypes, isEventType } from '../events/envelope.js';
import { declareInterruptHandled, untilShutdown } from '../lifecycle.js';
import { escapeControl, quote } from '../text.js';
import { type CliContext, withDatabase } from './context.js';
import { dim } from './output.js';

export interface EventsOptions {
  follow?: boolean;
  /** Event types; each may also be a comma-separated list. */
  type?: string[];
  since?: string;
  json?: boolean;
  limit?: number;
}

/** Characters of data shown on a text line; --json prints everything. */
const maxDataChars = 300;

/**
 * `cesar events`: the lifecycle events. Redis: the stream's newest --limit events (or those after
 * --since), then with --follow the new ones until Ctrl-C. PostgreSQL: NOTIFY keeps no history, so
 * only --follow (events as they arrive). --json prints each envelope as one JSON line.
 */
export async function runEvents(ctx: CliContext, options: EventsOptions): Promise<number> {
  const types = parseTypes(options.type);
  if (options.limit !== undefined && !(Number.isInteger(options.limit) && options.limit >= 1 && options.limit <= 100_000)) {
    throw new UsageError(`--limit must be an integer from 1 to 100000; got ${quote(options.limit)}`);
  }
  if (!ctx.config.redisUrl && (!options.follow || options.since !== undefined)) {
    throw new UsageError(
      options.follow
        ? 'PostgreSQL NOTIFY keeps no event history: --since needs the Redis stream'
        : 'PostgreSQL NOTIFY keeps no event history: there are no past events to print',
      options.follow
        ? 'drop --since, or set REDIS_URL for resumable events'
        : 'use --follow to print events as they arrive, or set REDIS_URL',
    );
  }
  const print = (event: CesarEvent) => ctx.out(options.json ? JSON.stringify(event) : formatEvent(event));

  return withDatabase(ctx, async (handle) => {
    const { openEventBus } = await import('../events/bus.js');
    const bus = await openEventBus({
      redisUrl: ctx.config.redisUrl,
      pool: handle.pool,
      databaseUrl: handle.url,
      log: ctx.log,
      readOnly: true,
    });
    try {
      let since = options.since;
      if (bus.transport === 'redis' && !(options.follow && since !== undefined)) {
        const history = await bus.history({ since, limit: options.limit, types });
        for (const event of history.events) print(event);
        since = history.lastId;
      }
      if (!options.follow) return 0;
      declareInterruptHandled();
      const subscription = await bus.subscribe({ since, types }, print);
      ctx.log.info(`Following events on ${bus.describe()}; Ctrl-C to stop`);
      await untilShutdown();
      await subscription.close();
      return 0;
    } finally {
      await bus.close();
    }
  });
}

/** --type values (repeated, or comma-separated), checked against the known event types. */
function parseTypes(values: string[] | undefined): EventType[] | undefined {
  if (!values || values.length === 0) return undefined;
  const names = values.flatMap((v) => v.split(',')).map((v) => v.trim());
  const unknown = names.filter((n) => !isEventType(n));
  if (unknown.length > 0) {
    throw new UsageError(`unknown event type ${unknown.map((n) => quote(n)).join(', ')}; the types are ${eventTypes.join(', ')}`);
  }
  return names as EventType[];
}

/** "2026-11-24T10:15:00.123Z  job.failed  1732550000000-0  job_id=12 error="boom"": one line, whatever the data. */
export function formatEvent(event: CesarEvent): string {
  const data = Object.entries(event.data)
    .map(([key, value]) => `${key}=${typeof value === 'string' && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)}`)
    .join(' ');
  const shown = data.length > maxDataChars ? `${data.slice(0, maxDataChars)}…` : data;
  return `${escapeControl(event.time)}  ${escapeControl(event.type.padEnd(21))}  ${dim(escapeControl(event.id))}  ${escapeControl(shown)}`;
}

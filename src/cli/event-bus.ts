import os from 'node:os';
import type { DatabaseHandle } from '../db/connect.js';
import { type EventBus, openEventBus } from '../events/bus.js';
import { noEvents } from '../events/envelope.js';
import { setProcessEvents } from '../events/process-events.js';
import type { CliContext } from './context.js';

export interface ProcessEventBus {
  /** Undefined on CockroachDB without REDIS_URL (no NOTIFY there): events go nowhere, said once. */
  bus: EventBus | undefined;
  close(): Promise<void>;
}

/**
 * Open the event bus for a long-running part (worker, scheduler, API, dashboard) and make it the
 * process's publisher; its counts go to event_publishers under "<role>:<host>:<pid>".
 */
export async function openProcessEventBus(ctx: CliContext, handle: DatabaseHandle, role: string): Promise<ProcessEventBus> {
  const { log, config } = ctx;
  if (!config.redisUrl && handle.server.cockroach) {
    log.info('Event bus: off (CockroachDB has no NOTIFY; set REDIS_URL for a Redis stream)');
    return { bus: undefined, close: async () => {} };
  }
  const bus = await openEventBus({
    redisUrl: config.redisUrl,
    pool: handle.pool,
    databaseUrl: handle.url,
    log,
    holder: `${role}:${os.hostname()}:${process.pid}`,
  });
  setProcessEvents(bus);
  log.info(`Event bus: ${bus.describe()}`);
  return {
    bus,
    async close() {
      setProcessEvents(noEvents);
      await bus.close();
    },
  };
}

/**
 * For one-shot commands (enqueue, jobs retry and cancel, workflows run): open the bus, run, then
 * send what the command published before it exits. Publishing failures never fail the command.
 */
export async function withEventBus<T>(ctx: CliContext, handle: DatabaseHandle, run: () => Promise<T>): Promise<T> {
  if (!ctx.config.redisUrl && handle.server.cockroach) return run();
  const bus = await openEventBus({ redisUrl: ctx.config.redisUrl, pool: handle.pool, databaseUrl: handle.url, log: ctx.log });
  setProcessEvents(bus);
  try {
    return await run();
  } finally {
    setProcessEvents(noEvents);
    await bus.close();
  }
}

/**
 * `cesar start`'s line about the event bus. With REDIS_URL it connects once to say whether Redis
 * answers (the parts connect on their own; Redis being down stops none of them).
 */
export async function announceEventBus(ctx: CliContext, handle: DatabaseHandle): Promise<void> {
  const { log, config } = ctx;
  if (!config.redisUrl) {
    if (handle.server.cockroach) log.info('Event bus: off (CockroachDB has no NOTIFY; set REDIS_URL for a Redis stream)');
    else log.info('Event bus: PostgreSQL NOTIFY (set REDIS_URL for a Redis stream that consumers can resume)');
    return;
  }
  const bus = await openEventBus({ redisUrl: config.redisUrl, pool: handle.pool, databaseUrl: handle.url, log });
  try {
    if (bus.stats().connected) log.info(`✅ Redis event bus connected: ${bus.describe()}`);
    else log.warn(`Redis event bus not connected: ${bus.describe()} does not answer; cesar runs without it and reconnects when it is back`);
  } finally {
    await bus.close();
  }
}

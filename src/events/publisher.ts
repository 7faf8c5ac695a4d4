import type { Logger } from '../log.js';
import type { EventPublisher, EventType, PublisherStats } from './envelope.js';

/**
 * The publishing side both transports share: publish() pushes onto a bounded in-memory buffer (O(1),
 * no JSON work, never throws, never waits); a background flusher hands batches to the transport.
 * Whatever cannot be sent (buffer full, transport down, data that is not JSON) is counted as dropped.
 */

/** One event as publish() keeps it: nothing serialized yet, the time in epoch milliseconds. */
export interface PendingEvent {
  type: EventType;
  data: Record<string, unknown>;
  time: number;
}

/** Where batches go: a Redis stream or PostgreSQL NOTIFY. */
export interface EventTransport {
  readonly name: 'redis' | 'postgres';
  /** Send one batch, in order; resolves with how many got out (the rest count as dropped). */
  send(batch: readonly PendingEvent[]): Promise<number>;
  connected(): boolean;
  close(): Promise<void>;
}

export interface BufferOptions {
  log: Logger;
  /** Events held at most; more are dropped (counted). Default 10,000. */
  capacity?: number;
  /** Events per batch, and the count that triggers a flush at once. Default 500. */
  batchSize?: number;
  /** How long an event waits for its batch at most. Default 50 ms. */
  intervalMs?: number;
  /** How long close() waits for the last flush. Default 5 s. */
  closeTimeoutMs?: number;
}

/** A publisher over a transport. The transport is closed by close(). */
export function bufferedPublisher(transport: EventTransport, options: BufferOptions): EventPublisher {
  const capacity = options.capacity ?? 10_000;
  const batchSize = options.batchSize ?? 500;
  const intervalMs = options.intervalMs ?? 50;
  const closeTimeoutMs = options.closeTimeoutMs ?? 5000;
  const log = options.log;

  let buffer: PendingEvent[] = [];
  let published = 0;
  let dropped = 0;
  /** Events ever accepted into the buffer, and of those, how many were sent or dropped: flush() waits on these. */
  let accepted = 0;
  let settled = 0;
  let waiters: Array<{ upTo: number; resolve: () => void }> = [];
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  let draining: Promise<void> | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;
  let fullWarned = false;

  const cancelSchedule = (): void => {
    if (timer) clearTimeout(timer);
    if (immediate) clearImmediate(immediate);
    timer = undefined;
    immediate = undefined;
  };

  // Deferred, so that the batch's JSON work never runs inside a publish() call.
  const flushSoon = (): void => {
    if (draining || immediate) return;
    if (timer) clearTimeout(timer);
    timer = undefined;
    immediate = setImmediate(() => void startDrain());
    immediate.unref();
  };

  const flushLater = (): void => {
    if (draining || immediate || timer) return;
    timer = setTimeout(() => void startDrain(), intervalMs);
    timer.unref();
  };

  const startDrain = (): Promise<void> => {
    cancelSchedule();
    draining ??= drain().finally(() => {
      draining = undefined;
      // A flush() that came while this drain was ending found it still running: it waits on a new one.
      if (buffer.length > 0 && waiters.length > 0) void startDrain();
      else if (buffer.length > 0) flushLater();
      else fullWarned = false; // caught up: the next overflow is worth a new warning
    });
    return draining;
  };

  const drain = async (): Promise<void> => {
    while (buffer.length > 0) {
      const taken = buffer;
      buffer = [];
      for (let i = 0; i < taken.length; i += batchSize) {
        await sendBatch(taken.length <= batchSize ? taken : taken.slice(i, i + batchSize));
      }
    }
  };

  const sendBatch = async (batch: readonly PendingEvent[]): Promise<void> => {
    let sent = 0;
    try {
      sent = await transport.send(batch);
    } catch (err) {
      log.debug(`event bus: a batch of ${batch.length} event(s) was not sent: ${(err as Error).message}`);
    }
    published += sent;
    dropped += batch.length - sent;
    settle(batch.length);
  };

  const settle = (count: number): void => {
    settled += count;
    if (waiters.length === 0) return;
    const done = waiters.filter((w) => w.upTo <= settled);
    waiters = waiters.filter((w) => w.upTo > settled);
    for (const w of done) w.resolve();
  };

  const flush = async (): Promise<void> => {
    const upTo = accepted;
    if (settled >= upTo) return;
    const done = new Promise<void>((resolve) => waiters.push({ upTo, resolve }));
    void startDrain();
    await done;
  };

  return {
    publish(type: EventType, data: Record<string, unknown>, time?: Date): void {
      if (closed || buffer.length >= capacity) {
        dropped += 1;
        if (!closed && !fullWarned) {
          fullWarned = true;
          log.warn(
            `event bus: ${capacity} events wait to be sent; dropping new ones (counted) until the ${transport.name} transport catches up`,
          );
        }
        return;
      }
      buffer.push({ type, data, time: time === undefined ? Date.now() : time.getTime() });
      accepted += 1;
      if (buffer.length >= batchSize) flushSoon();
      else flushLater();
    },

    flush,

    close(): Promise<void> {
      closing ??= (async () => {
        closed = true;
        let timeout: NodeJS.Timeout | undefined;
        const timedOut = new Promise<void>((resolve) => {
          timeout = setTimeout(resolve, closeTimeoutMs);
        });
        await Promise.race([flush(), timedOut]);
        clearTimeout(timeout);
        cancelSchedule();
        if (buffer.length > 0) {
          log.warn(`event bus: ${buffer.length} event(s) not sent within ${closeTimeoutMs / 1000} s of closing; dropped`);
          dropped += buffer.length;
          settle(buffer.length);
          buffer = [];
        }
        await transport.close();
        for (const w of waiters) w.resolve();
        waiters = [];
      })();
      return closing;
    },

    stats(): PublisherStats {
      return { transport: transport.name, published, dropped, connected: !closed && transport.connected() };
    },
  };
}

export interface SerializedEvent {
  type: EventType;
  /** ISO 8601. */
  time: string;
  /** The data as JSON. */
  data: string;
}

/**
 * The flusher's serializer: the envelope's fields but the id, data as JSON. Undefined for data that
 * is not JSON (a BigInt, a cycle): that event is dropped, and the first of them logged.
 */
export function eventSerializer(log: Logger): (event: PendingEvent) => SerializedEvent | undefined {
  let warned = false;
  return (event) => {
    try {
      return { type: event.type, time: new Date(event.time).toISOString(), data: JSON.stringify(event.data ?? {}) };
    } catch (err) {
      if (!warned) {
        warned = true;
        log.warn(`event bus: dropped a ${event.type} event that cannot be serialized: ${(err as Error).message}`);
      }
      return undefined;
    }
  };
}

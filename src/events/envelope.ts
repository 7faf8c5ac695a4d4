import type { Logger } from '../log.js';

/**
 * The event bus's one envelope: {"id", "type", "time", "data"}. Both transports (a Redis Stream
 * when REDIS_URL is set, PostgreSQL NOTIFY otherwise) carry exactly this JSON.
 */

export const eventTypes = [
  'job.enqueued',
  'job.started',
  'job.succeeded',
  'job.retried',
  'job.failed',
  'job.cancelled',
  'workflow.tick_fired',
  'workflow.tick_skipped',
  'execution.started',
  'execution.succeeded',
  'execution.failed',
  'step.started',
  'step.succeeded',
  'step.failed',
  'view.refreshed',
  'sync.completed',
  /** An operator's action (dashboard or API): who did what, when. */
  'action.performed',
] as const;

export type EventType = (typeof eventTypes)[number];

export function isEventType(value: string): value is EventType {
  return (eventTypes as readonly string[]).includes(value);
}

export interface CesarEvent {
  /**
   * Redis: the stream entry id ("1732550000000-0"), ordered across processes. PostgreSQL:
   * "<ms>-<pid>-<seq>" made by the publishing process: unique across processes, ordered within one.
   */
  id: string;
  type: EventType;
  /** ISO 8601, when the thing happened (as the publisher saw it). */
  time: string;
  /**
   * snake_case fields. On PostgreSQL, whose NOTIFY payloads stop at 8000 bytes, a larger envelope
   * arrives with data cut down to its short scalar fields plus `"truncated": true` and
   * `"original_bytes"` (the full envelope's size).
   */
  data: Record<string, unknown>;
}

/** What publishers are given: the id is the transport's to assign. */
export type NewEvent = Omit<CesarEvent, 'id'>;

/**
 * Publishing side. publish() never throws, never waits and never sits in anyone's transaction: it
 * buffers, and the transport sends batches in the background. What cannot be sent is counted.
 */
export interface EventPublisher {
  publish(type: EventType, data: Record<string, unknown>, time?: Date): void;
  /** Send what is buffered (best effort; resolves even when the transport is down). */
  flush(): Promise<void>;
  close(): Promise<void>;
  stats(): PublisherStats;
}

export interface PublisherStats {
  transport: 'redis' | 'postgres' | 'none';
  published: number;
  /** Events that could not be sent (transport down, buffer full): in /metrics. */
  dropped: number;
  connected: boolean;
}

export interface SubscribeOptions {
  /** Resume after this id (Redis only: PostgreSQL NOTIFY keeps no history). */
  since?: string;
  types?: readonly EventType[];
}

/** One live subscription: events arrive in order through onEvent until close(). */
export interface EventSubscription {
  close(): Promise<void>;
}

/** A publisher that drops nothing because it sends nothing: for processes run without the bus. */
export const noEvents: EventPublisher = {
  publish() {},
  flush: async () => {},
  close: async () => {},
  stats: () => ({ transport: 'none', published: 0, dropped: 0, connected: false }),
};

/** Hand one event to a subscriber's callback: a callback that throws is logged, and the next event still comes. */
export function deliverEvent(onEvent: (event: CesarEvent) => void, event: CesarEvent, log: Logger): void {
  try {
    onEvent(event);
  } catch (err) {
    log.warn(`event subscription: the handler of event ${event.id} (${event.type}) failed: ${(err as Error).message}`);
  }
}

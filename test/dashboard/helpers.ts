import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChangeFeed } from '../../src/dashboard/changes.js';
import { createDashboardApp, type DashboardOptions } from '../../src/dashboard/server.js';
import type { EventPublisher, EventType } from '../../src/events/envelope.js';
import type { HttpApp } from '../../src/http/app.js';
import { builtInJobTypes } from '../../src/jobs/index.js';
import { silentLogger } from '../../src/log.js';
import type { OpenTestDatabase } from '../helpers/db.js';

/** A change feed the test fires by hand, which says how many listen to it. */
export function manualFeed(): ChangeFeed & { fire(): void; readonly listeners: number } {
  const listeners = new Set<() => void>();
  return {
    onChange(listener) {
      const entry = () => listener();
      listeners.add(entry);
      return () => listeners.delete(entry);
    },
    fire() {
      for (const listener of [...listeners]) listener();
    },
    get listeners() {
      return listeners.size;
    },
  };
}

/** A publisher that keeps what it is given. */
export function memoryPublisher(): EventPublisher & { events: Array<{ type: EventType; data: Record<string, unknown> }> } {
  const events: Array<{ type: EventType; data: Record<string, unknown> }> = [];
  return {
    events,
    publish(type, data) {
      events.push({ type, data });
    },
    flush: async () => {},
    close: async () => {},
    stats: () => ({ transport: 'none', published: events.length, dropped: 0, connected: true }),
  };
}

export interface TestDashboard {
  app: HttpApp;
  /** http://127.0.0.1:<port> once listen() ran. */
  baseUrl: string;
  /** Live snapshots computed so far. */
  readonly snapshots: number;
  close(): Promise<void>;
}

/** A dashboard on a test database, listening on a free port of 127.0.0.1. */
export async function startDashboard(
  handle: OpenTestDatabase,
  options: Partial<DashboardOptions> & { token: string },
): Promise<TestDashboard> {
  let snapshots = 0;
  const app = createDashboardApp({
    pool: handle.pool,
    db: await handle.kysely(),
    log: silentLogger,
    version: '0.0.0-test',
    registry: builtInJobTypes(),
    ...options,
    onSnapshot: () => {
      snapshots += 1;
      options.onSnapshot?.();
    },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  return {
    app,
    baseUrl: `http://127.0.0.1:${port}`,
    get snapshots() {
      return snapshots;
    },
    close: () => app.close(),
  };
}

export interface SseFrame {
  event: string;
  data: string;
}

/** An open GET /dashboard-api/events: its frames as they arrive. */
export interface EventStream {
  frames: SseFrame[];
  /** The parsed data of the snapshot frames. */
  snapshots(): unknown[];
  waitFor(what: string, probe: (frames: SseFrame[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): void;
}

/** Over node:http rather than fetch: closing it closes its socket (undici would open a spare one). */
export async function openEventStream(baseUrl: string): Promise<EventStream> {
  const frames: SseFrame[] = [];
  let buffer = '';
  const request = http.get(`${baseUrl}/dashboard-api/events`, { headers: { accept: 'text/event-stream' } });
  request.on('error', () => {});
  const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
    request.once('response', resolve);
    request.once('error', reject);
  });
  if (response.statusCode !== 200) throw new Error(`the event stream answered ${response.statusCode}`);
  response.setEncoding('utf8');
  response.on('data', (chunk: string) => {
    buffer += chunk;
    for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
      const frame = parseFrame(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (frame) frames.push(frame);
    }
  });
  response.on('error', () => {});
  return {
    frames,
    snapshots: () => frames.filter((f) => f.event === 'snapshot').map((f) => JSON.parse(f.data)),
    async waitFor(what, probe, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!probe(frames)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    close: () => request.destroy(),
  };
}

function parseFrame(block: string): SseFrame | undefined {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event: ')) event = line.slice(7);
    else if (line.startsWith('data: ')) data.push(line.slice(6));
  }
  return data.length > 0 ? { event, data: data.join('\n') } : undefined;
}

import type { Logger } from '../log.js';
import type { ChangeFeed } from './changes.js';

/** One open page: a Server-Sent Events stream. */
export interface LiveClient {
  /** Write an SSE frame; false when the client's buffer is full (it cannot keep up: it is dropped). */
  write(frame: string): boolean;
  close(): void;
}

export interface LiveOptions<T> {
  /** Reads the snapshot every open page shows: the only database work live updates cause. */
  compute: () => Promise<T>;
  changes: ChangeFeed;
  /** A snapshot is computed at most once per this many milliseconds, however many changes come. */
  minIntervalMs: number;
  /** A comment frame this often keeps idle streams open through proxies and timeouts. */
  keepAliveMs?: number;
  /** Streams beyond this are refused (each holds a socket). */
  maxClients?: number;
  log: Logger;
  /** Called after each computation (tests count them; metrics could). */
  onComputed?: () => void;
}

/**
 * One snapshot for every open page. While at least one page is connected, the hub listens to the
 * change feed; a change marks the snapshot stale, and a stale snapshot is recomputed at most once
 * per minIntervalMs, then pushed (the same bytes) to every page when it differs from the last one.
 * So ten open tabs cost the database what one costs, and no tab costs anything while nothing changes.
 * With no page connected the hub neither listens nor computes.
 */
export class LiveSnapshots<T> {
  private readonly clients = new Set<LiveClient>();
  private readonly keepAliveMs: number;
  private readonly maxClients: number;
  /** The JSON of the last snapshot pushed, and its frame (what a page that connects gets at once). */
  private lastJson: string | undefined;
  private lastFrame: string | undefined;
  private stale = false;
  private computing = false;
  private timer: NodeJS.Timeout | undefined;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private lastStartedAt = Number.NEGATIVE_INFINITY;
  private unsubscribe: (() => void) | undefined;
  private failing = false;
  private sequence = 0;
  private closed = false;

  constructor(private readonly options: LiveOptions<T>) {
    this.keepAliveMs = options.keepAliveMs ?? 15_000;
    this.maxClients = options.maxClients ?? 100;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Add a page: it gets the current snapshot at once when there is one. False when the hub is full or closed. */
  add(client: LiveClient): boolean {
    if (this.closed || this.clients.size >= this.maxClients) return false;
    this.clients.add(client);
    if (this.lastFrame) this.send(client, this.lastFrame);
    if (this.clients.size === 1) this.startWatching();
    return true;
  }

  remove(client: LiveClient): void {
    if (!this.clients.delete(client) || this.clients.size > 0) return;
    this.stopWatching();
  }

  /** End every stream and stop listening (the server is stopping). */
  close(): void {
    this.closed = true;
    for (const client of [...this.clients]) client.close();
    this.clients.clear();
    this.stopWatching();
  }

  private startWatching(): void {
    this.unsubscribe = this.options.changes.onChange(() => this.changed());
    this.keepAliveTimer = setInterval(() => this.broadcast(': keep-alive\n\n'), this.keepAliveMs);
    this.keepAliveTimer.unref();
    this.changed();
  }

  /**
   * Nobody watches: forget the snapshot too, since changes are no longer followed. The next page
   * to connect waits for a fresh one rather than seeing old numbers.
   */
  private stopWatching(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearInterval(this.keepAliveTimer);
    clearTimeout(this.timer);
    this.timer = undefined;
    this.lastJson = undefined;
    this.lastFrame = undefined;
    this.stale = false;
  }

  private changed(): void {
    this.stale = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.clients.size === 0 || this.computing || this.timer || !this.stale) return;
    const wait = Math.max(0, this.lastStartedAt + this.options.minIntervalMs - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.recompute();
    }, wait);
  }

  private async recompute(): Promise<void> {
    if (this.clients.size === 0 || !this.stale) return;
    this.stale = false;
    this.computing = true;
    this.lastStartedAt = performance.now();
    try {
      const snapshot = await this.options.compute();
      this.options.onComputed?.();
      if (this.failing) this.options.log.info('Dashboard: the live snapshot is read again');
      this.failing = false;
      this.push(JSON.stringify(snapshot));
    } catch (err) {
      this.options.onComputed?.();
      if (!this.failing) this.options.log.warn(`Dashboard: the live snapshot could not be read: ${(err as Error).message}`);
      this.failing = true;
      // Whatever comes next is pushed, even if it equals the last snapshot: the pages show the outage until then.
      this.lastJson = undefined;
      this.broadcast(
        `event: unavailable\ndata: ${JSON.stringify({ message: 'the live numbers cannot be read now (the dashboard log says why); retrying' })}\n\n`,
      );
    } finally {
      this.computing = false;
      this.schedule();
    }
  }

  private push(json: string): void {
    if (json === this.lastJson || this.clients.size === 0) return;
    this.sequence += 1;
    this.lastJson = json;
    this.lastFrame = `id: ${this.sequence}\nevent: snapshot\ndata: ${json}\n\n`;
    this.broadcast(this.lastFrame);
  }

  private broadcast(frame: string): void {
    for (const client of [...this.clients]) this.send(client, frame);
  }

  private send(client: LiveClient, frame: string): void {
    if (client.write(frame)) return;
    this.options.log.debug('Dashboard: a live page could not keep up; its stream is closed');
    client.close();
    this.remove(client);
  }
}

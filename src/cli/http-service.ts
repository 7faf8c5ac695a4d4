import type { HttpApp } from '../http/app.js';
import { closeHttp, listenHttp } from '../http/listen.js';
import { runService } from '../service.js';
import type { CliContext } from './context.js';

/** How long requests in flight get to finish once asked to stop, before every connection is closed. */
const stopGraceMs = 5_000;

export interface HttpServiceOptions {
  name: 'api' | 'dashboard';
  app: HttpApp;
  host: string;
  port: number;
  /** The flag that changes the port, named when it is busy. */
  flag: string;
  /** The ready line, given the URL it listens on. */
  listeningLine(url: string): string;
  /** Closed after the server (and when it cannot listen): the process's event bus. */
  close(): Promise<void>;
}

/** `cesar api` and `cesar dashboard`: serve the app until SIGINT/SIGTERM, then stop within the grace period. */
export function runHttpService(ctx: CliContext, o: HttpServiceOptions): Promise<number> {
  return runService(
    {
      name: o.name,
      start: async () => {
        try {
          const { url, port } = await listenHttp(o.app, { host: o.host, port: o.port, flag: o.flag });
          ctx.log.info(o.listeningLine(url));
          return { url, port };
        } catch (err) {
          await o.app.close();
          await o.close();
          throw err;
        }
      },
      stop: async (force) => {
        await closeHttp(o.app, force);
        await o.close();
      },
    },
    { log: ctx.log, graceMs: stopGraceMs },
  );
}

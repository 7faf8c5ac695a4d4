import { declareInterruptHandled, shutdownSignal, untilShutdown } from '../lifecycle.js';
import { defaultCatalog } from '../queue/catalog.js';
import { Worker } from '../queue/worker.js';
import { type CliContext, describeDatabase, withDatabase } from './context.js';
import { reportReady } from './supervised.js';

export interface WorkerCliOptions {
  concurrency: number;
  pollInterval: number;
  leaseSeconds: number;
  queue: string[];
  listen: boolean;
  shutdownGrace: number;
  prefetch?: number;
}

/** `cesar worker`: run jobs until SIGINT/SIGTERM, then stop gracefully and exit 0. */
export async function runWorker(ctx: CliContext, options: WorkerCliOptions, version: string): Promise<number> {
  declareInterruptHandled();
  const log = ctx.log;
  return withDatabase(
    ctx,
    async (handle) => {
      log.info(`Connected to ${describeDatabase(handle)}`);
      let listenUrl: string | undefined = handle.url;
      if (!options.listen || ctx.config.listen === 'off') listenUrl = undefined;
      else if (handle.server.cockroach) {
        log.info('CockroachDB has no LISTEN/NOTIFY: polling only');
        listenUrl = undefined;
      }
      const worker = new Worker({
        pool: handle.pool,
        db: await handle.kysely(),
        catalog: defaultCatalog(),
        log,
        listenUrl,
        concurrency: options.concurrency,
        pollIntervalMs: options.pollInterval,
        leaseSeconds: options.leaseSeconds,
        queues: options.queue,
        shutdownGraceMs: options.shutdownGrace,
        retentionMs: ctx.config.jobRetentionMs,
        version,
        prefetch: options.prefetch,
      });
      await worker.start();
      reportReady({ part: 'worker', id: worker.id });
      await untilShutdown();
      log.info(`Stopping the worker (${(shutdownSignal.reason as Error)?.message ?? 'signal'})`);
      await worker.stop();
      return 0;
    },
    { applicationName: 'cesar-worker' },
  );
}

import { jobEventsObserver } from '../events/job-events.js';
import { builtInJobTypes } from '../jobs/index.js';
import { shutdownSignal } from '../lifecycle.js';
import { pruneThroughputTask } from '../maintenance/prune-throughput.js';
import { pruneTicksTask } from '../maintenance/prune-ticks.js';
import { refreshViewsTask } from '../maintenance/refresh-views.js';
import { ThroughputCounter } from '../monitoring/throughput.js';
import { Worker } from '../queue/worker.js';
import { runService, type Service } from '../service.js';
import { type CliContext, describeDatabase, withDatabase } from './context.js';
import { openProcessEventBus, type ProcessEventBus } from './event-bus.js';

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
      // Monitoring: per-minute counts of job outcomes, and the monitoring views kept fresh (one process at a time).
      const throughput = new ThroughputCounter({ pool: handle.pool, log });
      const monitoring = {
        observers: [throughput],
        maintenance: [
          refreshViewsTask({ pool: handle.pool, log, refreshedBy: (): string => worker.id, watchChanges: !handle.server.cockroach }),
          pruneThroughputTask({ pool: handle.pool, log }),
        ],
      };
      const worker = new Worker({
        pool: handle.pool,
        db: await handle.kysely(),
        registry: builtInJobTypes({ sync: ctx.config.sync, market: ctx.config.market, email: ctx.config.email, llm: ctx.config.llm }),
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
        // The workflow tick record grows with every tick; the worker's maintenance keeps it bounded.
        maintenance: [pruneTicksTask({ pool: handle.pool, log, retentionMs: ctx.config.jobRetentionMs }), ...monitoring.maintenance],
        observers: [...monitoring.observers, jobEventsObserver()],
      });
      let events: ProcessEventBus | undefined;
      const service: Service = {
        name: 'worker',
        start: async () => {
          throughput.start();
          events = await openProcessEventBus(ctx, handle, 'worker');
          await worker.start(shutdownSignal);
          return { id: worker.id };
        },
        stop: async (force) => {
          await worker.stop(force);
          // After the worker's last results are written: their counts go in the last flush.
          await throughput.stop();
          await events?.close();
        },
      };
      // Past the shutdown grace running jobs are returned to the queue; 10 s more for the writes.
      return runService(service, { log, graceMs: options.shutdownGrace + 10_000 });
    },
    // An outage is waited for (with backoff), never an exit: `cesar start` would count it as a crash.
    { applicationName: 'cesar-worker', waitForDatabase: 'the worker' },
  );
}

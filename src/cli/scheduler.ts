import { Scheduler } from '../scheduler/scheduler.js';
import { runService, type Service } from '../service.js';
import { builtInStepHandlers } from '../steps/index.js';
import { notRunnableReason } from '../workflows/templates.js';
import { type CliContext, describeDatabase, withDatabase } from './context.js';
import { openProcessEventBus, type ProcessEventBus } from './event-bus.js';

export interface SchedulerCliOptions {
  pollInterval: number;
}

/** `cesar scheduler`: fire due workflow ticks until SIGINT/SIGTERM. Run as many as you like. */
export async function runScheduler(ctx: CliContext, options: SchedulerCliOptions, version: string): Promise<number> {
  const log = ctx.log;
  return withDatabase(
    ctx,
    async (handle) => {
      log.info(`Connected to ${describeDatabase(handle)}`);
      const steps = builtInStepHandlers();
      const scheduler = new Scheduler({
        pool: handle.pool,
        steps,
        log,
        version,
        pollMs: options.pollInterval,
        firstRuns: ctx.config.firstRuns,
      });
      let events: ProcessEventBus | undefined;
      const service: Service = {
        name: 'scheduler',
        start: async () => {
          events = await openProcessEventBus(ctx, handle, 'scheduler');
          await scheduler.start();
          const templates = scheduler.templates;
          const notRunnable = templates.filter((t) => notRunnableReason(t, steps));
          log.info(
            `✅ Workflow scheduler started: ${templates.length} active template(s), ${templates.length - notRunnable.length} runnable`,
          );
          for (const t of notRunnable) log.info(`${t.name}: ${notRunnableReason(t, steps)}; its ticks are recorded as skipped`);
          return { id: scheduler.id };
        },
        stop: async () => {
          await scheduler.stop();
          await events?.close();
        },
      };
      return runService(service, { log, graceMs: 10_000 });
    },
    { applicationName: 'cesar-scheduler', waitForDatabase: 'the scheduler' },
  );
}

import { loadApiToken } from '../auth/token.js';
import { type ChangeFeed, eventBusFeed, mergeFeeds, postgresFeed, tickFeed } from '../dashboard/changes.js';
import { createDashboardApp, defaultTickMs } from '../dashboard/server.js';
import { noEvents } from '../events/envelope.js';
import { defaultMaxConnections } from '../http/limits.js';
import { builtInJobTypes } from '../jobs/index.js';
import { type CliContext, describeDatabase, withDatabase } from './context.js';
import { openProcessEventBus } from './event-bus.js';
import { runHttpService } from './http-service.js';

export interface DashboardCliOptions {
  dashboardPort: number;
  host: string;
}

/** File descriptors kept out of the connection cap for Node itself, logs and spare room (the pool's and LISTEN's are added). */
const reservedFds = 64 + 2;

/** `cesar dashboard`: the live dashboard until SIGINT/SIGTERM. */
export async function runDashboard(ctx: CliContext, options: DashboardCliOptions, version: string): Promise<number> {
  const token = loadApiToken(ctx.config.home, process.env.CESAR_API_TOKEN);
  return withDatabase(
    ctx,
    async (handle) => {
      ctx.log.info(`Connected to ${describeDatabase(handle)}`);
      // Notifications make the pages move at once; the tick catches what nothing notifies (jobs finishing).
      const feeds: ChangeFeed[] = [tickFeed(defaultTickMs)];
      if (ctx.config.listen === 'off' || handle.server.cockroach)
        ctx.log.info(`Dashboard: no LISTEN; live pages update every ${defaultTickMs / 1000} s`);
      else feeds.push(postgresFeed(handle.url, ctx.log));
      const events = await openProcessEventBus(ctx, handle, 'dashboard');
      if (events.bus?.transport === 'redis') feeds.push(eventBusFeed(events.bus, ctx.log));
      const app = createDashboardApp({
        pool: handle.pool,
        db: await handle.kysely(),
        log: ctx.log,
        token: token.value,
        version,
        registry: builtInJobTypes(),
        changes: mergeFeeds(...feeds),
        events: events.bus ?? noEvents,
        jobRetentionMs: ctx.config.jobRetentionMs,
        maxConnections: defaultMaxConnections(reservedFds + ctx.config.poolMax),
      });
      return runHttpService(ctx, {
        name: 'dashboard',
        app,
        host: options.host,
        port: options.dashboardPort,
        flag: '--dashboard-port',
        listeningLine: (url) => `Dashboard listening on ${url} (actions need the API token from ${token.source})`,
        close: () => events.close(),
      });
    },
    { applicationName: 'cesar-dashboard', waitForDatabase: 'the dashboard' },
  );
}

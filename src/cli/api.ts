import { createApiApp } from '../api/app.js';
import { loadApiToken } from '../auth/token.js';
import { defaultMaxConnections } from '../http/limits.js';
import { builtInJobTypes } from '../jobs/index.js';
import { type CliContext, describeDatabase, withDatabase } from './context.js';
import { openProcessEventBus } from './event-bus.js';
import { runHttpService } from './http-service.js';

export interface ApiCliOptions {
  apiPort: number;
  host: string;
}

/** File descriptors kept out of the connection cap for Node itself, logs and spare room (the pool's are added). */
const reservedFds = 64;

/** `cesar api`: the HTTP API until SIGINT/SIGTERM. */
export async function runApi(ctx: CliContext, options: ApiCliOptions, version: string): Promise<number> {
  const token = loadApiToken(ctx.config.home, process.env.CESAR_API_TOKEN);
  return withDatabase(
    ctx,
    async (handle) => {
      ctx.log.info(`Connected to ${describeDatabase(handle)}`);
      const maxConnections = defaultMaxConnections(reservedFds + ctx.config.poolMax);
      ctx.log.debug(`API: at most ${maxConnections} connections at once (from the open-file limit)`);
      const events = await openProcessEventBus(ctx, handle, 'api');
      const app = createApiApp({
        pool: handle.pool,
        db: await handle.kysely(),
        registry: builtInJobTypes(),
        log: ctx.log,
        token: token.value,
        version,
        serverVersion: handle.server.version,
        jobRetentionMs: ctx.config.jobRetentionMs,
        maxConnections,
      });
      return runHttpService(ctx, {
        name: 'api',
        app,
        host: options.host,
        port: options.apiPort,
        flag: '--api-port',
        listeningLine: (url) => `API listening on ${url} (mutations need the bearer token from ${token.source})`,
        close: () => events.close(),
      });
    },
    { applicationName: 'cesar-api', waitForDatabase: 'the API' },
  );
}

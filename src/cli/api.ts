import { createApiServer } from '../api/server.js';
import { loadApiToken } from '../auth/token.js';
import { ConfigError } from '../errors.js';
import { builtInJobTypes } from '../jobs/index.js';
import { declareInterruptHandled, untilShutdown } from '../lifecycle.js';
import { type CliContext, describeDatabase, withDatabase } from './context.js';
import { reportReady } from './supervised.js';

export interface ApiCliOptions {
  apiPort: number;
  host: string;
}

/** `cesar api`: the HTTP API until SIGINT/SIGTERM. */
export async function runApi(ctx: CliContext, options: ApiCliOptions, version: string): Promise<number> {
  declareInterruptHandled();
  const token = loadApiToken(ctx.config.home, process.env.CESAR_API_TOKEN);
  return withDatabase(
    ctx,
    async (handle) => {
      ctx.log.info(`Connected to ${describeDatabase(handle)}`);
      const server = createApiServer({
        pool: handle.pool,
        registry: builtInJobTypes(),
        log: ctx.log,
        token: token.value,
        version,
        serverVersion: handle.server.version,
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err: NodeJS.ErrnoException) =>
          reject(
            err.code === 'EADDRINUSE' || err.code === 'EACCES'
              ? new ConfigError(
                  `port ${options.apiPort} on ${options.host} is ${err.code === 'EADDRINUSE' ? 'in use' : 'not allowed'}; choose another with --api-port`,
                )
              : err,
          ),
        );
        server.listen(options.apiPort, options.host, () => resolve());
      });
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : options.apiPort;
      const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
      ctx.log.info(`API listening on ${url} (mutations need the bearer token from ${token.source})`);
      reportReady({ part: 'api', url, port });
      await untilShutdown();
      ctx.log.info('Stopping the API');
      server.closeIdleConnections();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        setTimeout(() => {
          server.closeAllConnections();
        }, 5000).unref();
      });
      return 0;
    },
    { applicationName: 'cesar-api' },
  );
}

import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { ConfigError } from '../errors.js';

export interface ListenOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** The flag that changes the port, named when it is taken: "--api-port", "--dashboard-port". */
  flag: string;
}

/** Listen on host:port. A port in use or not allowed is a ConfigError (exit 78) naming the flag that changes it. */
export async function listenHttp(app: FastifyInstance, options: ListenOptions): Promise<{ url: string; port: number }> {
  const { host, port, flag } = options;
  try {
    await app.listen({ host, port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      throw new ConfigError(`port ${port} on ${host} is ${code === 'EADDRINUSE' ? 'in use' : 'not allowed'}; choose another with ${flag}`);
    }
    throw err;
  }
  const bound = (app.server.address() as AddressInfo | null)?.port ?? port;
  return { url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`, port: bound };
}

/**
 * Stop an app: refuse new connections, close idle ones at once, let requests in flight finish;
 * when force aborts (grace period over, second signal), close every connection.
 */
export async function closeHttp(app: FastifyInstance, force: AbortSignal): Promise<void> {
  const closeAll = () => app.server.closeAllConnections();
  if (force.aborted) closeAll();
  else force.addEventListener('abort', closeAll, { once: true });
  try {
    await app.close();
  } finally {
    force.removeEventListener('abort', closeAll);
  }
}

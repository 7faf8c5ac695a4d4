import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { DatabaseError } from '../errors.js';

/**
 * A lock per CESAR_HOME, held while the embedded server is started, joined or stopped.
 *
 * It is a listening Unix socket: on Linux in the abstract namespace, which the kernel frees the moment
 * its process dies (even by SIGKILL), so there is never a stale lock to clean up. Elsewhere it is a
 * socket file in CESAR_HOME; a leftover file nobody answers on is removed and taken.
 */
export async function lockHome(home: string, timeoutMs: number, purpose: string): Promise<() => Promise<void>> {
  const address = lockAddress(home);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const server = net.createServer();
    const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      server.once('error', (err: NodeJS.ErrnoException) => resolve(err));
      server.listen({ path: address, exclusive: true }, () => resolve(undefined));
    });
    if (!error) {
      server.unref();
      return () => new Promise<void>((resolve) => server.close(() => resolve()));
    }
    if (error.code !== 'EADDRINUSE') {
      throw new DatabaseError(`cannot lock ${home} for the embedded server: ${error.message}`, 'embedded_failed');
    }
    if (!address.startsWith('\0') && !(await answers(address))) {
      fs.rmSync(address, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new DatabaseError(
        `timed out after ${Math.round(timeoutMs / 1000)} s waiting for another cesar process to finish ${purpose} in ${home}`,
        'embedded_failed',
        'check for a hung cesar process using this CESAR_HOME',
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 30));
  }
}

function lockAddress(home: string): string {
  const id = createHash('sha256').update(path.resolve(home)).digest('hex').slice(0, 32);
  return process.platform === 'linux' ? `\0cesar-home-${id}` : path.join(home, '.embedded.lock');
}

function answers(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ path: address });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

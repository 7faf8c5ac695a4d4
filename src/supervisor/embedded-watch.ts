import path from 'node:path';
import type { Queryable } from '../db/queryable.js';
import { isDatabaseUnreachable } from '../db/wait.js';

export interface EmbeddedWatch {
  /** Resolves with the reason once the embedded server stopped answering; never rejects. */
  readonly stopped: Promise<string>;
  cancel(): void;
}

/**
 * `cesar start` on the embedded PostgreSQL owns that server: nobody else restarts it if it dies, so
 * waiting for it (as parts do for an external server) would wait forever. Probe it every few
 * seconds; after several failed probes in a row (a crash-recovery restart of the server takes less)
 * report it stopped, and start stops everything.
 */
export function watchEmbedded(pool: Queryable, home: string, everyMs = 5000, failuresAllowed = 3): EmbeddedWatch {
  let timer: NodeJS.Timeout | undefined;
  let cancelled = false;
  let failures = 0;
  const stopped = new Promise<string>((resolve) => {
    const probe = async () => {
      try {
        await pool.query({ text: 'SELECT 1' });
        failures = 0;
      } catch (err) {
        if (isDatabaseUnreachable(err)) failures += 1;
        if (failures >= failuresAllowed) {
          resolve(
            `the embedded PostgreSQL stopped answering (${(err as Error).message}); see ${path.join(home, 'postgres.log')}, then run \`cesar start\` again`,
          );
          return;
        }
      }
      if (!cancelled) timer = setTimeout(() => void probe(), everyMs);
    };
    timer = setTimeout(() => void probe(), everyMs);
  });
  return {
    stopped,
    cancel() {
      cancelled = true;
      clearTimeout(timer);
    },
  };
}

import type { Kysely } from 'kysely';
import type pg from 'pg';
import { migrationStatus } from '../db/migrator.js';
import type { Database } from '../db/types.js';
import { maskSecrets } from '../mask.js';
import { listWorkers, queueSummary } from '../read-model/index.js';

export interface HealthAnswer {
  statusCode: number;
  body: unknown;
}

/** GET /health: the database round trip, live workers and queue counts; 503 when the database does not answer. */
export async function health(db: Kysely<Database>, versions: { version: string; serverVersion: string }): Promise<HealthAnswer> {
  const started = performance.now();
  try {
    const [queue, workers] = await Promise.all([queueSummary(db), listWorkers(db, { includeStopped: false, limit: 100 })]);
    return {
      statusCode: 200,
      body: {
        status: 'ok',
        version: versions.version,
        database: { round_trip_ms: Math.round((performance.now() - started) * 100) / 100, server: versions.serverVersion },
        workers: workers.map((w) => ({ id: w.id, last_heartbeat_at: w.last_heartbeat_at, live: w.state === 'live' })),
        queue,
      },
    };
  } catch (err) {
    return {
      statusCode: 503,
      body: { status: 'unavailable', reason: `database: ${maskSecrets((err as Error).message)}`, version: versions.version },
    };
  }
}

/** GET /ready: 200 when the database answers and no migration is pending; else 503 with the reason. */
export async function ready(pool: pg.Pool): Promise<HealthAnswer> {
  try {
    const status = await migrationStatus(pool);
    if (status.applied.length === 0) {
      return { statusCode: 503, body: { ready: false, reason: 'the database has no cesar schema (run `cesar migrate`)' } };
    }
    if (status.pending.length > 0) {
      return { statusCode: 503, body: { ready: false, reason: `${status.pending.length} migrations pending (run \`cesar migrate\`)` } };
    }
    return { statusCode: 200, body: { ready: true } };
  } catch (err) {
    return { statusCode: 503, body: { ready: false, reason: `database: ${maskSecrets((err as Error).message)}` } };
  }
}

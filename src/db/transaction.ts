import type { Kysely, Transaction } from 'kysely';
import type { Queryable } from './queryable.js';
import type { Database } from './types.js';

/** SQLSTATEs after which the whole transaction may simply run again: serialization failure, deadlock. */
const retryable = new Set(['40001', '40P01']);

export interface TransactionOptions {
  /** Runs of fn after the first when the database asks for a retry (default 3). */
  retries?: number;
}

/**
 * Run fn in one transaction: everything it writes commits together, or nothing does (it rolls back
 * on any throw). When the database aborts the transaction as a serialization failure or deadlock
 * (CockroachDB does this under contention and expects the client to retry), fn runs again from the
 * start, a few times, after a short jittered pause: so fn must do nothing outside the database that
 * cannot be repeated.
 */
export async function withTransaction<T>(
  db: Kysely<Database>,
  fn: (trx: Transaction<Database>) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const retries = options.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    try {
      return await db.transaction().execute(fn);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (attempt >= retries || code === undefined || !retryable.has(code)) throw err;
      await new Promise((r) => setTimeout(r, 10 * 2 ** attempt * (0.5 + Math.random())));
    }
  }
}

/** A pool of connections (pg.Pool), as withClientTransaction needs it. */
export interface ConnectionPool {
  connect(): Promise<Queryable & { release(err?: Error | boolean): void }>;
}

/**
 * withTransaction for raw SQL: fn runs on one connection between BEGIN and COMMIT, and runs again
 * (a few times) when the database asks for a retry. Used where Kysely's start-up cost is not wanted
 * (`cesar enqueue --workflow` from cron) or plain SQL reads better.
 */
export async function withClientTransaction<T>(
  pool: ConnectionPool,
  fn: (client: Queryable) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const retries = options.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query({ text: 'BEGIN' });
      const result = await fn(client);
      await client.query({ text: 'COMMIT' });
      return result;
    } catch (err) {
      await client.query({ text: 'ROLLBACK' }).catch((rollbackError: Error) => {
        broken = rollbackError; // the connection is unusable: do not return it to the pool
      });
      const code = (err as { code?: string }).code;
      if (attempt >= retries || code === undefined || !retryable.has(code)) throw err;
    } finally {
      client.release(broken);
    }
    await new Promise((r) => setTimeout(r, 10 * 2 ** attempt * (0.5 + Math.random())));
  }
}

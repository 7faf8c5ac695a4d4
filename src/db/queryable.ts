import type { Kysely, Transaction } from 'kysely';

/** What the queue and other core modules run SQL on: a pg Pool, a pg client inside the caller's transaction, or Kysely. */
export interface Queryable {
  query<R = Record<string, unknown>>(config: {
    text: string;
    values?: unknown[];
    name?: string;
  }): Promise<{ rows: R[]; rowCount: number | null }>;
}

/** A pg Pool or client is Queryable as it is; a Kysely instance or transaction is wrapped. */
// biome-ignore lint/suspicious/noExplicitAny: any database schema: only raw SQL goes through it
export function asQueryable(db: Queryable | Kysely<any> | Transaction<any>): Queryable {
  if ('query' in db && typeof db.query === 'function') return db as Queryable;
  const kysely = db as Kysely<unknown>;
  return {
    async query<R>(config: { text: string; values?: unknown[] }) {
      // Loaded already by whoever made the Kysely instance: this import costs nothing then.
      const { CompiledQuery } = await import('kysely');
      const result = await kysely.executeQuery<R>(CompiledQuery.raw(config.text, config.values ?? []));
      return {
        rows: result.rows as R[],
        rowCount: result.numAffectedRows === undefined ? result.rows.length : Number(result.numAffectedRows),
      };
    },
  };
}

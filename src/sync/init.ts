import fs from 'node:fs';
import path from 'node:path';
import { schemaDir } from '../db/migrator.js';
import { withClientTransaction } from '../db/transaction.js';
import { StateError } from '../errors.js';
import type { Logger } from '../log.js';
import { openRemote, remoteSide } from './remote.js';
import { localOrigin, syncedTables } from './tables.js';

export interface InitResult {
  where: string;
  /** Synced tables that init created (the others were there already). */
  created: string[];
  existing: string[];
}

/** The files init runs on Supabase, in order (the second is the one migrate runs here). */
export const remoteSchemaFiles = [path.join(schemaDir, 'remote', 'supabase.sql'), path.join(schemaDir, '018_sync_rows.sql')];

/**
 * `cesar sync init`: prepare Supabase for the sync, idempotently, in one transaction: the synced
 * tables when missing, then their sync columns, triggers and tombstones. Tables that exist already
 * must have the columns the sync carries: init lists any that are missing and changes nothing.
 */
export async function initRemote(url: string, log: Logger): Promise<InitResult> {
  const remote = await openRemote(url, log);
  try {
    const side = await remoteSide(remote.pool);
    if (side === localOrigin) {
      throw new StateError(
        `SUPABASE_DB_URL (${remote.displayUrl}) is a cesar database, not Supabase: init would make both sides one`,
        'point SUPABASE_DB_URL at the Supabase database',
      );
    }
    return await withClientTransaction(remote.pool, async (q) => {
      const before = await q.query<{ name: string }>({
        text: `SELECT c.relname AS name FROM pg_class c WHERE c.relkind = 'r' AND c.relname = ANY($1::text[]) AND pg_table_is_visible(c.oid)`,
        values: [syncedTables.map((t) => t.name)],
      });
      const existing = before.rows.map((r) => r.name);
      const missing = await missingColumns(q, existing);
      if (missing.length > 0) {
        throw new StateError(
          `Supabase at ${remote.where} has synced tables without the columns the sync carries: ${missing.join(', ')}`,
          'add them (see schema/remote/supabase.sql), then run `cesar sync init` again',
        );
      }
      for (const file of remoteSchemaFiles) await q.query({ text: fs.readFileSync(file, 'utf8') });
      return { where: remote.where, created: syncedTables.map((t) => t.name).filter((n) => !existing.includes(n)), existing };
    });
  } finally {
    await remote.close();
  }
}

/** Columns a later cesar carries that schema/remote/supabase.sql adds to an existing table itself. */
const columnsInitAdds = ['financial_data.bar_interval', 'financial_data.adj_close'];

async function missingColumns(
  q: { query: <R>(c: { text: string; values?: unknown[] }) => Promise<{ rows: R[] }> },
  tables: string[],
): Promise<string[]> {
  if (tables.length === 0) return [];
  const { rows } = await q.query<{ table_name: string; column_name: string }>({
    text: `SELECT table_name, column_name FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = ANY($1::text[])`,
    values: [tables],
  });
  const missing: string[] = [];
  for (const name of tables) {
    const spec = syncedTables.find((t) => t.name === name)!;
    const have = new Set(rows.filter((r) => r.table_name === name).map((r) => r.column_name));
    for (const column of ['id', 'updated_at', ...spec.columns, ...spec.references.map((r) => r.column)]) {
      if (!have.has(column) && !columnsInitAdds.includes(`${name}.${column}`)) missing.push(`${name}.${column}`);
    }
  }
  return missing;
}

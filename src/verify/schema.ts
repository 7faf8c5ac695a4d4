import { migrationStatus } from '../db/migrator.js';
import { requiredTables } from '../reference.js';
import { existingRelations } from './catalog.js';
import { attempt, type Check } from './types.js';

/** SCHEMA: every table is there, and the database is at this cesar's migration level. */
export const checkSchema: Check = async ({ pool }) => {
  const problems: string[] = [];
  const names = requiredTables.map(([t]) => t);
  const present = (await attempt(problems, 'reading the catalog', () => existingRelations(pool, names))) ?? new Set<string>();
  const counts = new Map<string, number>();
  const existing = names.filter((t) => present.has(t));
  if (existing.length > 0) {
    const sql = existing.map((t) => `SELECT '${t}' AS name, count(*) AS n FROM ${t}`).join(' UNION ALL ');
    const rows = await attempt(problems, 'counting rows', async () => (await pool.query<{ name: string; n: number }>(sql)).rows);
    for (const row of rows ?? []) counts.set(row.name, row.n);
  }
  const missing = names.filter((t) => !present.has(t));
  if (missing.length > 0) problems.push(`missing table${missing.length > 1 ? 's' : ''}: ${missing.join(', ')} (run \`cesar migrate\`)`);

  const status = await attempt(problems, 'reading schema_migrations', () => migrationStatus(pool));
  const facts: string[] = [];
  if (status) {
    facts.push(`Migrations: ${status.applied.length} applied, ${status.pending.length} pending`);
    if (status.pending.length > 0)
      problems.push(`pending migrations: ${status.pending.map((f) => f.file).join(', ')} (run \`cesar migrate\`)`);
    for (const f of status.changed) problems.push(`schema/${f.file} changed after it was applied`);
    for (const a of status.unknown) problems.push(`migration ${a.version} (${a.name}) is newer than this cesar`);
  }
  return {
    passed: problems.length === 0,
    summary: `${present.size} of ${names.length} tables present`,
    problems,
    facts,
    table: {
      head: ['Table', 'Rows', 'Purpose', 'Status'],
      rows: requiredTables.map(([t, purpose]) => [
        t,
        counts.has(t) ? String(counts.get(t)) : '-',
        purpose,
        present.has(t) ? '✅' : '❌ missing',
      ]),
    },
  };
};

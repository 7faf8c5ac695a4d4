import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { DatabaseError, InternalError } from '../errors.js';
import type { Logger } from '../log.js';
import { packageRoot } from '../package-info.js';

/** schema/ of the installed package (from src/db or dist/db alike). */
export const schemaDir = path.join(packageRoot, 'schema');

export interface MigrationFile {
  version: number;
  name: string;
  file: string;
  sql: string;
  checksum: string;
}

export interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
  appliedAt: Date;
  durationMs: number | null;
}

export interface MigrationStatus {
  applied: AppliedMigration[];
  pending: MigrationFile[];
  /** Applied files whose content changed since. */
  changed: MigrationFile[];
  /** Versions in the database that this cesar does not know (a newer cesar migrated it). */
  unknown: AppliedMigration[];
}

const fileName = /^(\d{3})_([a-z0-9_]+)\.sql$/;

export function readMigrationFiles(dir = schemaDir): MigrationFile[] {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const seen = new Map<number, string>();
  return files.map((file) => {
    const match = fileName.exec(file);
    if (!match) throw new InternalError(`schema/${file} is not named NNN_name.sql`);
    const version = Number(match[1]);
    const twin = seen.get(version);
    if (twin) throw new InternalError(`schema/${file} and schema/${twin} share version ${version}`);
    seen.set(version, file);
    const sql = fs.readFileSync(path.join(dir, file), 'utf8');
    return { version, name: match[2]!, file, sql, checksum: checksum(sql) };
  });
}

function checksum(sql: string): string {
  return createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex');
}

const createMigrationsTable = `
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer     PRIMARY KEY,
    name        text        NOT NULL,
    checksum    text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    duration_ms integer
)`;

/** Applied migrations, or undefined when the database has no schema_migrations table. */
export async function appliedMigrations(pool: pg.Pool): Promise<AppliedMigration[] | undefined> {
  const { rows: exists } = await pool.query(`SELECT to_regclass('schema_migrations') IS NOT NULL AS present`);
  if (!exists[0]?.present) return undefined;
  const { rows } = await pool.query<{ version: number; name: string; checksum: string; applied_at: Date; duration_ms: number | null }>(
    'SELECT version, name, checksum, applied_at, duration_ms FROM schema_migrations ORDER BY version',
  );
  return rows.map((r) => ({ version: r.version, name: r.name, checksum: r.checksum, appliedAt: r.applied_at, durationMs: r.duration_ms }));
}

export async function migrationStatus(pool: pg.Pool, files = readMigrationFiles()): Promise<MigrationStatus> {
  return compare(files, (await appliedMigrations(pool)) ?? []);
}

function compare(files: MigrationFile[], applied: AppliedMigration[]): MigrationStatus {
  const byVersion = new Map(applied.map((a) => [a.version, a]));
  const known = new Set(files.map((f) => f.version));
  return {
    applied,
    pending: files.filter((f) => !byVersion.has(f.version)),
    changed: files.filter((f) => {
      const a = byVersion.get(f.version);
      return a !== undefined && a.checksum !== f.checksum;
    }),
    unknown: applied.filter((a) => !known.has(a.version)),
  };
}

/** Refuse to touch a database whose applied files changed, or that a newer cesar migrated. */
export function assertMigratable(status: MigrationStatus): void {
  const changed = status.changed[0];
  if (changed) {
    throw new DatabaseError(
      `schema/${changed.file} was changed after it was applied (checksum differs); cesar will not migrate`,
      'migration_changed',
      'restore the file as it was applied and put the change in a new schema/NNN_name.sql',
    );
  }
  const unknown = status.unknown[0];
  if (unknown) {
    throw new DatabaseError(
      `the database has migration ${String(unknown.version).padStart(3, '0')}_${unknown.name}, which this cesar does not know: it was migrated by a newer cesar`,
      'schema_ahead',
      'upgrade cesar',
    );
  }
}

/**
 * Apply pending schema files in order, one transaction each. Each transaction first inserts its
 * schema_migrations row: a concurrent migrator blocks on that row, then gets a unique violation once
 * we commit, and moves on. So two `cesar migrate` at once apply each file exactly once, in order.
 */
export async function migrate(pool: pg.Pool, log: Logger, files = readMigrationFiles()): Promise<MigrationFile[]> {
  await createTableOnce(pool);
  let status = await migrationStatus(pool, files);
  assertMigratable(status);
  const applied: MigrationFile[] = [];
  for (const file of status.pending) {
    if (await applyOne(pool, file, log)) applied.push(file);
  }
  status = await migrationStatus(pool, files);
  assertMigratable(status);
  return applied;
}

async function createTableOnce(pool: pg.Pool): Promise<void> {
  try {
    await pool.query(createMigrationsTable);
  } catch (err) {
    // Two migrators creating it at the same instant: the loser sees a duplicate (of the key, the
    // table, or its row type: 42710 "type already exists"); the table exists.
    const code = (err as { code?: string }).code;
    if (code !== '23505' && code !== '42P07' && code !== '42710') throw err;
  }
}

async function applyOne(pool: pg.Pool, file: MigrationFile, log: Logger): Promise<boolean> {
  const client = await pool.connect();
  const started = Date.now();
  try {
    await client.query('BEGIN');
    try {
      await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
        file.version,
        file.name,
        file.checksum,
      ]);
    } catch (err) {
      await client.query('ROLLBACK');
      if ((err as { code?: string }).code === '23505') {
        log.debug(`schema/${file.file} was applied by another cesar meanwhile`);
        return false;
      }
      throw err;
    }
    try {
      await client.query(file.sql);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      const e = err as { message?: string; position?: string };
      throw new DatabaseError(
        `schema/${file.file} failed and was rolled back: ${e.message ?? String(err)}`,
        'migration_failed',
        undefined,
        { cause: err },
      );
    }
    const durationMs = Date.now() - started;
    await client.query('UPDATE schema_migrations SET duration_ms = $2 WHERE version = $1', [file.version, durationMs]);
    await client.query('COMMIT');
    log.info(`Applied schema/${file.file} (${durationMs} ms)`);
    return true;
  } finally {
    client.release();
  }
}

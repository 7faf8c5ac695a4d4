import { migrate, migrationStatus, readMigrationFiles } from '../db/migrator.js';
import { type CliContext, describeDatabase, withDatabase } from './context.js';
import { printJson, renderTable } from './output.js';

export interface MigrateOptions {
  status?: boolean;
  json?: boolean;
}

/** `cesar migrate`: apply pending schema files (creating the database when missing); `--status` lists them. */
export async function runMigrate(ctx: CliContext, options: MigrateOptions): Promise<number> {
  const files = readMigrationFiles();
  return withDatabase(
    ctx,
    async (handle) => {
      if (!options.json) ctx.log.info(`Connected to ${describeDatabase(handle)}`);
      if (options.status) {
        const status = await migrationStatus(handle.pool, files);
        const applied = new Map(status.applied.map((a) => [a.version, a]));
        const changed = new Set(status.changed.map((c) => c.version));
        const rows = files.map((f) => {
          const a = applied.get(f.version);
          const state = !a ? 'pending' : changed.has(f.version) ? 'CHANGED since applied' : 'applied';
          return { version: f.version, file: f.file, state, applied_at: a?.appliedAt.toISOString() ?? null };
        });
        for (const u of status.unknown) {
          rows.push({
            version: u.version,
            file: `${String(u.version).padStart(3, '0')}_${u.name}.sql`,
            state: 'unknown to this cesar',
            applied_at: u.appliedAt.toISOString(),
          });
        }
        if (options.json) {
          printJson(ctx.out, { database: handle.displayUrl, migrations: rows, pending: status.pending.length });
        } else {
          ctx.out(
            renderTable(
              ['Version', 'File', 'Status', 'Applied at'],
              rows.map((r) => [r.version, r.file, r.state, r.applied_at ?? '']),
            ),
          );
          ctx.out(`${status.applied.length} applied, ${status.pending.length} pending`);
        }
        return 0;
      }
      const applied = await migrate(handle.pool, ctx.log, files);
      if (options.json) {
        printJson(ctx.out, { database: handle.displayUrl, applied: applied.map((f) => f.file), total: files.length });
      } else if (applied.length === 0) {
        ctx.out(`Nothing to migrate: all ${files.length} migrations are applied.`);
      } else {
        ctx.out(`Migrated: applied ${applied.length} of ${files.length} migrations; the database is up to date.`);
      }
      return 0;
    },
    { createIfMissing: !options.status },
  );
}

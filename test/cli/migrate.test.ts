import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type pg from 'pg';
import { migrate, migrationStatus, readMigrationFiles, schemaDir } from '../../src/db/migrator.js';
import { silentLogger } from '../../src/log.js';
import { cesar } from '../helpers/cli.js';
import { adminUrl, createTestDatabase, freshDatabaseName, openTestDatabase, sql, type TestDatabase, urlFor } from '../helpers/db.js';

const databases: TestDatabase[] = [];
after(async () => {
  await Promise.all(databases.map((d) => d.drop()));
});
async function emptyDatabase(): Promise<TestDatabase> {
  const d = await createTestDatabase({ migrated: false });
  databases.push(d);
  return d;
}

const fileCount = readMigrationFiles().length;

/** Run fn with a throwaway schema directory and a pool on the database; both are cleaned up. */
async function withSchemaDir(url: string, fn: (dir: string, pool: pg.Pool) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cesar-schema-'));
  const handle = await openTestDatabase(url);
  try {
    await fn(dir, handle.pool);
  } finally {
    await handle.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('cesar migrate', () => {
  it('applies every schema file with the reference data, then changes nothing on a second run', async () => {
    const d = await emptyDatabase();
    const first = await cesar(['migrate'], { DATABASE_URL: d.url });
    assert.equal(first.exitCode, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`applied ${fileCount} of ${fileCount} migrations`));
    const [counts] = await sql(
      d.url,
      `SELECT
        (SELECT count(*) FROM agents WHERE status = 'active') AS agents,
        (SELECT count(DISTINCT agent_type) FROM agents) AS types,
        (SELECT count(*) FROM workflow_templates) AS templates,
        (SELECT count(*) FROM sync_tables) AS sync_tables,
        (SELECT count(*) FROM sync_systems) AS sync_systems,
        (SELECT count(*) FROM supabase_sync_state) AS sync_state,
        (SELECT count(*) FROM sync_status) AS sync_status`,
    );
    assert.deepEqual(
      { ...counts },
      { agents: '48', types: counts!.types, templates: '5', sync_tables: '5', sync_systems: '3', sync_state: '5', sync_status: '3' },
    );
    assert.ok(Number(counts!.types) >= 15);
    const schedules = await sql(d.url, 'SELECT name, cron_expression, timezone, is_active FROM workflow_templates ORDER BY name');
    assert.deepEqual(
      schedules.map((s) => [s.name, s.cron_expression, s.timezone, s.is_active]),
      [
        ['daily_financial_analysis', '0 9 * * *', 'UTC', true],
        ['knowledge_graph_update', '*/30 * * * *', 'UTC', true],
        ['llm_cache_refresh', '0 */4 * * *', 'UTC', true],
        ['memory_consolidation', '0 2 * * *', 'UTC', true],
        ['supabase_sync', '*/15 * * * *', 'UTC', true],
      ],
    );

    const snapshot = await sql(d.url, "SELECT md5(string_agg(a::text, '|' ORDER BY id)) AS h FROM agents a");
    const second = await cesar(['migrate'], { DATABASE_URL: d.url });
    assert.equal(second.exitCode, 0, second.stderr);
    assert.match(second.stdout, /Nothing to migrate/);
    assert.deepEqual(await sql(d.url, "SELECT md5(string_agg(a::text, '|' ORDER BY id)) AS h FROM agents a"), snapshot);
  });

  it("keeps an operator's edits to agents and templates, even if the reference data ran again", async () => {
    const d = await emptyDatabase();
    assert.equal((await cesar(['migrate'], { DATABASE_URL: d.url })).exitCode, 0);
    await sql(d.url, `UPDATE agents SET description = 'tuned by ops', config = '{"model":"custom"}' WHERE name = 'Copywriter'`);
    await sql(d.url, `UPDATE workflow_templates SET cron_expression = '5 9 * * 1-5' WHERE name = 'daily_financial_analysis'`);
    assert.equal((await cesar(['migrate'], { DATABASE_URL: d.url })).exitCode, 0);
    // Re-apply the seed file itself: ON CONFLICT DO NOTHING never overwrites.
    const seed = readMigrationFiles().find((f) => f.name === 'reference_data')!;
    await sql(d.url, seed.sql);
    const [agent] = await sql(d.url, `SELECT description, config FROM agents WHERE name = 'Copywriter'`);
    assert.equal(agent!.description, 'tuned by ops');
    assert.deepEqual(agent!.config, { model: 'custom' });
    const [template] = await sql(d.url, `SELECT cron_expression FROM workflow_templates WHERE name = 'daily_financial_analysis'`);
    assert.equal(template!.cron_expression, '5 9 * * 1-5');
    assert.equal((await sql(d.url, 'SELECT count(*) AS n FROM agents'))[0]!.n, '48');
  });

  it('creates the database of DATABASE_URL when it does not exist', async () => {
    const name = freshDatabaseName();
    databases.push({
      name,
      url: urlFor(name),
      drop: async () => {
        await sql(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      },
    });
    const r = await cesar(['migrate'], { DATABASE_URL: urlFor(name) });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`Created database ${name}`));
    const verify = await cesar(['verify', '--json'], { DATABASE_URL: urlFor(name) });
    // Every check passes on a fresh migration.
    assert.equal(verify.exitCode, 0, verify.stdout);
    const failing = JSON.parse(verify.stdout).checks.filter((c: { status: string }) => c.status === 'FAIL');
    assert.deepEqual(
      failing.map((c: { name: string }) => c.name),
      [],
    );
  });

  it('lists applied and pending files with --status', async () => {
    const d = await emptyDatabase();
    const before = await cesar(['migrate', '--status', '--json'], { DATABASE_URL: d.url });
    assert.equal(before.exitCode, 0, before.stderr);
    const pending = JSON.parse(before.stdout);
    assert.equal(pending.pending, fileCount);
    assert.ok(pending.migrations.every((m: { state: string }) => m.state === 'pending'));
    await cesar(['migrate'], { DATABASE_URL: d.url });
    const text = await cesar(['migrate', '--status'], { DATABASE_URL: d.url });
    assert.equal(text.exitCode, 0);
    assert.match(text.stdout, /001_agents\.sql\s+│ applied/);
    assert.match(text.stdout, new RegExp(`${fileCount} applied, 0 pending`));
  });

  it('two migrate at once: one applies, the other waits and finds nothing to do; both exit 0', async () => {
    const d = await emptyDatabase();
    const [a, b] = await Promise.all([cesar(['migrate'], { DATABASE_URL: d.url }), cesar(['migrate'], { DATABASE_URL: d.url })]);
    assert.equal(a.exitCode, 0, a.stderr);
    assert.equal(b.exitCode, 0, b.stderr);
    const applied = await sql(d.url, 'SELECT version FROM schema_migrations ORDER BY version');
    assert.equal(applied.length, fileCount);
    assert.equal((await sql(d.url, 'SELECT count(*) AS n FROM agents'))[0]!.n, '48');
    // Every file was applied exactly once between the two.
    const total = [a, b].map((r) => (r.stderr.match(/Applied schema\//g) ?? []).length).reduce((x, y) => x + y, 0);
    assert.equal(total, fileCount);
  });

  it('refuses, naming the file, when an applied file changed', async () => {
    const d = await emptyDatabase();
    await withSchemaDir(d.url, async (dir, pool) => {
      for (const f of fs.readdirSync(schemaDir).filter((name) => name.endsWith('.sql'))) {
        fs.copyFileSync(path.join(schemaDir, f), path.join(dir, f));
      }
      await migrate(pool, silentLogger, readMigrationFiles(dir));
      fs.appendFileSync(path.join(dir, '003_queue.sql'), '\n-- an edit after the fact\n');
      await assert.rejects(migrate(pool, silentLogger, readMigrationFiles(dir)), (err: Error & { exitCode: number }) => {
        assert.match(err.message, /schema\/003_queue\.sql was changed after it was applied/);
        assert.equal(err.exitCode, 2);
        return true;
      });
      const status = await migrationStatus(pool, readMigrationFiles(dir));
      assert.deepEqual(
        status.changed.map((f) => f.file),
        ['003_queue.sql'],
      );
    });
  });

  it('refuses a database migrated by a newer cesar', async () => {
    const d = await emptyDatabase();
    assert.equal((await cesar(['migrate'], { DATABASE_URL: d.url })).exitCode, 0);
    await sql(d.url, `INSERT INTO schema_migrations (version, name, checksum) VALUES (999, 'from_the_future', 'x')`);
    const r = await cesar(['migrate'], { DATABASE_URL: d.url });
    assert.equal(r.exitCode, 2);
    assert.match(r.stderr, /999_from_the_future.*newer cesar/);
  });

  it('rolls back a failing file entirely and reports it', async () => {
    const d = await emptyDatabase();
    await withSchemaDir(d.url, async (dir, pool) => {
      fs.writeFileSync(path.join(dir, '001_ok.sql'), 'CREATE TABLE t1 (id int);');
      fs.writeFileSync(path.join(dir, '002_bad.sql'), 'CREATE TABLE t2 (id int);\nSELECT no_such_function();');
      await assert.rejects(migrate(pool, silentLogger, readMigrationFiles(dir)), /schema\/002_bad\.sql failed and was rolled back/);
      const tables = await sql(d.url, `SELECT to_regclass('t1') IS NOT NULL AS t1, to_regclass('t2') IS NOT NULL AS t2`);
      assert.deepEqual({ ...tables[0] }, { t1: true, t2: false });
      assert.deepEqual(
        (await sql(d.url, 'SELECT version FROM schema_migrations')).map((r) => r.version),
        [1],
      );
    });
  });

  it('010 keeps the attempt history written before it, renumbering the attempts of returned jobs by claim', async () => {
    const d = await emptyDatabase();
    const handle = await openTestDatabase(d.url);
    const pool = handle.pool;
    try {
      const files = readMigrationFiles();
      await migrate(
        pool,
        silentLogger,
        files.filter((f) => f.version < 10),
      );
      // Before 010 a returned attempt's number was reused by the next claim.
      await sql(
        d.url,
        `INSERT INTO job_queue (id, job_type, status, attempts, finished_at) OVERRIDING SYSTEM VALUE
          VALUES (7, 'canary', 'completed', 1, now()), (8, 'canary', 'failed', 1, now())`,
      );
      await sql(
        d.url,
        `INSERT INTO job_attempts (job_id, attempt, worker_id, outcome, finished_at) VALUES
          (7, 1, 'a', 'returned', now()), (7, 1, 'b', 'succeeded', now()), (8, 1, 'a', 'failed', now())`,
      );
      await migrate(pool, silentLogger, files);
      const history = await sql(d.url, 'SELECT job_id, attempt, worker_id, outcome FROM job_attempts ORDER BY job_id, attempt');
      assert.deepEqual(
        history.map((r) => [Number(r.job_id), r.attempt, r.worker_id, r.outcome]),
        [
          [7, 1, 'a', 'returned'],
          [7, 2, 'b', 'succeeded'],
          [8, 1, 'a', 'failed'],
        ],
      );
      const jobs = await sql(d.url, 'SELECT id, attempts, claims FROM job_queue ORDER BY id');
      assert.deepEqual(
        jobs.map((r) => [Number(r.id), r.attempts, r.claims]),
        [
          [7, 1, 2],
          [8, 1, 1],
        ],
      );
    } finally {
      await handle.close();
    }
  });
});

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { builtInStepHandlers } from '../../src/steps/index.js';
import { cesar } from '../helpers/cli.js';
import { createTestDatabase, makeTemplatesRunnable, sql, type TestDatabase } from '../helpers/db.js';

const allChecks = ['SCHEMA', 'WORKFLOWS', 'JOBS', 'MONITORING', 'AGENTS', 'DATA_FLOW'];
const readyLine = '🎉 100% COMPLETE - SYSTEM READY FOR END-TO-END WORKFLOW!';

const databases: TestDatabase[] = [];
after(async () => {
  await Promise.all(databases.map((d) => d.drop()));
});

/** A database of its own; migrated ones have runnable templates unless `asMigrated` (no step handler of the five yet). */
async function database(migrated = true, asMigrated = false): Promise<TestDatabase> {
  const d = await createTestDatabase({ migrated });
  databases.push(d);
  if (migrated && !asMigrated) await makeTemplatesRunnable(d.url);
  return d;
}

function verdicts(stdout: string): Record<string, string> {
  const found: Record<string, string> = {};
  for (const m of stdout.matchAll(/^(?:✅|❌) ([A-Z_]+): (PASS|FAIL)$/gm)) found[m[1]!] = m[2]!;
  return found;
}

describe('cesar verify', () => {
  it('fails WORKFLOWS alone when an active template has a step without a handler, naming only those steps (exit 1)', async () => {
    const d = await database(true, true);
    await sql(
      d.url,
      `WITH t AS (INSERT INTO workflow_templates (name, description, cron_expression) VALUES ('half_built', 'test', '0 0 * * *') RETURNING id)
       INSERT INTO workflow_steps (template_id, step_order, name, agent_type, action, description)
       SELECT id, 1, 'first', 'monitor', 'canary', '' FROM t UNION ALL SELECT id, 2, 'later', 'monitor', 'not_built', '' FROM t`,
    );
    // The reference templates whose steps have no handler in this cesar yet (none, once all five are built).
    const handlers = new Set(builtInStepHandlers().names());
    const steps = await sql(
      d.url,
      `SELECT w.name AS template, s.action FROM workflow_steps s JOIN workflow_templates w ON w.id = s.template_id`,
    );
    const lacking = new Set(steps.filter((s) => !handlers.has(String(s.action))).map((s) => String(s.template)));
    const r = await cesar(['verify', '--json'], { DATABASE_URL: d.url });
    assert.equal(r.exitCode, 1, r.stderr);
    const report = JSON.parse(r.stdout);
    const failed = report.checks.filter((c: { status: string }) => c.status === 'FAIL').map((c: { name: string }) => c.name);
    assert.deepEqual(failed, ['WORKFLOWS']);
    const problems: string[] = report.checks.find((c: { name: string }) => c.name === 'WORKFLOWS').problems;
    assert.deepEqual(problems.map((p) => /^template (\S+) is not runnable/.exec(p)?.[1]).sort(), [...lacking].sort(), problems.join(' | '));
    assert.ok(
      problems.includes('template half_built is not runnable: no step handler for later (handler not_built)'),
      problems.join(' | '),
    );
    assert.match(
      report.checks.find((c: { name: string }) => c.name === 'WORKFLOWS').summary,
      new RegExp(`6 active, ${6 - lacking.size} of them runnable`),
    );
  });

  it('passes all six checks on a migrated database whose templates are runnable, and prints the ready line (exit 0)', async () => {
    const d = await database();
    const r = await cesar(['verify'], { DATABASE_URL: d.url });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(verdicts(r.stdout), Object.fromEntries(allChecks.map((c) => [c, 'PASS'])));
    assert.ok(r.stdout.includes(readyLine));
    // Section 1 is the original's table of tables with rows, purpose and status.
    assert.match(r.stdout, /│ agents\s+│ 48\s+│ Agent configurations\s+│ ✅/);
    assert.match(r.stdout, /│ workflow_templates\s+│ 5\s+│ Workflow definitions/);
  });

  it('prints one JSON document with --json', async () => {
    const d = await database();
    const r = await cesar(['verify', '--json'], { DATABASE_URL: d.url });
    assert.equal(r.exitCode, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.passed, true);
    assert.deepEqual(
      report.checks.map((c: { name: string }) => c.name),
      allChecks,
    );
    assert.ok(report.checks.every((c: { status: string }) => c.status === 'PASS'));
    const schema = report.checks[0];
    assert.equal(schema.table.find((t: { table: string }) => t.table === 'agents').rows, '48');
  });

  // Each break leaves the other five checks passing: the checks read the live catalog and data.
  const breaks: Array<[check: string, what: string, statements: string[], problem: RegExp]> = [
    ['SCHEMA', 'a required table is dropped', ['DROP TABLE agent_events CASCADE'], /missing table: agent_events/],
    [
      'WORKFLOWS',
      'a template is deactivated',
      [`UPDATE workflow_templates SET is_active = false WHERE name = 'llm_cache_refresh'`],
      /llm_cache_refresh is not active/,
    ],
    [
      'WORKFLOWS',
      'a template gets an invalid cron expression',
      [`UPDATE workflow_templates SET cron_expression = '61 * * * *' WHERE name = 'supabase_sync'`],
      /supabase_sync: "61 \* \* \* \*" is not a valid cron expression/,
    ],
    ['JOBS', 'the claim index is dropped', ['DROP INDEX job_queue_claim_idx'], /no claim index on job_queue/],
    ['MONITORING', 'a monitoring view is dropped', ['DROP MATERIALIZED VIEW mv_ingestion_errors'], /mv_ingestion_errors is missing/],
    [
      'MONITORING',
      'a view was last refreshed over 5 minutes ago while a worker is live',
      [
        `INSERT INTO workers (id, hostname, pid, concurrency, version) VALUES ('live-worker', 'h', 1, 1, 't')`,
        `UPDATE monitoring_view_refreshes SET refreshed_at = now()`,
        `UPDATE monitoring_view_refreshes SET refreshed_at = now() - interval '10 minutes' WHERE view_name = 'mv_sync_lag'`,
      ],
      /^mv_sync_lag was refreshed \d+ s ago \(.*\), over the 300 s limit while 1 worker\(s\) are live/,
    ],
    [
      'AGENTS',
      'an agent is deactivated',
      [`UPDATE agents SET status = 'inactive' WHERE name = 'Portfolio Optimizer'`],
      /agent Portfolio Optimizer is inactive/,
    ],
    [
      'DATA_FLOW',
      'a sync configuration row is deleted',
      [`DELETE FROM sync_tables WHERE table_name = 'memory_semantic'`],
      /no sync configuration for table memory_semantic/,
    ],
  ];
  for (const [check, what, statements, problem] of breaks) {
    it(`fails ${check} alone when ${what} (exit 1)`, async () => {
      const d = await database();
      for (const statement of statements) await sql(d.url, statement);
      const r = await cesar(['verify', '--json'], { DATABASE_URL: d.url });
      assert.equal(r.exitCode, 1, r.stderr);
      const report = JSON.parse(r.stdout);
      const failed = report.checks.filter((c: { status: string }) => c.status === 'FAIL').map((c: { name: string }) => c.name);
      assert.deepEqual(failed, [check]);
      const failing = report.checks.find((c: { name: string }) => c.name === check);
      assert.ok(
        failing.problems.some((p: string) => problem.test(p)),
        `problems: ${failing.problems.join(' | ')}`,
      );

      const text = await cesar(['verify'], { DATABASE_URL: d.url });
      assert.equal(text.exitCode, 1);
      assert.ok(text.stdout.includes(`❌ ${check}: FAIL`));
      assert.ok(!text.stdout.includes(readyLine));
    });
  }

  it("passes MONITORING while a worker is live and the views are fresh, giving each view's age", async () => {
    const d = await database();
    await sql(d.url, `INSERT INTO workers (id, hostname, pid, concurrency, version) VALUES ('live-worker', 'h', 1, 1, 't')`);
    await sql(d.url, `UPDATE monitoring_view_refreshes SET refreshed_at = now() - interval '30 seconds', duration_ms = 7`);
    const r = await cesar(['verify', '--json'], { DATABASE_URL: d.url });
    assert.equal(r.exitCode, 0, r.stdout);
    const monitoring = JSON.parse(r.stdout).checks.find((c: { name: string }) => c.name === 'MONITORING');
    assert.equal(monitoring.status, 'PASS');
    for (const view of ['mv_sync_lag', 'mv_job_queue_backlog', 'mv_ingestion_errors']) {
      assert.ok(
        monitoring.facts.some((f: string) => new RegExp(`${view}: .*; \\d+ rows, refreshed \\d+ s ago \\(\\S+Z\\) in 7 ms$`).test(f)),
        monitoring.facts.join(' | '),
      );
    }
    assert.ok(
      monitoring.facts.includes('1 live worker(s): each view must have been refreshed in the last 300 s'),
      monitoring.facts.join(' | '),
    );
  });

  it('exits 2 with the hint to migrate when the database has no schema', async () => {
    const d = await database(false);
    const r = await cesar(['verify'], { DATABASE_URL: d.url });
    assert.equal(r.exitCode, 2);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /no cesar schema.*cesar migrate/);
  });

  it('re-runs in place with --watch until interrupted, then exits 0', async () => {
    const d = await database();
    const { execa } = await import('execa');
    const { cesarBin } = await import('../helpers/cli.js');
    const child = execa(process.execPath, [cesarBin, 'verify', '--watch', '0.5', '--json'], {
      reject: false,
      extendEnv: false,
      env: { PATH: process.env.PATH, DATABASE_URL: d.url },
    });
    let runs = 0;
    await new Promise<void>((resolve) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        runs += chunk
          .toString()
          .split('\n')
          .filter((l) => l.startsWith('{')).length;
        if (runs >= 2) resolve();
      });
    });
    child.kill('SIGINT');
    const result = await child;
    assert.equal(result.exitCode, 0);
    const lines = String(result.stdout).split('\n').filter(Boolean);
    assert.ok(lines.length >= 2);
    for (const line of lines) assert.equal(JSON.parse(line).passed, true);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cesar } from '../helpers/cli.js';
import { sql } from '../helpers/db.js';
import { useSyncPair } from '../helpers/sync.js';

/** Two real databases: a migrated cesar database here, and an empty one standing for Supabase. */
describe('cesar sync with a second database as Supabase', () => {
  const pair = useSyncPair();

  it('init prepares Supabase idempotently; a run pushes the reference data and verify then finds no difference', async () => {
    const first = await cesar(['sync', 'init', '--json'], pair.env);
    assert.equal(first.exitCode, 0, first.stderr);
    assert.equal(JSON.parse(first.stdout).created.length, 5);
    const again = await cesar(['sync', 'init', '--json'], pair.env);
    assert.equal(again.exitCode, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout).created, []);

    const before = await cesar(['sync', 'verify', '--json'], pair.env);
    assert.equal(before.exitCode, 1, 'the sides differ before the first run');
    const run = await cesar(['sync', 'run', '--json'], pair.env);
    assert.equal(run.exitCode, 0, run.stderr);
    const agents = JSON.parse(run.stdout).tables.find((t: { table: string }) => t.table === 'agents');
    assert.equal(agents.pushed, 48);
    const [pushed] = await sql(pair.remote.url, `SELECT count(*)::int AS count FROM agents WHERE origin = 'cesar'`);
    assert.equal(pushed?.count, 48);
    const verify = await cesar(['sync', 'verify', '--json'], pair.env);
    assert.equal(verify.exitCode, 0, verify.stdout);
    assert.equal(JSON.parse(verify.stdout).in_sync, true);
  });

  it('a concurrent edit converges to the newer version on both sides, and a row applied from the remote is not sent back', async () => {
    await sql(pair.local.url, `UPDATE agents SET description = 'older, here' WHERE name = 'Copywriter'`);
    await sql(pair.remote.url, `UPDATE agents SET description = 'newer, there' WHERE name = 'Copywriter'`);
    const run = await cesar(['sync', 'run', '--json'], pair.env);
    assert.equal(run.exitCode, 0, run.stderr);
    for (const url of [pair.local.url, pair.remote.url]) {
      const [row] = await sql(url, `SELECT description, origin FROM agents WHERE name = 'Copywriter'`);
      assert.deepEqual(row, { description: 'newer, there', origin: 'supabase' });
    }
    const again = JSON.parse((await cesar(['sync', 'run', '--json'], pair.env)).stdout);
    const agents = again.tables.find((t: { table: string }) => t.table === 'agents');
    assert.deepEqual([agents.pushed, agents.pulled], [0, 0], 'nothing bounces back');
    const conflicts = await sql(pair.local.url, `SELECT resolution FROM sync_conflicts WHERE table_name = 'agents'`);
    assert.ok(conflicts.length >= 1, 'the losing version is recorded');
  });

  it('a delete beats an older update and loses to a newer one', async () => {
    await sql(
      pair.local.url,
      `INSERT INTO memory_episodic (agent_id, content) SELECT id, 'to delete' FROM agents WHERE name = 'Copywriter'`,
    );
    await sql(
      pair.local.url,
      `INSERT INTO memory_episodic (agent_id, content) SELECT id, 'to revive' FROM agents WHERE name = 'Copywriter'`,
    );
    assert.equal((await cesar(['sync', 'run'], pair.env)).exitCode, 0);
    // Older update there, newer delete here: the delete wins on both sides.
    await sql(pair.remote.url, `UPDATE memory_episodic SET importance = 0.9 WHERE content = 'to delete'`);
    await sql(pair.local.url, `DELETE FROM memory_episodic WHERE content = 'to delete'`);
    // Older delete here, newer update there: the update wins.
    await sql(pair.local.url, `DELETE FROM memory_episodic WHERE content = 'to revive'`);
    await sql(pair.remote.url, `UPDATE memory_episodic SET importance = 0.8 WHERE content = 'to revive'`);
    assert.equal((await cesar(['sync', 'run'], pair.env)).exitCode, 0);
    for (const url of [pair.local.url, pair.remote.url]) {
      const rows = await sql(url, `SELECT content, importance FROM memory_episodic WHERE content LIKE 'to %' ORDER BY content`);
      assert.deepEqual(rows, [{ content: 'to revive', importance: 0.8 }], url);
    }
    const verify = await cesar(['sync', 'verify', 'memory_episodic'], pair.env);
    assert.equal(verify.exitCode, 0, verify.stdout);
  });

  it('without SUPABASE_DB_URL says what to set (exit 78); port 6543 is refused; an unreachable host is named, its password masked', async () => {
    const unset = await cesar(['sync', 'run'], { DATABASE_URL: pair.local.url });
    assert.equal(unset.exitCode, 78);
    assert.match(unset.stderr, /SUPABASE_DB_URL is not set: set it to the Supabase database/);
    const pooler = await cesar(['sync', 'init'], { ...pair.env, SUPABASE_DB_URL: 'postgres://postgres:pw@127.0.0.1:6543/postgres' });
    assert.equal(pooler.exitCode, 78);
    assert.match(pooler.stderr, /port 6543 of 127\.0\.0\.1, Supabase's transaction pooler/);
    const down = await cesar(['sync', 'run'], { ...pair.env, SUPABASE_DB_URL: 'postgres://postgres:hunter2secret@127.0.0.1:1/postgres' });
    assert.equal(down.exitCode, 2, down.stderr);
    assert.match(down.stderr, /127\.0\.0\.1:1/);
    assert.doesNotMatch(down.stderr + down.stdout, /hunter2secret/);
    const [status] = await sql(pair.local.url, `SELECT status, last_error FROM sync_status WHERE system_name = 'supabase'`);
    assert.equal(status?.status, 'error');
    assert.doesNotMatch(String(status?.last_error), /hunter2secret/);
  });
});

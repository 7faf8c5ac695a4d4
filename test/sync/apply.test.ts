import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { cesar } from '../helpers/cli.js';
import { sql } from '../helpers/db.js';
import { useSyncPair } from '../helpers/sync.js';

/**
 * How a page is applied: rows new on the target are copied straight in, anything else goes through
 * the staging table and the conditional upsert, and a row a constraint refuses is recorded and
 * skipped. Two real databases; financial_data synced both ways for these tests.
 */
describe('sync apply: copied straight in, staged, or refused', () => {
  const pair = useSyncPair({ init: true });
  const run = async (table: string): Promise<{ pushed: number; pulled: number; conflicts: number }> => {
    const result = await cesar(['sync', 'run', table, '--json'], pair.env);
    assert.equal(result.exitCode, 0, result.stderr);
    return JSON.parse(result.stdout).tables.find((t: { table: string }) => t.table === table);
  };
  before(async () => {
    await sql(pair.local.url, `UPDATE sync_tables SET direction = 'bidirectional' WHERE table_name = 'financial_data'`);
  });

  it('a bar whose key is taken there by another row is refused and recorded; the rest of its page is written', async () => {
    await sql(
      pair.local.url,
      `INSERT INTO financial_data (symbol, source, observed_at, close)
       SELECT 'CLASH', 'test', timestamptz '2024-01-01' + d * interval '1 day', d FROM generate_series(1, 3) d`,
    );
    // Written there by someone else, with its own sync_id, at the time of the second bar here.
    await sql(
      pair.remote.url,
      `INSERT INTO financial_data (symbol, source, observed_at, close) VALUES ('CLASH', 'test', '2024-01-03', 99)`,
    );
    const first = await run('financial_data');
    assert.equal(first.pushed, 2);
    assert.equal(first.pulled, 0, "the row there loses here too: this side's bar has the key");
    const there = await sql(pair.remote.url, `SELECT close::int AS close FROM financial_data WHERE symbol = 'CLASH' ORDER BY observed_at`);
    assert.deepEqual(
      there.map((r) => r.close),
      [1, 99, 3],
    );
    const conflicts = await sql(
      pair.local.url,
      `SELECT direction, resolution, reason FROM sync_conflicts WHERE table_name = 'financial_data' ORDER BY direction`,
    );
    assert.deepEqual(
      conflicts.map((c) => [c.direction, c.resolution]),
      [
        ['pull', 'rejected'],
        ['push', 'rejected'],
      ],
    );
    assert.match(String(conflicts[1]?.reason), /^refused here: duplicate key value violates unique constraint "financial_data_bar_key"/);
    const second = await run('financial_data');
    assert.deepEqual([second.pushed, second.pulled, second.conflicts], [0, 0, 0], 'a refused version is not sent again');
    // Each side keeps its own bar: verify names both, for the operator to settle.
    const verify = await cesar(['sync', 'verify', 'financial_data', '--json'], pair.env);
    assert.equal(verify.exitCode, 1);
    const ids = JSON.parse(verify.stdout).tables[0].ids;
    const clash = `SELECT sync_id::text FROM financial_data WHERE symbol = 'CLASH' AND observed_at = '2024-01-03'`;
    assert.deepEqual(ids, {
      only_here: [(await sql(pair.local.url, clash))[0]?.sync_id],
      only_there: [(await sql(pair.remote.url, clash))[0]?.sync_id],
      different: [],
    });
  });

  it('a delete here newer than an incoming row beats it, though the row is not here to collide with', async () => {
    await sql(pair.local.url, `INSERT INTO financial_data (symbol, source, observed_at, close) VALUES ('GONE', 'test', '2024-02-01', 1)`);
    await run('financial_data');
    await sql(pair.remote.url, `UPDATE financial_data SET close = 2 WHERE symbol = 'GONE'`);
    await sql(pair.local.url, `DELETE FROM financial_data WHERE symbol = 'GONE'`);
    const result = await run('financial_data');
    assert.equal(result.pulled, 0, 'the older update does not bring the row back here');
    assert.equal(result.pushed, 1, 'the delete goes there');
    for (const url of [pair.local.url, pair.remote.url]) {
      const rows = await sql(url, `SELECT close FROM financial_data WHERE symbol = 'GONE'`);
      assert.deepEqual(rows, [], url);
    }
    const [lost] = await sql(
      pair.local.url,
      `SELECT resolution, reason FROM sync_conflicts WHERE table_name = 'financial_data' AND direction = 'pull' AND reason LIKE '%deleted%'`,
    );
    assert.deepEqual(lost, { resolution: 'kept_current', reason: 'the row was deleted here later' });
  });

  it('a page sent again after a crash is recognised row by row: nothing is rewritten, nothing is a conflict', async () => {
    await sql(
      pair.local.url,
      `INSERT INTO financial_data (symbol, source, observed_at, close)
       SELECT 'AGAIN', 'test', timestamptz '2024-03-01' + d * interval '1 day', d FROM generate_series(1, 5) d`,
    );
    await run('financial_data');
    const before = await sql(pair.remote.url, `SELECT xmin::text AS xmin FROM financial_data WHERE symbol = 'AGAIN' ORDER BY observed_at`);
    // Forget that the page was sent: the next run sends it again, and the copy meets the rows there.
    await sql(
      pair.local.url,
      `UPDATE supabase_sync_state
          SET push_watermark = (SELECT min(updated_at) - interval '1 microsecond' FROM financial_data WHERE symbol = 'AGAIN'),
              push_cursor_id = '00000000-0000-0000-0000-000000000000'
        WHERE table_name = 'financial_data'`,
    );
    const conflictsBefore = await sql(pair.local.url, `SELECT count(*)::int AS n FROM sync_conflicts`);
    const again = await run('financial_data');
    assert.equal(again.pushed, 0);
    const after = await sql(pair.remote.url, `SELECT xmin::text AS xmin FROM financial_data WHERE symbol = 'AGAIN' ORDER BY observed_at`);
    assert.deepEqual(after, before, 'the same row versions');
    assert.deepEqual(await sql(pair.local.url, `SELECT count(*)::int AS n FROM sync_conflicts`), conflictsBefore);
  });

  it("values read back exactly whatever the other server's DateStyle, IntervalStyle, float digits and time zone", async () => {
    await sql(
      pair.remote.url,
      `ALTER DATABASE ${pair.remote.name} SET DateStyle = 'SQL, DMY';
       ALTER DATABASE ${pair.remote.name} SET IntervalStyle = 'sql_standard';
       ALTER DATABASE ${pair.remote.name} SET TimeZone = 'Pacific/Chatham';
       ALTER DATABASE ${pair.remote.name} SET extra_float_digits = -3`,
    );
    await sql(
      pair.local.url,
      `INSERT INTO financial_data (symbol, source, observed_at, close, data)
       VALUES ('EXACT', 'test', '2024-12-31 23:59:59.123456+00', 123456.654321, '{"note": "tab\\there, newline\\nthere, back\\\\slash"}')`,
    );
    await sql(
      pair.local.url,
      `INSERT INTO memory_semantic (agent_id, topic, content, confidence)
       SELECT id, 'exactness', 'a fact', 0.123456789 FROM agents WHERE name = 'Copywriter'`,
    );
    await run('financial_data');
    await run('agents');
    await run('memory_semantic');
    // Changed there, under its own settings, and pulled back.
    await sql(pair.remote.url, `UPDATE financial_data SET observed_at = observed_at + interval '1 microsecond' WHERE symbol = 'EXACT'`);
    await run('financial_data');
    // Read in forms no setting changes.
    const utc = (column: string): string => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')`;
    const read = `SELECT ${utc('observed_at')} AS at, close::text, data::text, ${utc('updated_at')} AS version
                    FROM financial_data WHERE symbol = 'EXACT'`;
    const here = await sql(pair.local.url, read);
    assert.deepEqual(here, await sql(pair.remote.url, read));
    assert.deepEqual(
      [here[0]?.at, here[0]?.close, here[0]?.data],
      ['2024-12-31 23:59:59.123457', '123456.654321', '{"note": "tab\\there, newline\\nthere, back\\\\slash"}'],
    );
    const confidence = `SELECT encode(float4send(confidence), 'hex') AS bits, ${utc('updated_at')} AS version FROM memory_semantic WHERE topic = 'exactness'`;
    assert.deepEqual(await sql(pair.remote.url, confidence), await sql(pair.local.url, confidence));
    for (const table of ['agents', 'memory_semantic']) {
      const verify = await cesar(['sync', 'verify', table, '--json'], pair.env);
      assert.equal(verify.exitCode, 0, verify.stdout);
    }
  });
});

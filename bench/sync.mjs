#!/usr/bin/env node
import { execFileSync } from 'node:child_process';
// bench/sync.mjs: sync of 100,000 financial_data rows between two local databases, push then pull,
// beside the physical floor (COPY ... TO STDOUT piped into COPY ... FROM STDIN, same rows, same run),
// then an incremental run with 1% of the rows changed. Prints one JSON document.
// The floor is taken twice: into a bare table of the same columns with a primary key only, and into
// the synced table itself, empty, on a side like the one each direction writes to (its indexes and
// triggers: what any writer of those rows there pays).
//   node bench/sync.mjs --database-url postgres://postgres@127.0.0.1:5432/postgres [--rows 100000] [--page 2000]
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { withDatabase } from './throwaway-db.mjs';

const { migrate, silentLogger } = await import('cesar');
const { runSync } = await import('../dist/sync/run.js');
const { initRemote } = await import('../dist/sync/init.js');
const { defaultSyncSettings } = await import('../dist/sync/settings.js');

const args = { rows: 100_000, page: 2000, databaseUrl: process.env.DATABASE_URL };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--database-url') args.databaseUrl = argv[++i];
  else if (argv[i] === '--rows') args.rows = Number(argv[++i]);
  else if (argv[i] === '--page') args.page = Number(argv[++i]);
  else if (argv[i] !== '--json') {
    process.stderr.write(`unknown argument ${argv[i]}\n`);
    process.exit(64);
  }
}
if (!args.databaseUrl) {
  process.stderr.write('give --database-url\n');
  process.exit(64);
}
const names = ['a_here', 'b_there', 'c_pull_here', 'd_floor_to', 'e_floor_there', 'f_floor_here'].map(
  (n) => `cesar_bench_sync_${process.pid}_${n}`,
);
const admin = new pg.Client({ connectionString: withDatabase(args.databaseUrl, 'postgres') });
await admin.connect();
for (const n of names) await admin.query(`CREATE DATABASE ${n}`);
const [localUrl, remoteUrl, pullLocalUrl, floorToUrl, floorRemoteUrl, floorLocalUrl] = names.map((n) => withDatabase(args.databaseUrl, n));
const local = new pg.Pool({ connectionString: localUrl, max: 4 });
// DROP DATABASE ... WITH (FORCE) at the end ends idle connections: not an error of the run.
local.on('error', () => undefined);
const seconds = (ms) => Math.round(ms) / 1000;
const ratio = (ms, floorMs) => Math.round((ms / floorMs) * 100) / 100;
/** COPY out of one database piped into COPY in another, by psql at both ends (sync_applying on, so triggers keep the versions); ms. */
function pipeCopy(fromUrl, copyOut, toUrl, copyIn) {
  const started = performance.now();
  execFileSync('sh', [
    '-c',
    `psql -qX "$1" -c "$2" | psql -qX "$3" -c "SET cesar.sync_applying = on" -c "$4"`,
    'sh',
    fromUrl,
    copyOut,
    toUrl,
    copyIn,
  ]);
  return performance.now() - started;
}
try {
  await migrate(local, silentLogger);
  await initRemote(remoteUrl, silentLogger);
  const insert = `INSERT INTO financial_data (symbol, source, observed_at, open, high, low, close, volume, data)
                  SELECT 'S' || (g % 500), 'bench', timestamptz '2000-01-01' + g * interval '1 day', 1.5, 2.5, 1.0, 2.0, g, '{"k": 1}'
                    FROM generate_series(1, $1) g`;
  // financial_data flows out only, by default; the bench syncs it both ways, in pages of --page rows.
  const bothWays = `UPDATE sync_tables SET direction = 'bidirectional', batch_size = $1 WHERE table_name = 'financial_data'`;
  await local.query({ text: bothWays, values: [args.page] });
  await local.query({ text: insert, values: [args.rows] });
  const settings = { ...defaultSyncSettings, supabaseDbUrl: remoteUrl, safetyLagMs: 0 };
  const run = async (directions, on = local) => {
    const started = performance.now();
    const r = await runSync({ local: on, settings, directions, tables: ['financial_data'], log: silentLogger });
    return { ms: performance.now() - started, rows: r.tables.reduce((n, t) => n + t.applied, 0) };
  };
  const push = await run(['push']);

  // Pull: a second cesar database receives the same rows from the remote, as Supabase-written ones.
  const remote = new pg.Client({ connectionString: remoteUrl });
  await remote.connect();
  await remote.query(`UPDATE financial_data SET data = '{"k": 2}'`);
  await remote.end();
  const pullLocalPool = new pg.Pool({ connectionString: pullLocalUrl, max: 4 });
  pullLocalPool.on('error', () => undefined);
  await migrate(pullLocalPool, silentLogger);
  await pullLocalPool.query(`DELETE FROM financial_data`);
  await pullLocalPool.query({ text: bothWays, values: [args.page] });
  const pull = await run(['pull'], pullLocalPool);

  // The floor: the same rows, COPY out of one database into a table of the same columns in another (psql at both ends).
  const floorTo = new pg.Client({ connectionString: floorToUrl });
  await floorTo.connect();
  const { rows: ddl } =
    await local.query(`SELECT string_agg(quote_ident(attname) || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) AS cols
     FROM pg_attribute WHERE attrelid = 'financial_data'::regclass AND attnum > 0 AND NOT attisdropped`);
  await floorTo.query(`CREATE TABLE financial_data (${ddl[0].cols}, PRIMARY KEY (id))`);
  await floorTo.end();
  const floorMs = pipeCopy(localUrl, 'COPY financial_data TO STDOUT', floorToUrl, 'COPY financial_data FROM STDIN');

  // The floor into the synced table: an empty one on a new Supabase side (push), and in a new cesar database (pull).
  const travelling = `sync_id, updated_at, origin, symbol, source, observed_at, bar_interval, open, high, low, close, adj_close, volume, data, ingested_at`;
  const out = `COPY (SELECT ${travelling} FROM financial_data) TO STDOUT`;
  const into = `COPY financial_data (${travelling}) FROM STDIN`;
  await initRemote(floorRemoteUrl, silentLogger);
  const floorLocalPool = new pg.Pool({ connectionString: floorLocalUrl, max: 1 });
  floorLocalPool.on('error', () => undefined);
  await migrate(floorLocalPool, silentLogger);
  await floorLocalPool.end();
  const floorThereMs = pipeCopy(localUrl, out, floorRemoteUrl, into);
  const floorHereMs = pipeCopy(localUrl, out, floorLocalUrl, into);

  // Incremental: 1% of the rows changed here, one push.
  await local.query({ text: `UPDATE financial_data SET close = close + 1 WHERE id % 100 = 0` });
  const incremental = await run(['push']);
  await pullLocalPool.end();

  process.stdout.write(
    `${JSON.stringify(
      {
        rows: args.rows,
        page: args.page,
        push: { seconds: seconds(push.ms), rows: push.rows, rows_per_second: Math.round(push.rows / (push.ms / 1000)) },
        pull: { seconds: seconds(pull.ms), rows: pull.rows, rows_per_second: Math.round(pull.rows / (pull.ms / 1000)) },
        copy_floor: { seconds: seconds(floorMs), rows_per_second: Math.round(args.rows / (floorMs / 1000)) },
        push_vs_floor: ratio(push.ms, floorMs),
        pull_vs_floor: ratio(pull.ms, floorMs),
        copy_floor_into_synced_table: { supabase_side_seconds: seconds(floorThereMs), cesar_side_seconds: seconds(floorHereMs) },
        push_vs_synced_table_floor: ratio(push.ms, floorThereMs),
        pull_vs_synced_table_floor: ratio(pull.ms, floorHereMs),
        incremental_1pct: { seconds: seconds(incremental.ms), rows: incremental.rows },
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await local.end();
  for (const n of names) await admin.query(`DROP DATABASE IF EXISTS ${n} WITH (FORCE)`);
  await admin.end();
}

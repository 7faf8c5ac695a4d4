#!/usr/bin/env node
import pg from 'pg';

const {
  migrate,
  silentLogger,
  queueStatements: { claimSql, completeSql },
} = await import('cesar');

const args = { finished: 1_000_000, claims: 500, databaseUrl: process.env.DATABASE_URL };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--database-url') args.databaseUrl = argv[++i];
  else if (argv[i] === '--finished') args.finished = Number(argv[++i]);
  else if (argv[i] === '--claims') args.claims = Number(argv[++i]);
  else if (argv[i] !== '--json') {
    process.stderr.write(`unknown argument ${argv[i]}\n`);
    process.exit(64);
  }
}
if (!args.databaseUrl) {
  process.stderr.write('give --database-url\n');
  process.exit(64);
}

const withDb = (url, db) => {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
};
const database = `cesar_bench_backlog_${process.pid}`;
const admin = new pg.Client({ connectionString: withDb(args.databaseUrl, 'postgres') });
await admin.connect();
await admin.query(`CREATE DATABASE ${database}`);
const pool = new pg.Pool({ connectionString: withDb(args.databaseUrl, database), max: 2 });
pool.on('error', () => {});

function pct(sorted, p) {
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] * 1000) / 1000;
}

async function measure() {
  await pool.query(`INSERT INTO job_queue (job_type) SELECT 'canary' FROM generate_series(1, 1000)`);
  await pool.query('VACUUM ANALYZE job_queue');
  await pool.query('VACUUM ANALYZE job_attempts');
  const times = [];
  for (let i = 0; i < args.claims; i++) {
    const t = performance.now();
    const { rows } = await pool.query({ name: 'claim', text: claimSql, values: ['default', 10, 'bench', 30, ['canary']] });
    times.push(performance.now() - t);
    await pool.query({ name: 'complete', text: completeSql, values: ['bench', rows.map((r) => r.id)] });
    if (rows.length < 10) await pool.query(`INSERT INTO job_queue (job_type) SELECT 'canary' FROM generate_series(1, 1000)`);
  }
  times.sort((a, b) => a - b);
  const plan = (
    await pool.query(`EXPLAIN SELECT id FROM job_queue WHERE status = 'pending' AND queue = 'default' AND run_at <= now()
      AND job_type = ANY('{canary}') ORDER BY priority, run_at, id LIMIT 10 FOR UPDATE SKIP LOCKED`)
  ).rows
    .map((r) => r['QUERY PLAN'])
    .join(' ');
  return {
    claim_ms: { p50: pct(times, 50), p95: pct(times, 95), p99: pct(times, 99) },
    uses_claim_index: /job_queue_claim_idx/.test(plan),
  };
}

try {
  await migrate(pool, silentLogger);
  await pool.query(`INSERT INTO workers (id, hostname, pid, concurrency, version) VALUES ('bench', 'bench', 1, 10, 'bench')`);
  const empty = await measure();
  const t = performance.now();
  await pool.query(
    `INSERT INTO job_queue (job_type, status, attempts, finished_at, created_at, updated_at)
                    SELECT 'canary', 'completed', 1, now() - interval '1 hour', now() - interval '1 hour', now() - interval '1 hour'
                      FROM generate_series(1, $1)`,
    [args.finished],
  );
  await pool.query(`INSERT INTO job_attempts (job_id, attempt, worker_id, outcome, started_at, finished_at)
                    SELECT id, 1, 'history', 'succeeded', now() - interval '1 hour', now() - interval '1 hour'
                      FROM job_queue WHERE status = 'completed' AND locked_by IS NULL AND finished_at < now() - interval '30 minutes'`);
  const loadSeconds = (performance.now() - t) / 1000;
  const withHistory = await measure();
  const size = (
    await pool.query(`SELECT pg_size_pretty(pg_total_relation_size('job_queue')) AS jobs,
      pg_size_pretty(pg_total_relation_size('job_attempts')) AS attempts,
      pg_size_pretty(pg_relation_size('job_queue_claim_idx')) AS claim_index`)
  ).rows[0];
  const server = (await pool.query('SHOW server_version')).rows[0].server_version;
  process.stdout.write(
    `${JSON.stringify({
      name: 'claim-with-backlog',
      server,
      runnable_jobs: 1000,
      finished_jobs: args.finished,
      claims: args.claims,
      batch: 10,
      empty_history: empty,
      with_history: withHistory,
      history_load_seconds: Math.round(loadSeconds),
      sizes: size,
    })}\n`,
  );
} finally {
  await pool.end();
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
}

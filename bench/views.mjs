#!/usr/bin/env node
// Monitoring views with a large history: what a refresh costs, and whether it gets in anyone's way.
//
//   node bench/views.mjs --database-url URL [--finished 1000000] [--pending 10000] [--refreshes 5] [--claims 300] [--json]
//
// On a fresh database of its own: migrate, seed with generate_series the finished history (completed,
// with 1% failed and 1% cancelled, over the last 7 days, and the per-minute throughput counters of
// the last day when the schema has them), the pending jobs (one in ten due later) and 100 running
// ones; VACUUM ANALYZE. Then:
//   refresh_ms       each monitoring view refreshed CONCURRENTLY --refreshes times: p50 and max;
//   backlog_plan     whether the plan of mv_job_queue_backlog's query reads job_queue with a Seq Scan;
//   during_refresh   claims (claim + complete of 10 jobs, as a worker does) and reads of the backlog
//                    view, timed while another connection refreshes the backlog view in a loop, beside
//                    the same without the refresh: a refresh that blocked them would show here;
//   reads_ms         p50 of 5 runs: the reads of `cesar status` (getStatus) and of GET /health
//                    (queueSummary); the full count by type and state (jobCounts: verify's JOBS);
//                    the attempt counts and durations of /metrics (attemptCounts, attemptDurations).
// Prints one JSON object.
import pg from 'pg';
import { seedHistory } from './seed-history.mjs';

const {
  attemptCounts,
  attemptDurations,
  connect,
  getStatus,
  jobCounts,
  queueSummary,
  migrate,
  silentLogger,
  queueStatements: { claimSql, completeSql },
} = await import('cesar');

const views = ['mv_sync_lag', 'mv_job_queue_backlog', 'mv_ingestion_errors'];
const args = { finished: 1_000_000, pending: 10_000, refreshes: 5, claims: 300, databaseUrl: process.env.DATABASE_URL };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--database-url') args.databaseUrl = argv[++i];
  else if (a === '--finished') args.finished = Number(argv[++i]);
  else if (a === '--pending') args.pending = Number(argv[++i]);
  else if (a === '--refreshes') args.refreshes = Number(argv[++i]);
  else if (a === '--claims') args.claims = Number(argv[++i]);
  else if (a !== '--json') fail(`unknown argument ${a}`);
}
if (!args.databaseUrl) fail('give --database-url postgres://... (a server where we may create databases)');
for (const name of ['finished', 'pending', 'refreshes', 'claims']) {
  if (!Number.isInteger(args[name]) || args[name] < 1) fail(`--${name} must be a positive integer`);
}

function fail(message) {
  process.stderr.write(`bench/views.mjs: ${message}\n`);
  process.exit(64);
}

const withDb = (url, db) => {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
};
const round = (ms) => Math.round(ms * 100) / 100;
function pct(times, p) {
  const sorted = [...times].sort((a, b) => a - b);
  return round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]);
}
async function timed(fn) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

const database = `cesar_bench_views_${process.pid}`;
const admin = new pg.Client({ connectionString: withDb(args.databaseUrl, 'postgres') });
await admin.connect();
await admin.query(`CREATE DATABASE ${database}`);
const url = withDb(args.databaseUrl, database);
const pool = new pg.Pool({ connectionString: url, max: 4 });
pool.on('error', () => {});

async function refreshTimes() {
  const result = {};
  for (const view of views) {
    const times = [];
    for (let i = 0; i < args.refreshes; i++) times.push(await timed(() => pool.query(`REFRESH MATERIALIZED VIEW CONCURRENTLY ${view}`)));
    result[view] = { p50: pct(times, 50), max: pct(times, 100) };
  }
  return result;
}

async function backlogPlan() {
  const { rows } = await pool.query(`SELECT pg_get_viewdef('mv_job_queue_backlog') AS def`);
  const plan = (await pool.query(`EXPLAIN ${rows[0].def}`)).rows.map((r) => r['QUERY PLAN']);
  return { seq_scan_on_job_queue: plan.some((line) => /Seq Scan on job_queue/.test(line)), plan };
}

/** Claims of 10 jobs, each completed at once, and reads of the backlog view, from two connections. */
async function claimsAndReads() {
  const claims = [];
  const reads = [];
  for (let i = 0; i < args.claims; i++) {
    claims.push(
      await timed(async () => {
        const { rows } = await pool.query({
          name: 'claim',
          text: claimSql,
          values: ['default', 10, 'bench', 30, ['type_0', 'type_1', 'type_2', 'type_3', 'type_4']],
        });
        await pool.query({ name: 'complete', text: completeSql, values: ['bench', rows.map((r) => r.id)] });
      }),
    );
    reads.push(await timed(() => pool.query('SELECT sum(jobs) FROM mv_job_queue_backlog')));
  }
  return {
    claim_ms: { p50: pct(claims, 50), p95: pct(claims, 95), max: pct(claims, 100) },
    read_ms: { p50: pct(reads, 50), p95: pct(reads, 95), max: pct(reads, 100) },
  };
}

async function duringRefresh() {
  const refresher = new pg.Client({ connectionString: url });
  await refresher.connect();
  let stop = false;
  let refreshes = 0;
  const loop = (async () => {
    while (!stop) {
      await refresher.query('REFRESH MATERIALIZED VIEW CONCURRENTLY mv_job_queue_backlog');
      refreshes++;
    }
  })();
  try {
    const measured = await claimsAndReads();
    return { ...measured, refreshes_meanwhile: refreshes };
  } finally {
    stop = true;
    await loop;
    await refresher.end();
  }
}

async function reads() {
  const handle = await connect(url, { poolMax: 2, connectTimeoutSeconds: 10 }, { log: silentLogger });
  try {
    const db = await handle.kysely();
    const reads = {
      status: () => getStatus(db, new Set()),
      health_queue_summary: () => queueSummary(db),
      job_counts_full: () => jobCounts(db),
      metrics_attempt_counts: () => attemptCounts(db),
      metrics_attempt_durations: () => attemptDurations(db, [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300]),
    };
    const result = {};
    for (const [name, read] of Object.entries(reads)) {
      const times = [];
      for (let i = 0; i < 5; i++) times.push(await timed(read));
      result[name] = pct(times, 50);
    }
    return result;
  } finally {
    await handle.close();
  }
}

try {
  await migrate(pool, silentLogger);
  const loadStarted = performance.now();
  await seedHistory(pool, { finished: args.finished, pending: args.pending });
  const loadSeconds = (performance.now() - loadStarted) / 1000;
  const refreshMs = await refreshTimes();
  const plan = await backlogPlan();
  const idle = await claimsAndReads();
  const busy = await duringRefresh();
  const readsMs = await reads();
  const server = (await pool.query('SHOW server_version')).rows[0].server_version;
  const sizes = (
    await pool.query(`SELECT pg_size_pretty(pg_total_relation_size('job_queue')) AS job_queue,
                             pg_size_pretty(pg_total_relation_size('mv_job_queue_backlog')) AS backlog_view`)
  ).rows[0];
  process.stdout.write(
    `${JSON.stringify({
      name: 'monitoring-views',
      server,
      finished_jobs: args.finished,
      pending_jobs: args.pending,
      refresh_ms: refreshMs,
      backlog_plan: plan,
      without_refresh: idle,
      during_refresh: busy,
      reads_ms: readsMs,
      load_seconds: Math.round(loadSeconds),
      sizes,
    })}\n`,
  );
} finally {
  await pool.end();
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
}

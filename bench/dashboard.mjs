#!/usr/bin/env node
// The dashboard with a large history: how long its pages take to get their data, what a monitoring
// view refresh costs, and what open live pages cost the database.
//
//   node bench/dashboard.mjs --database-url URL [--finished 1000000] [--pending 10000] [--runs 20]
//                            [--window-seconds 20] [--clients 20] [--rounds 2] [--json]
//
// On a fresh database of its own (created here, dropped at the end): migrate, seed the history of
// bench/seed-history.mjs (1,000,000 finished jobs over 7 days with their attempts, 10,000 pending,
// 100 running, a day of per-minute counters; VACUUM ANALYZE), then start the real dashboard as a
// child process (`node bin/cesar.js dashboard --dashboard-port 0`, DATABASE_URL that database,
// CESAR_HOME a temporary directory, no REDIS_URL: its live pages follow PostgreSQL LISTEN and the
// 2 s tick). Measured, over HTTP on loopback, as a browser would ask:
//   pages            --runs first loads of each page, one after another, no other page open, 1.1 s
//                    apart (the live snapshot is computed at most once a second: a page opened
//                    sooner would wait for that, not for the database). A load is what the browser
//                    asks for, in its order: the HTML; its style sheets, icon and app.js; app.js's
//                    module imports, level by level (read from the served files); then, as app.js's
//                    start() does, /session and /info in parallel; then the page's data: the live
//                    snapshot (GET /dashboard-api/events, up to its first `snapshot` event) for the
//                    overview and the unfiltered jobs page, or GET /dashboard-api/jobs?...&limit=50
//                    for a filtered jobs page (which opens the live stream at the same time, as the
//                    page does). data_ms is from start() to the page's data (the target: < 200 ms);
//                    total_ms from the HTML's request. p50, p95 and max. Also the overview with
//                    another page already open (the snapshot is sent at once from memory).
//   endpoints_ms     each JSON read of /dashboard-api/ alone, --runs times: p50, p95, max.
//   refresh_ms       REFRESH MATERIALIZED VIEW CONCURRENTLY of each monitoring view, 5 times: p50, max.
//   live             the database's CPU (user + system of every process named postgres on this
//                    machine, from /proc: a loopback server on Linux) per second over windows of
//                    --window-seconds with 0, 1 and --clients open live streams, while one job is
//                    enqueued every 250 ms (the library's enqueue: its NOTIFY makes the dashboard
//                    read its snapshot again, at most once a second); --rounds rounds, the order
//                    reversed every other round (0, 1, N, then N, 1, 0). Also the dashboard
//                    process's own CPU per second and the `snapshot` events each stream received in
//                    the window. The target: N = 20 streams cost the database at most twice what 1
//                    costs (ratio and ratio above the 0-stream baseline).
// Prints one JSON object.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { localServerCpuMs, processCpuMs } from './proc-cpu.mjs';
import { seedHistory } from './seed-history.mjs';

const { enqueue, migrate, silentLogger } = await import('cesar');

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.join(here, '..', 'bin', 'cesar.js');
const views = ['mv_sync_lag', 'mv_job_queue_backlog', 'mv_ingestion_errors'];

const args = {
  finished: 1_000_000,
  pending: 10_000,
  runs: 20,
  windowSeconds: 20,
  clients: 20,
  rounds: 2,
  databaseUrl: process.env.DATABASE_URL,
};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--database-url') args.databaseUrl = argv[++i];
  else if (a === '--finished') args.finished = Number(argv[++i]);
  else if (a === '--pending') args.pending = Number(argv[++i]);
  else if (a === '--runs') args.runs = Number(argv[++i]);
  else if (a === '--window-seconds') args.windowSeconds = Number(argv[++i]);
  else if (a === '--clients') args.clients = Number(argv[++i]);
  else if (a === '--rounds') args.rounds = Number(argv[++i]);
  else if (a !== '--json') fail(`unknown argument ${a}`);
}
if (!args.databaseUrl) fail('give --database-url postgres://... (a server where we may create databases)');
for (const name of ['finished', 'pending', 'runs', 'windowSeconds', 'clients', 'rounds']) {
  if (!Number.isInteger(args[name]) || args[name] < 1)
    fail(`--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be a positive integer`);
}

function fail(message) {
  process.stderr.write(`bench/dashboard.mjs: ${message}\n`);
  process.exit(64);
}

const withDb = (url, db) => {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round = (ms) => Math.round(ms * 100) / 100;
function pct(times, p) {
  const sorted = [...times].sort((a, b) => a - b);
  return round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]);
}
const summary = (times) => ({ p50: pct(times, 50), p95: pct(times, 95), max: pct(times, 100) });

// ---------------------------------------------------------------- CPU from /proc

// ---------------------------------------------------------------- HTTP, as a browser asks

/** GET path on the dashboard: resolves with the status and body once the whole answer is in. */
function get(base, agent, pathname, headers = {}) {
  return new Promise((resolve, reject) => {
    const request = http.get(new URL(pathname, base), { agent, headers }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (response.statusCode !== 200) reject(new Error(`GET ${pathname}: ${response.statusCode} ${body.slice(0, 200)}`));
        else resolve(body);
      });
      response.on('error', reject);
    });
    request.on('error', reject);
  });
}

/**
 * A live stream (GET /dashboard-api/events). firstSnapshot resolves when the first `snapshot` event
 * is complete; snapshots counts them all; close() ends the stream.
 */
function openStream(base) {
  let resolveFirst;
  let rejectFirst;
  const firstSnapshot = new Promise((resolve, reject) => {
    resolveFirst = resolve;
    rejectFirst = reject;
  });
  // Awaited by whoever needs it; a stream closed before its first snapshot is no unhandled rejection.
  firstSnapshot.catch(() => {});
  const stream = { snapshots: 0, bytes: 0, lastFrameBytes: 0, firstSnapshot, close: () => request.destroy() };
  let pending = '';
  const request = http.get(
    new URL('/dashboard-api/events', base),
    { agent: false, headers: { accept: 'text/event-stream' } },
    (response) => {
      if (response.statusCode !== 200) rejectFirst(new Error(`live stream: ${response.statusCode}`));
      response.setEncoding('utf8');
      response.on('data', (text) => {
        stream.bytes += text.length;
        pending += text;
        for (let end = pending.indexOf('\n\n'); end >= 0; end = pending.indexOf('\n\n')) {
          const frame = pending.slice(0, end);
          pending = pending.slice(end + 2);
          if (/^event: snapshot$/m.test(frame)) {
            stream.snapshots += 1;
            stream.lastFrameBytes = frame.length;
            resolveFirst();
          } else if (/^event: unavailable$/m.test(frame)) rejectFirst(new Error(`live stream: ${frame}`));
        }
      });
      response.on('error', () => {});
    },
  );
  request.on('error', (err) => rejectFirst(err));
  return stream;
}

/** The files a first load fetches before app.js runs: the HTML's links and scripts, then the module graph level by level. */
async function loadAssets(base, agent) {
  const html = await get(base, agent, '/');
  const linked = [...html.matchAll(/(?:href|src)="(\/[^"]+)"/g)].map((m) => m[1]);
  const modules = new Set([...html.matchAll(/<script type="module" src="([^"]+)"/g)].map((m) => m[1]));
  const seen = new Set(linked);
  let level = linked;
  let files = 1;
  while (level.length > 0) {
    const bodies = await Promise.all(level.map((file) => get(base, agent, file)));
    files += level.length;
    const next = [];
    for (const [i, file] of level.entries()) {
      if (!modules.has(file)) continue;
      for (const m of bodies[i].matchAll(/^\s*import\s+(?:[^'"]*?\s+from\s+)?['"]([^'"]+)['"]/gm)) {
        const target = new URL(m[1], new URL(file, base)).pathname;
        if (seen.has(target)) continue;
        seen.add(target);
        modules.add(target);
        next.push(target);
      }
    }
    level = next;
  }
  return files;
}

/**
 * One first load of a page. jobsQuery undefined: the page's data is the live snapshot (overview,
 * unfiltered jobs); otherwise the jobs search, with the live stream opened beside it.
 */
async function loadPage(base, jobsQuery) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 6 });
  const t0 = performance.now();
  let stream;
  try {
    const files = await loadAssets(base, agent);
    const tStart = performance.now();
    await Promise.all([get(base, agent, '/dashboard-api/session'), get(base, agent, '/dashboard-api/info')]);
    stream = openStream(base);
    if (jobsQuery !== undefined) await get(base, agent, `/dashboard-api/jobs?${jobsQuery}`, { accept: 'application/json' });
    else await stream.firstSnapshot;
    const tData = performance.now();
    // Let the stream's snapshot arrive too before the next load (its computation is part of this load).
    await stream.firstSnapshot;
    return { data: tData - tStart, total: tData - t0, files };
  } finally {
    stream?.close();
    agent.destroy();
  }
}

// ---------------------------------------------------------------- the dashboard process

async function startDashboard(url, home) {
  const env = { ...process.env };
  for (const name of Object.keys(env))
    if (name.startsWith('CESAR_') || name === 'REDIS_URL' || name === 'COCKROACH_DB_URL') delete env[name];
  Object.assign(env, { DATABASE_URL: url, CESAR_HOME: home, CESAR_LOG_LEVEL: 'info', CESAR_LOG_FORMAT: 'text' });
  const child = spawn(process.execPath, [cli, 'dashboard', '--dashboard-port', '0'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the dashboard did not start within 30 s:\n${log}`)), 30_000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text) => {
      log += text;
      const m = /Dashboard listening on (http:\/\/[\d.]+:\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the dashboard exited (${code}):\n${log}`));
    });
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    base,
    pid: child.pid,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

// ---------------------------------------------------------------- measurements

const jobPages = {
  jobs: undefined,
  jobs_by_type: 'type=type_3&limit=50',
  jobs_failed: 'state=failed&limit=50',
  jobs_text: 'q=boom&limit=50',
  jobs_text_no_match: 'q=no-such-text&limit=50',
};

async function pages(base) {
  const kinds = { overview: undefined, ...jobPages };
  const times = Object.fromEntries(Object.keys(kinds).map((k) => [k, { data: [], total: [] }]));
  let files = 0;
  // Page kinds in turn, so that a drift of the machine touches them all alike.
  for (let i = 0; i < args.runs; i++) {
    for (const [kind, query] of Object.entries(kinds)) {
      await sleep(1100);
      const load = await loadPage(base, query);
      times[kind].data.push(load.data);
      times[kind].total.push(load.total);
      files = load.files;
    }
  }
  // The overview while another page is open: its snapshot comes from memory.
  const other = openStream(base);
  await other.firstSnapshot;
  const warm = { data: [], total: [] };
  try {
    for (let i = 0; i < args.runs; i++) {
      const load = await loadPage(base, undefined);
      warm.data.push(load.data);
      warm.total.push(load.total);
    }
  } finally {
    other.close();
  }
  const result = { files_per_load: files };
  for (const [kind, t] of Object.entries(times)) {
    result[kind] = { ...(kinds[kind] ? { query: kinds[kind] } : {}), data_ms: summary(t.data), total_ms: summary(t.total) };
  }
  result.overview_with_another_page_open = { data_ms: summary(warm.data), total_ms: summary(warm.total) };
  return result;
}

async function endpoints(base) {
  const reads = {
    overview: '/dashboard-api/overview',
    jobs: '/dashboard-api/jobs?limit=50',
    ...Object.fromEntries(
      Object.entries(jobPages)
        .filter(([, q]) => q)
        .map(([k, q]) => [k, `/dashboard-api/jobs?${q}`]),
    ),
    workflows: '/dashboard-api/workflows',
    agents: '/dashboard-api/agents',
    info: '/dashboard-api/info',
    session: '/dashboard-api/session',
  };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const result = {};
  try {
    for (const [name, pathname] of Object.entries(reads)) {
      const times = [];
      let bytes = 0;
      for (let i = 0; i < args.runs; i++) {
        const t = performance.now();
        bytes = (await get(base, agent, pathname, { accept: 'application/json' })).length;
        times.push(performance.now() - t);
      }
      result[name] = { ...summary(times), bytes };
    }
  } finally {
    agent.destroy();
  }
  return result;
}

async function refreshTimes(pool) {
  const result = {};
  for (const view of views) {
    const times = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await pool.query(`REFRESH MATERIALIZED VIEW CONCURRENTLY ${view}`);
      times.push(performance.now() - t);
    }
    result[view] = { p50: pct(times, 50), max: pct(times, 100) };
  }
  return result;
}

/** One window with `count` open live streams: database and dashboard CPU per second, snapshots per stream. */
async function liveWindow(base, dashboardPid, count) {
  const streams = Array.from({ length: count }, () => openStream(base));
  try {
    await Promise.all(streams.map((s) => s.firstSnapshot));
    await sleep(2000);
    const before = streams.map((s) => s.snapshots);
    const db0 = localServerCpuMs({ withReaped: true });
    const dash0 = processCpuMs(dashboardPid);
    const t0 = performance.now();
    await sleep(args.windowSeconds * 1000);
    const seconds = (performance.now() - t0) / 1000;
    const dbMs = localServerCpuMs({ withReaped: true }) - db0;
    const dashMs = processCpuMs(dashboardPid) - dash0;
    const received = streams.map((s, i) => s.snapshots - before[i]);
    return {
      clients: count,
      db_cpu_ms_per_s: round(dbMs / seconds),
      dashboard_cpu_ms_per_s: round(dashMs / seconds),
      ...(count > 0
        ? {
            snapshots_per_client: { min: Math.min(...received), max: Math.max(...received) },
            snapshot_frame_bytes: streams[0].lastFrameBytes,
          }
        : {}),
    };
  } finally {
    for (const s of streams) s.close();
    // Let the hub see the streams go (it stops listening when the last leaves).
    await sleep(500);
  }
}

async function live(base, dashboardPid, url) {
  if (localServerCpuMs({ withReaped: true }) === null)
    return { skipped: 'no postgres process readable in /proc (not a local server on Linux)' };
  const enqueuer = new pg.Pool({ connectionString: url, max: 1 });
  enqueuer.on('error', () => {});
  let stop = false;
  let enqueued = 0;
  const loop = (async () => {
    while (!stop) {
      await enqueue(enqueuer, { type: 'canary', payload: {} });
      enqueued++;
      await sleep(250);
    }
  })();
  const windows = [];
  try {
    await sleep(1000);
    for (let r = 0; r < args.rounds; r++) {
      const order = r % 2 === 0 ? [0, 1, args.clients] : [args.clients, 1, 0];
      for (const count of order) windows.push({ round: r + 1, ...(await liveWindow(base, dashboardPid, count)) });
    }
  } finally {
    stop = true;
    await loop;
    await enqueuer.end();
  }
  const mean = (count, key) => {
    const values = windows.filter((w) => w.clients === count).map((w) => w[key]);
    return round(values.reduce((a, b) => a + b, 0) / values.length);
  };
  const db = { 0: mean(0, 'db_cpu_ms_per_s'), 1: mean(1, 'db_cpu_ms_per_s'), [args.clients]: mean(args.clients, 'db_cpu_ms_per_s') };
  return {
    window_seconds: args.windowSeconds,
    enqueue_every_ms: 250,
    jobs_enqueued: enqueued,
    windows,
    db_cpu_ms_per_s_mean: db,
    dashboard_cpu_ms_per_s_mean: {
      0: mean(0, 'dashboard_cpu_ms_per_s'),
      1: mean(1, 'dashboard_cpu_ms_per_s'),
      [args.clients]: mean(args.clients, 'dashboard_cpu_ms_per_s'),
    },
    [`ratio_${args.clients}_to_1`]: round(db[args.clients] / db[1]),
    [`ratio_${args.clients}_to_1_above_baseline`]: round((db[args.clients] - db[0]) / (db[1] - db[0])),
  };
}

// ---------------------------------------------------------------- main

const database = `cesar_bench_dashboard_${process.pid}`;
const admin = new pg.Client({ connectionString: withDb(args.databaseUrl, 'postgres') });
await admin.connect();
await admin.query(`CREATE DATABASE ${database}`);
const url = withDb(args.databaseUrl, database);
const pool = new pg.Pool({ connectionString: url, max: 2 });
pool.on('error', () => {});
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'cesar-bench-dashboard-'));
let dashboard;
try {
  await migrate(pool, silentLogger);
  const loadStarted = performance.now();
  await seedHistory(pool, { finished: args.finished, pending: args.pending });
  const loadSeconds = (performance.now() - loadStarted) / 1000;
  dashboard = await startDashboard(url, home);
  // One load to warm the server (its first snapshot, first plans, JIT of the route handlers).
  await loadPage(dashboard.base, undefined);
  const pageTimes = await pages(dashboard.base);
  const endpointTimes = await endpoints(dashboard.base);
  const refreshMs = await refreshTimes(pool);
  const liveCost = await live(dashboard.base, dashboard.pid, url);
  const server = (await pool.query('SHOW server_version')).rows[0].server_version;
  const version = JSON.parse(await get(dashboard.base, undefined, '/dashboard-api/info')).version;
  process.stdout.write(
    `${JSON.stringify({
      name: 'dashboard',
      version,
      server,
      machine: {
        cpus: os.cpus().length,
        cpu_model: os.cpus()[0]?.model,
        memory_gib: Math.round(os.totalmem() / 2 ** 30),
        os: `${os.type()} ${os.release()}`,
        node: process.version,
      },
      finished_jobs: args.finished,
      pending_jobs: args.pending,
      runs: args.runs,
      load_seconds: Math.round(loadSeconds),
      pages: pageTimes,
      endpoints_ms: endpointTimes,
      refresh_ms: refreshMs,
      live: liveCost,
    })}\n`,
  );
} finally {
  await dashboard?.stop();
  await pool.end();
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
  fs.rmSync(home, { recursive: true, force: true });
}

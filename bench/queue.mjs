#!/usr/bin/env node
// Queue benchmark: cesar against graphile-worker 0.17 (batched) and pg-boss 10, on one PostgreSQL.
//
//   node bench/queue.mjs --database-url URL [--jobs 20000] [--concurrency 10] [--system cesar|graphile-worker|pg-boss|all]
//                        [--events off|postgres|redis] [--json]
//
// For each system, on a fresh database of its own: bulk-enqueue N canary jobs (no sleep), drain them
// with ONE worker process at concurrency C, then, with that worker idle, enqueue 200 single jobs about
// 20 ms apart and measure enqueue-commit to handler-start latency. Every execution is counted in the
// worker process to report duplicates and lost jobs. It also measures the database's commit ceiling
// (single-row autocommit INSERTs from 1 and from 10 connections). Prints exactly one JSON object:
// for one system {"enqueue_jobs_per_sec", "drain_jobs_per_sec", "latency_ms": {p50, p95, p99},
// "duplicates", "lost", ...}; for --system all, {"systems": {name: that object}, ...}. Also per job
// during the drain: drain_wal_bytes_per_job (the server's WAL), drain_server_cpu_us_per_job (CPU of
// every postgres process on this machine; only for a loopback server on Linux) and, for cesar,
// drain_round_trips_per_job; drain_worker_cpu_us_per_job is the worker process's CPU over the same window.
//
// --events (cesar only; default off): the cesar worker publishes its jobs' lifecycle events (job.started,
// then job.succeeded, ...) as `cesar worker` does: the process's event bus (openEventBus, setProcessEvents)
// and the jobEventsObserver. postgres: NOTIFY on cesar_events; redis: a Redis stream on a private
// redis-server started for the run (no persistence) and stopped after it. The result then has `events`:
// the bus's published and dropped counts (after the drain, and at the end) and, for redis, the
// redis-server's CPU during the drain (drain_redis_cpu_us_per_job).
import { fork, spawn } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { localServerCpuMs, processCpuMs } from './proc-cpu.mjs';

const _here = path.dirname(fileURLToPath(import.meta.url));
const systems = ['cesar', 'graphile-worker', 'pg-boss'];
const eventModes = ['off', 'postgres', 'redis'];

function parseArgs(argv) {
  // prefetch: cesar's jobs claimed ahead of free slots; 500 - C gives it the same local buffer as
  // graphile-worker's localQueue of 500.
  const args = {
    jobs: 20000,
    concurrency: 10,
    system: 'cesar',
    latencyJobs: 200,
    databaseUrl: process.env.DATABASE_URL,
    prefetch: undefined,
    events: 'off',
    redisUrl: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) fail(`${a} needs a value`);
      return v;
    };
    if (a === '--database-url') args.databaseUrl = value();
    else if (a === '--jobs') args.jobs = Number(value());
    else if (a === '--concurrency') args.concurrency = Number(value());
    else if (a === '--system') args.system = value();
    else if (a === '--latency-jobs') args.latencyJobs = Number(value());
    else if (a === '--prefetch') args.prefetch = Number(value());
    else if (a === '--events') args.events = value();
    else if (a === '--redis-url') args.redisUrl = value();
    else if (a === '--json') args.json = true;
    else if (a === '--child') args.child = value();
    else fail(`unknown argument ${a}`);
  }
  if (!args.databaseUrl) fail('give --database-url postgres://... (a server where we may create databases)');
  if (!Number.isInteger(args.jobs) || args.jobs < 1) fail('--jobs must be a positive integer');
  if (!Number.isInteger(args.concurrency) || args.concurrency < 1) fail('--concurrency must be a positive integer');
  args.prefetch ??= Math.max(0, 500 - args.concurrency);
  if (args.system !== 'all' && !systems.includes(args.system)) fail(`--system must be one of ${systems.join(', ')}, all`);
  if (!eventModes.includes(args.events)) fail(`--events must be one of ${eventModes.join(', ')}`);
  return args;
}

function fail(message) {
  process.stderr.write(`bench/queue.mjs: ${message}\n`);
  process.exit(64);
}

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const withDb = (url, db) => {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
};

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[i] * 100) / 100;
}

// ---------------------------------------------------------------- systems: enqueue side (parent)

async function setup(system, url) {
  if (system === 'cesar') {
    const { migrate, silentLogger, enqueueMany, enqueue } = await import('cesar');
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    pool.on('error', () => {});
    await migrate(pool, silentLogger);
    return {
      bulk: (payloads) =>
        enqueueMany(
          pool,
          payloads.map((payload) => ({ type: 'canary', payload })),
        ),
      one: async (payload) => (await enqueue(pool, { type: 'canary', payload })).id,
      close: () => pool.end(),
    };
  }
  if (system === 'graphile-worker') {
    const { makeWorkerUtils, Logger } = await import('graphile-worker');
    const utils = await makeWorkerUtils({ connectionString: url, logger: new Logger(() => () => {}) });
    await utils.migrate();
    return {
      bulk: (payloads) => utils.addJobs(payloads.map((payload) => ({ identifier: 'canary', payload }))),
      one: async (payload) => (await utils.addJob('canary', payload)).id,
      close: () => utils.release(),
    };
  }
  const { default: PgBoss } = await import('pg-boss');
  const boss = new PgBoss({ connectionString: url, max: 4, supervise: false, schedule: false });
  boss.on('error', () => {});
  await boss.start();
  await boss.createQueue('canary');
  return {
    bulk: (payloads) => boss.insert(payloads.map((data) => ({ name: 'canary', data }))),
    one: (payload) => boss.send('canary', payload),
    close: () => boss.stop({ graceful: false, wait: true }),
  };
}

async function measureSystem(system, args, server) {
  const database = `cesar_bench_${system.replace(/-/g, '_')}_${process.pid}`;
  const admin = new pg.Client({ connectionString: withDb(args.databaseUrl, 'postgres') });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${database}`);
  await admin.query(`CREATE DATABASE ${database}`);
  const url = withDb(args.databaseUrl, database);
  const events = system === 'cesar' ? args.events : 'off';
  let child;
  let side;
  let redis;
  try {
    if (events === 'redis') redis = await startRedis();
    side = await setup(system, url);
    // 1. Bulk enqueue.
    const t0 = now();
    const chunk = 5000;
    for (let i = 0; i < args.jobs; i += chunk) {
      await side.bulk(Array.from({ length: Math.min(chunk, args.jobs - i) }, (_, k) => ({ n: i + k })));
    }
    const enqueueSeconds = (now() - t0) / 1000;

    // 2. Drain with one worker process.
    child = fork(
      fileURLToPath(import.meta.url),
      [
        '--child',
        system,
        '--database-url',
        url,
        '--concurrency',
        String(args.concurrency),
        '--jobs',
        String(args.jobs),
        '--prefetch',
        String(args.prefetch),
        '--events',
        events,
        ...(redis ? ['--redis-url', redis.url] : []),
      ],
      {
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
        execArgv: process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [],
      },
    );
    const messages = [];
    const waiters = [];
    child.on('message', (m) => {
      messages.push(m);
      for (const w of waiters.splice(0)) w();
    });
    const receive = async (type) => {
      for (;;) {
        const i = messages.findIndex((m) => m.type === type);
        if (i >= 0) return messages.splice(i, 1)[0];
        await new Promise((r) => waiters.push(r));
      }
    };
    await receive('ready');
    child.send({ type: 'go' });
    // WAL and server CPU are counted from the moment the worker is ready, like the drain clock.
    await receive('clock');
    const walBefore = await admin.query('SELECT pg_current_wal_lsn() AS lsn');
    const serverCpuBefore = isLoopback(args.databaseUrl) ? localServerCpuMs() : null;
    const redisCpuBefore = redis ? processCpuMs(redis.pid) : null;
    const drained = await receive('drained');
    const serverCpuMs = serverCpuBefore === null ? null : localServerCpuMs() - serverCpuBefore;
    const redisCpuMs = redisCpuBefore === null ? null : processCpuMs(redis.pid) - redisCpuBefore;
    const wal = await admin.query('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1) AS bytes', [walBefore.rows[0].lsn]);

    // 3. Latency, with the worker idle.
    await sleep(500);
    const commits = new Map();
    for (let seq = 0; seq < args.latencyJobs; seq++) {
      await side.one({ seq });
      commits.set(seq, now());
      await sleep(20);
    }
    child.send({ type: 'report', latencyJobs: args.latencyJobs });
    const report = await receive('report');
    const latencies = [];
    for (const [seq, committed] of commits) {
      const started = report.starts[seq];
      if (started !== undefined) latencies.push(started - committed);
    }
    latencies.sort((a, b) => a - b);
    return {
      system,
      jobs: args.jobs,
      concurrency: args.concurrency,
      ...(system === 'cesar'
        ? { prefetch: args.prefetch, events }
        : system === 'graphile-worker'
          ? { local_queue: 500 }
          : { batch_size: 1000, polling_interval_s: 0.5 }),
      enqueue_jobs_per_sec: Math.round(args.jobs / enqueueSeconds),
      drain_jobs_per_sec: Math.round(drained.jobs / (drained.ms / 1000)),
      drain_jobs_before_ready: args.jobs - drained.jobs,
      latency_ms: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99) },
      duplicates: report.duplicates,
      lost: report.lost,
      worker_cpu_ms: report.cpuMs,
      // The worker process's CPU over the drain's clock (its event loop runs the handlers, claims and completions).
      drain_worker_cpu_us_per_job: Math.round(((drained.cpuMs * 1000) / drained.jobs) * 10) / 10,
      // WAL of the whole server during the drain (nothing else should run): what each job cost the database.
      drain_wal_bytes_per_job: Math.round(Number(wal.rows[0].bytes) / drained.jobs),
      // CPU of every postgres process on this machine during the drain (null where /proc is not readable).
      ...(serverCpuMs !== null ? { drain_server_cpu_us_per_job: Math.round(((serverCpuMs * 1000) / drained.jobs) * 10) / 10 } : {}),
      ...(drained.roundTrips !== undefined
        ? { drain_round_trips_per_job: Math.round((drained.roundTrips / drained.jobs) * 1000) / 1000 }
        : {}),
      ...(events !== 'off'
        ? {
            events: {
              transport: events,
              after_drain: drained.events,
              at_end: report.events,
              ...(redisCpuMs !== null ? { drain_redis_cpu_us_per_job: Math.round(((redisCpuMs * 1000) / drained.jobs) * 10) / 10 } : {}),
            },
          }
        : {}),
      server,
    };
  } finally {
    // Let the worker stop on its own (it exits after its report), then make sure it is gone.
    if (child && child.exitCode === null) await Promise.race([new Promise((r) => child.once('exit', r)), sleep(3000)]);
    child?.kill('SIGKILL');
    await side?.close().catch(() => {});
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {});
    await admin.end();
    await redis?.stop();
  }
}

/** A private redis-server on a free loopback port, without persistence; stop() ends it. */
async function startRedis() {
  const port = await new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.once('error', (err) => fail(`cannot start redis-server: ${err.message}`));
  const deadline = now() + 10_000;
  for (;;) {
    const pong = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('error', () => resolve(false));
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('+PONG'));
      });
      socket.once('connect', () => socket.write('PING\r\n'));
    });
    if (pong) break;
    if (server.exitCode !== null || now() > deadline) fail('redis-server did not answer on its port');
    await sleep(50);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: server.pid,
    stop: async () => {
      if (server.exitCode === null) server.kill('SIGTERM');
      await exited;
    },
  };
}

const isLoopback = (url) => ['localhost', '127.0.0.1', '[::1]'].includes(new URL(url).hostname);

async function commitCeiling(databaseUrl) {
  const database = `cesar_bench_ceiling_${process.pid}`;
  const admin = new pg.Client({ connectionString: withDb(databaseUrl, 'postgres') });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  const url = withDb(databaseUrl, database);
  try {
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    pool.on('error', () => {});
    await pool.query('CREATE TABLE ceiling (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v integer NOT NULL)');
    const run = async (connections, seconds) => {
      const deadline = now() + seconds * 1000;
      let count = 0;
      await Promise.all(
        Array.from({ length: connections }, async () => {
          const client = await pool.connect();
          try {
            while (now() < deadline) {
              await client.query({ name: 'ceiling', text: 'INSERT INTO ceiling (v) VALUES ($1)', values: [count] });
              count++;
            }
          } finally {
            client.release();
          }
        }),
      );
      return Math.round(count / seconds);
    };
    const one = await run(1, 2);
    const ten = await run(10, 2);
    await pool.end();
    return { one_connection: one, ten_connections: ten };
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {});
    await admin.end();
  }
}

// ---------------------------------------------------------------- systems: worker side (child)

async function child(args) {
  const system = args.child;
  const url = args.databaseUrl;
  const counts = new Map();
  const starts = {};
  let executed = 0;
  let drainTarget = args.jobs;
  let onCount;
  const handle = (payload) => {
    const key = payload.seq !== undefined ? `s${payload.seq}` : `n${payload.n}`;
    if (payload.seq !== undefined) starts[payload.seq] = now();
    counts.set(key, (counts.get(key) ?? 0) + 1);
    executed++;
    if (onCount && executed >= drainTarget) onCount();
  };

  let stop;
  let roundTrips = () => undefined;
  let remaining; // SQL count of jobs not yet completed
  let start;
  let eventStats = () => undefined;
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => {});
  if (system === 'cesar') {
    const cesar = await import('cesar');
    const { Worker, JobTypeRegistry, builtInJobTypes, silentLogger, createPool } = cesar;
    const { Kysely, PostgresDialect } = await import('kysely');
    const workerPool = createPool(url, { poolMax: 10, connectTimeoutSeconds: 10 }, 'cesar-bench');
    // As `cesar worker` does with --events: the process's bus on the worker's pool, and the job observer.
    let bus;
    if (args.events !== 'off') {
      bus = await cesar.openEventBus({
        redisUrl: args.events === 'redis' ? args.redisUrl : undefined,
        pool: workerPool,
        databaseUrl: url,
        log: silentLogger,
        holder: `worker:bench:${process.pid}`,
      });
      cesar.setProcessEvents(bus);
      eventStats = async () => {
        await bus.flush();
        const { published, dropped, connected } = bus.stats();
        return { published, dropped, connected };
      };
    }
    // The built-in canary's declaration, with a handler that counts each execution.
    const registry = new JobTypeRegistry().add({
      ...builtInJobTypes().get('canary'),
      handler: async () => ({
        default: async (ctx) => {
          handle(ctx.payload);
        },
      }),
    });
    const worker = new Worker({
      pool: workerPool,
      db: new Kysely({ dialect: new PostgresDialect({ pool: workerPool }) }),
      registry,
      log: silentLogger,
      listenUrl: url,
      concurrency: args.concurrency,
      pollIntervalMs: 2000,
      leaseSeconds: 30,
      queues: ['default'],
      shutdownGraceMs: 1000,
      retentionMs: 7 * 86_400_000,
      version: 'bench',
      prefetch: args.prefetch,
      observers: bus ? [cesar.jobEventsObserver()] : [],
    });
    start = () => worker.start();
    stop = async () => {
      await worker.stop();
      await bus?.close();
    };
    roundTrips = () => worker.stats.claimQueries + worker.stats.writeQueries;
    remaining = async () => Number((await pool.query(`SELECT count(*) AS n FROM job_queue WHERE status <> 'completed'`)).rows[0].n);
  } else if (system === 'graphile-worker') {
    const { run, Logger } = await import('graphile-worker');
    let runner;
    start = async () => {
      runner = await run({
        connectionString: url,
        concurrency: args.concurrency,
        noHandleSignals: true,
        pollInterval: 2000,
        logger: new Logger(() => () => {}),
        taskList: {
          canary: async (payload) => {
            handle(payload);
          },
        },
        preset: { worker: { concurrentJobs: args.concurrency, localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
      });
    };
    stop = () => runner.stop();
    remaining = async () => Number((await pool.query('SELECT count(*) AS n FROM graphile_worker._private_jobs')).rows[0].n);
  } else {
    const { default: PgBoss } = await import('pg-boss');
    const boss = new PgBoss({ connectionString: url, max: 10, supervise: false, schedule: false });
    boss.on('error', () => {});
    await boss.start();
    start = () =>
      boss.work('canary', { batchSize: 1000, pollingIntervalSeconds: 0.5 }, async (jobs) => {
        for (const j of jobs) handle(j.data);
      });
    stop = () => boss.stop({ graceful: true, wait: true });
    remaining = async () =>
      Number((await pool.query(`SELECT count(*) AS n FROM pgboss.job WHERE name = 'canary' AND state <> 'completed'`)).rows[0].n);
  }

  const cpuStart = process.cpuUsage();
  process.send({ type: 'ready' });
  await new Promise((r) => process.once('message', r));
  const allRan = new Promise((r) => {
    onCount = r;
  });
  // The clock starts once the worker is ready (start() resolved: graphile-worker's run() does its own
  // checks and migrations first), and counts only the jobs run from then on: a system that begins
  // draining inside its start-up is neither charged for the start-up nor credited with those jobs.
  await start();
  const t0 = now();
  const drainCpuStart = process.cpuUsage();
  const ranBeforeClock = executed;
  process.send({ type: 'clock' });
  const roundTripsBeforeClock = roundTrips() ?? 0;
  await allRan;
  while ((await remaining()) > 0) await sleep(5);
  const rt = roundTrips();
  const drainedMs = now() - t0;
  const drainCpu = process.cpuUsage(drainCpuStart);
  process.send({
    type: 'drained',
    ms: drainedMs,
    cpuMs: (drainCpu.user + drainCpu.system) / 1000,
    jobs: args.jobs - ranBeforeClock,
    roundTrips: rt === undefined ? undefined : rt - roundTripsBeforeClock,
    // Flushed after the clock stopped: what the drain published, sent or dropped.
    events: await eventStats(),
  });

  const report = await new Promise((r) =>
    process.on('message', (m) => {
      if (m.type === 'report') r(m);
    }),
  );
  drainTarget = args.jobs + report.latencyJobs;
  if (executed < drainTarget) {
    await Promise.race([
      new Promise((r) => {
        onCount = r;
      }),
      sleep(5000),
    ]);
  }
  let duplicates = 0;
  for (const c of counts.values()) if (c > 1) duplicates += c - 1;
  const expected = [
    ...Array.from({ length: args.jobs }, (_, n) => `n${n}`),
    ...Array.from({ length: report.latencyJobs }, (_, s) => `s${s}`),
  ];
  const lost = expected.filter((k) => !counts.has(k)).length;
  const cpu = process.cpuUsage(cpuStart);
  process.send({ type: 'report', starts, duplicates, lost, cpuMs: Math.round((cpu.user + cpu.system) / 1000), events: await eventStats() });
  await stop().catch(() => {});
  await pool.end();
  process.exit(0);
}

// ---------------------------------------------------------------- main

const args = parseArgs(process.argv.slice(2));
if (args.child) {
  await child(args);
} else {
  const probe = new pg.Client({ connectionString: withDb(args.databaseUrl, 'postgres') });
  await probe.connect();
  const server = (await probe.query('SHOW server_version')).rows[0].server_version;
  await probe.end();
  const ceiling = await commitCeiling(args.databaseUrl);
  const machine = {
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model,
    memory_gib: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
  };
  if (args.system === 'all') {
    const results = {};
    for (const s of systems) results[s] = await measureSystem(s, args, server);
    process.stdout.write(`${JSON.stringify({ systems: results, commit_ceiling_inserts_per_sec: ceiling, machine })}\n`);
  } else {
    const result = await measureSystem(args.system, args, server);
    process.stdout.write(`${JSON.stringify({ ...result, commit_ceiling_inserts_per_sec: ceiling, machine })}\n`);
  }
}

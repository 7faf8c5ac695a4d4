#!/usr/bin/env node
// Workflow benchmark: cesar's workflow engine against DBOS Transact, on one PostgreSQL, in one run.
//
//   node bench/workflows.mjs --database-url URL [--executions 2000] [--concurrency 10] [--tick-seconds 20]
//                            [--latency-executions 100] [--prefetch P] [--dbos-poll-ms 10]
//                            [--bench-agents K] [--system cesar|dbos|all] [--json]
//
// Each system on a fresh database of its own, dropped at the end.
//
// cesar (executions created in this process, the Worker in a child process):
//   1. A template of three built-in canary steps (agent type monitor). N executions are created with
//      runWorkflow (one transaction each, 4 concurrent callers), then ONE Worker (concurrency C)
//      drains them: executions_per_sec from the worker's start to the moment every execution is
//      succeeded. Checks: every execution succeeded, every step started exactly once (step.started
//      events per execution and step). Per-step overhead: from the step's job enqueue
//      (job_queue.created_at) to its start (agent_events step.started created_at, same job_id),
//      both the database's now() of their transactions, p50/p99 in ms; under load (the drain) and
//      idle (the worker idle, M executions started about 50 ms apart).
//   2. Tick lag: a per-second template (overlap allow), three `cesar scheduler` processes for S
//      seconds, then from workflow_ticks: ticks recorded, lag (recorded_at - tick_at) p50/p99,
//      executions per fired tick (must be 1), ticks recorded by each scheduler.
//
// DBOS Transact (child process, DBOS's own system database): the same workflow of three no-op steps
// (DBOS.registerStep, DBOS.registerWorkflow), three shapes, each timed on its own:
//   queue  - N workflows enqueued (DBOSClient, before launch) on a queue with workerConcurrency C
//            (minimum polling interval --dbos-poll-ms), then drained by launch: the shape of cesar's drain;
//   direct - N workflows started at once with DBOS.startWorkflow in process, every handle awaited;
//   lanes  - C in-process callers, each starting a workflow and awaiting it, N in all.
// DBOS's executions_per_sec is the best of the three (`best_shape` names it). Its steps run inline,
// so it has no enqueue-to-start overhead; step_gap_ms reports the in-process gap between one step's
// end and the next one's start (the checkpoint write), for reference only.
//
// Prints exactly one JSON object.
import { fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const here = path.dirname(fileURLToPath(import.meta.url));
const systems = ['cesar', 'dbos'];

function parseArgs(argv) {
  const args = {
    executions: 2000,
    concurrency: 10,
    tickSeconds: 20,
    latencyExecutions: 100,
    system: 'all',
    databaseUrl: process.env.DATABASE_URL,
    prefetch: undefined,
    dbosPollMs: 10,
    benchAgents: 0,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) fail(`${a} needs a value`);
      return v;
    };
    if (a === '--database-url') args.databaseUrl = value();
    else if (a === '--executions') args.executions = Number(value());
    else if (a === '--concurrency') args.concurrency = Number(value());
    else if (a === '--tick-seconds') args.tickSeconds = Number(value());
    else if (a === '--latency-executions') args.latencyExecutions = Number(value());
    else if (a === '--system') args.system = value();
    else if (a === '--prefetch') args.prefetch = Number(value());
    else if (a === '--dbos-poll-ms') args.dbosPollMs = Number(value());
    else if (a === '--bench-agents') args.benchAgents = Number(value());
    else if (a === '--json') args.json = true;
    else if (a === '--child') args.child = value();
    else fail(`unknown argument ${a}`);
  }
  if (!args.databaseUrl) fail('give --database-url postgres://... (a server where we may create databases)');
  for (const [name, v, min] of [
    ['--executions', args.executions, 1],
    ['--concurrency', args.concurrency, 1],
    ['--tick-seconds', args.tickSeconds, 0],
    ['--latency-executions', args.latencyExecutions, 0],
    ['--dbos-poll-ms', args.dbosPollMs, 1],
    ['--bench-agents', args.benchAgents, 0],
  ]) {
    if (!Number.isInteger(v) || v < min) fail(`${name} must be an integer of at least ${min}`);
  }
  // prefetch: cesar's jobs claimed ahead of free slots; 500 - C as in bench/queue.mjs.
  args.prefetch ??= Math.max(0, 500 - args.concurrency);
  if (args.system !== 'all' && !systems.includes(args.system)) fail(`--system must be one of ${systems.join(', ')}, all`);
  return args;
}

function fail(message) {
  process.stderr.write(`bench/workflows.mjs: ${message}\n`);
  process.exit(64);
}

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const withDb = (url, db) => {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
};
const round2 = (x) => (x === null || x === undefined ? null : Math.round(x * 100) / 100);

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return round2(sorted[i]);
}

const summary = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: percentile(sorted, 100) };
};

/** Run `fn` on `callers` concurrent loops over 0..n-1. */
async function inLanes(n, callers, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(callers, n) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= n) return;
        await fn(i);
      }
    }),
  );
}

async function freshDatabase(args, system) {
  const database = `cesar_bench_wf_${system}_${process.pid}`;
  const admin = new pg.Client({ connectionString: withDb(args.databaseUrl, 'postgres') });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${database}`);
  return {
    url: withDb(args.databaseUrl, database),
    drop: async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {});
      await admin.end();
    },
  };
}

/** A child process of this script, with a message inbox. */
function startChild(role, childArgs) {
  const child = fork(fileURLToPath(import.meta.url), ['--child', role, ...childArgs], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const messages = [];
  const waiters = [];
  child.on('message', (m) => {
    messages.push(m);
    for (const w of waiters.splice(0)) w();
  });
  child.on('exit', () => {
    for (const w of waiters.splice(0)) w();
  });
  const receive = async (type) => {
    for (;;) {
      const i = messages.findIndex((m) => m.type === type);
      if (i >= 0) return messages.splice(i, 1)[0];
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`child ${role} exited (${child.exitCode ?? child.signalCode}) before sending ${type}`);
      await new Promise((r) => waiters.push(r));
    }
  };
  const finish = async () => {
    if (child.exitCode === null && child.signalCode === null) await Promise.race([new Promise((r) => child.once('exit', r)), sleep(5000)]);
    child.kill('SIGKILL');
  };
  return { child, receive, finish };
}

// ---------------------------------------------------------------- cesar (parent side)

const drainTemplate = (name, agentType) => ({
  name,
  description: 'bench/workflows.mjs: three canary steps',
  cron: '0 0 1 1 *',
  steps: [1, 2, 3].map((n) => ({ name: `step_${n}`, agent_type: agentType, handler: 'canary' })),
});

async function measureCesar(args) {
  const { migrate, silentLogger, builtInStepHandlers, applyTemplates, parseTemplates, runWorkflow } = await import('cesar');
  const db = await freshDatabase(args, 'cesar');
  const pool = new pg.Pool({ connectionString: db.url, max: 6 });
  pool.on('error', () => {});
  const steps = builtInStepHandlers();
  let worker;
  try {
    await migrate(pool, silentLogger);
    // The steps' agents: the 2 seeded monitor agents, or --bench-agents K agents of a type of their own.
    const agentType = args.benchAgents > 0 ? 'bench_agent' : 'monitor';
    if (args.benchAgents > 0) {
      await pool.query(
        `INSERT INTO agents (name, agent_type, description) SELECT 'bench agent ' || g, 'bench_agent', 'bench/workflows.mjs' FROM generate_series(1, $1) g`,
        [args.benchAgents],
      );
    }
    const agents = Number(
      (await pool.query(`SELECT count(*) AS n FROM agents WHERE agent_type = $1 AND status = 'active'`, [agentType])).rows[0].n,
    );
    await applyTemplates(pool, steps, parseTemplates(drainTemplate('bench_three_steps', agentType), steps));
    const count = async (sql, values = []) => Number((await pool.query(sql, values)).rows[0].n);

    // 1. Create N executions: runWorkflow, one transaction each, 4 concurrent callers.
    const ids = [];
    const c0 = now();
    await inLanes(args.executions, 4, async () => {
      ids.push(await runWorkflow(pool, steps, 'bench_three_steps'));
    });
    const createSeconds = (now() - c0) / 1000;

    // 2. Drain with one Worker (child process).
    worker = startChild('cesar-worker', [
      '--database-url',
      db.url,
      '--concurrency',
      String(args.concurrency),
      '--prefetch',
      String(args.prefetch),
    ]);
    await worker.receive('ready');
    worker.child.send({ type: 'go' });
    const { t0 } = await worker.receive('clock');
    const succeededBefore = await count(`SELECT count(*) AS n FROM workflow_executions WHERE id = ANY($1) AND status = 'succeeded'`, [ids]);
    const deadline = now() + 60_000 + args.executions * 50;
    let unfinished = args.executions;
    let t1;
    while (now() < deadline) {
      unfinished = await count(`SELECT count(*) AS n FROM workflow_executions WHERE id = ANY($1) AND status IN ('pending', 'running')`, [
        ids,
      ]);
      t1 = now();
      if (unfinished === 0) break;
      await sleep(10);
    }
    const drainedMs = t1 - t0;
    const drain = await cesarChecks(pool, ids);
    const drainStats = await askStats(worker);

    // 3. Latency: the worker idle, executions started about 50 ms apart.
    await sleep(500);
    const latencyIds = [];
    for (let i = 0; i < args.latencyExecutions; i++) {
      latencyIds.push(await runWorkflow(pool, steps, 'bench_three_steps'));
      await sleep(50);
    }
    const latencyDeadline = now() + 30_000;
    while (now() < latencyDeadline) {
      const n = await count(`SELECT count(*) AS n FROM workflow_executions WHERE id = ANY($1) AND status IN ('pending', 'running')`, [
        latencyIds,
      ]);
      if (n === 0) break;
      await sleep(20);
    }
    const idle = await cesarChecks(pool, latencyIds);
    const stats = await askStats(worker);
    worker.child.send({ type: 'stop' });
    await worker.finish();
    worker = undefined;

    // 4. Tick lag with three schedulers.
    const ticks = args.tickSeconds > 0 ? await measureTicks(args, db.url, pool, steps, { applyTemplates, parseTemplates }) : null;

    const completedSteps = drain.steps_started;
    return {
      system: 'cesar',
      executions: args.executions,
      concurrency: args.concurrency,
      prefetch: args.prefetch,
      steps_per_execution: 3,
      agent_type: agentType,
      active_agents_of_type: agents,
      create_executions_per_sec: Math.round(args.executions / createSeconds),
      executions_per_sec: drainedMs > 0 ? Math.round((args.executions - succeededBefore) / (drainedMs / 1000)) : null,
      drain_ms: Math.round(drainedMs),
      drain_executions_before_ready: succeededBefore,
      drain_unfinished_at_deadline: unfinished,
      duplicates: drain.duplicates + idle.duplicates,
      lost: drain.lost + idle.lost,
      not_succeeded: { drain: drain.not_succeeded, idle: idle.not_succeeded },
      step_overhead_ms: {
        under_load: drain.overhead,
        under_load_by_step: drain.overhead_by_step,
        idle: idle.overhead,
        idle_by_step: idle.overhead_by_step,
        measured_as: "job_queue.created_at (enqueuing transaction's now()) to agent_events step.started created_at (same job_id)",
      },
      agent_events_per_execution: round2(drain.events / args.executions),
      drain_round_trips_per_step:
        drainStats.roundTrips === undefined || completedSteps === 0 ? null : round2(drainStats.roundTrips / completedSteps),
      worker: {
        claim_queries: stats.claimQueries,
        write_queries: stats.writeQueries,
        claimed: stats.claimed,
        succeeded: stats.succeeded,
        failed: stats.failed,
        pool_queries_during_drain: drainStats.poolQueries,
        pool_queries_per_step_during_drain: completedSteps === 0 ? null : round2(drainStats.poolQueries / completedSteps),
        // The step runner's agent claim found no unlocked agent row (FOR UPDATE SKIP LOCKED) and
        // slept 200 ms before trying again: its count query runs only then.
        agent_claim_misses_during_drain: drainStats.agentMisses,
        agent_claim_misses_total: stats.agentMissesTotal,
      },
      ticks,
    };
  } finally {
    if (worker) {
      worker.child.kill('SIGKILL');
    }
    await pool.end().catch(() => {});
    await db.drop();
  }
}

async function askStats(worker) {
  worker.child.send({ type: 'stats' });
  return worker.receive('stats');
}

/** Duplicates, lost and per-step overhead of a set of executions. */
async function cesarChecks(pool, ids) {
  const { rows: statuses } = await pool.query(
    `SELECT status, count(*)::int AS n FROM workflow_executions WHERE id = ANY($1) GROUP BY status`,
    [ids],
  );
  const notSucceeded = Object.fromEntries(statuses.filter((r) => r.status !== 'succeeded').map((r) => [r.status, r.n]));
  // One step.started per execution and step, exactly.
  const { rows: starts } = await pool.query(
    `SELECT e.id, s.step, (SELECT count(*)::int FROM agent_events a
                            WHERE a.execution_id = e.id AND a.event_type = 'step.started'
                              AND a.payload->>'step' = 'step_' || s.step) AS n
       FROM workflow_executions e CROSS JOIN generate_series(1, 3) AS s(step)
      WHERE e.id = ANY($1)`,
    [ids],
  );
  let duplicates = 0;
  let lost = 0;
  let started = 0;
  for (const r of starts) {
    started += r.n;
    if (r.n > 1) duplicates += r.n - 1;
    if (r.n === 0) lost++;
  }
  const { rows: overhead } = await pool.query(
    `SELECT (a.payload->>'step') AS step, 1000 * extract(epoch FROM a.created_at - j.created_at)::float8 AS ms
       FROM agent_events a JOIN job_queue j ON j.id = a.job_id
      WHERE a.event_type = 'step.started' AND a.execution_id = ANY($1)`,
    [ids],
  );
  const byStep = {};
  for (const r of overhead) {
    byStep[r.step] ??= [];
    byStep[r.step].push(r.ms);
  }
  const events = Number((await pool.query(`SELECT count(*) AS n FROM agent_events WHERE execution_id = ANY($1)`, [ids])).rows[0].n);
  return {
    not_succeeded: notSucceeded,
    duplicates,
    lost,
    steps_started: started,
    events,
    overhead: summary(overhead.map((r) => r.ms)),
    overhead_by_step: Object.fromEntries(Object.entries(byStep).map(([k, v]) => [k, summary(v)])),
  };
}

async function measureTicks(args, url, pool, steps, { applyTemplates, parseTemplates }) {
  await applyTemplates(
    pool,
    steps,
    parseTemplates(
      {
        name: 'bench_every_second',
        description: 'bench/workflows.mjs: tick lag',
        cron: '* * * * * *',
        overlap: 'allow',
        steps: [{ name: 'ping', agent_type: 'monitor', handler: 'canary' }],
      },
      steps,
    ),
  );
  const bin = path.join(here, '..', 'bin', 'cesar.js');
  // First runs off: the schedulers fire the bench's template only, not the five original ones at once.
  const env = { ...process.env, DATABASE_URL: url, CESAR_LOG_FORMAT: 'text', CESAR_LOG_LEVEL: 'info', CESAR_FIRST_RUNS: 'off' };
  const schedulers = Array.from({ length: 3 }, () => {
    const p = spawn(process.execPath, [bin, 'scheduler'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    const log = [];
    p.stderr.setEncoding('utf8');
    p.stderr.on('data', (d) => log.push(d));
    const exited = new Promise((r) => p.once('exit', (code, signal) => r({ code, signal })));
    return { p, log, exited };
  });
  try {
    // The clock starts once the three have registered.
    const upDeadline = now() + 30_000;
    while (now() < upDeadline) {
      const n = Number((await pool.query(`SELECT count(*) AS n FROM schedulers WHERE stopped_at IS NULL`)).rows[0].n);
      if (n >= 3) break;
      await sleep(20);
    }
    await sleep(args.tickSeconds * 1000);
  } finally {
    for (const s of schedulers) s.p.kill('SIGTERM');
  }
  const exits = await Promise.all(
    schedulers.map((s) => Promise.race([s.exited, sleep(15_000).then(() => ({ code: null, signal: 'timeout' }))])),
  );
  for (const s of schedulers) s.p.kill('SIGKILL');
  const { rows: up } = await pool.query(`SELECT max(started_at) AS at, count(*)::int AS n FROM schedulers`);
  const allUpAt = up[0].at;

  const { rows: ticks } = await pool.query(
    `SELECT k.tick_at, k.fate, k.recorded_by, 1000 * extract(epoch FROM k.recorded_at - k.tick_at)::float8 AS lag_ms,
            (SELECT count(*)::int FROM workflow_executions e WHERE e.template_id = k.template_id AND e.scheduled_for = k.tick_at) AS executions
       FROM workflow_ticks k JOIN workflow_templates t ON t.id = k.template_id
      WHERE t.name = 'bench_every_second'
      ORDER BY k.tick_at`,
  );
  const fired = ticks.filter((t) => t.fate === 'fired');
  const steady = ticks.filter((t) => t.tick_at > allUpAt);
  const byScheduler = {};
  for (const t of ticks) byScheduler[t.recorded_by] = (byScheduler[t.recorded_by] ?? 0) + 1;
  const perTick = fired.map((t) => t.executions);
  const orphanExecutions = Number(
    (
      await pool.query(
        `SELECT count(*) AS n FROM workflow_executions e JOIN workflow_templates t ON t.id = e.template_id
          WHERE t.name = 'bench_every_second'
            AND NOT EXISTS (SELECT 1 FROM workflow_ticks k WHERE k.template_id = e.template_id AND k.tick_at = e.scheduled_for AND k.fate = 'fired')`,
      )
    ).rows[0].n,
  );
  // Seconds between the first and the last tick with no tick recorded.
  let gaps = 0;
  for (let i = 1; i < ticks.length; i++) gaps += Math.round((ticks[i].tick_at - ticks[i - 1].tick_at) / 1000) - 1;
  return {
    schedulers: 3,
    seconds: args.tickSeconds,
    ticks_recorded: ticks.length,
    fates: ticks.reduce((acc, t) => {
      acc[t.fate] = (acc[t.fate] ?? 0) + 1;
      return acc;
    }, {}),
    missing_ticks_between_first_and_last: gaps,
    tick_lag_ms: summary(steady.map((t) => t.lag_ms)),
    tick_lag_ms_including_startup: summary(ticks.map((t) => t.lag_ms)),
    executions_per_fired_tick: {
      min: perTick.length ? Math.min(...perTick) : null,
      max: perTick.length ? Math.max(...perTick) : null,
      ticks_not_exactly_one: perTick.filter((n) => n !== 1).length,
    },
    executions_without_a_fired_tick: orphanExecutions,
    ticks_by_scheduler: Object.values(byScheduler).sort((a, b) => b - a),
    scheduler_exits: exits.map((e) => e.code ?? e.signal),
    scheduler_errors: schedulers.flatMap((s) =>
      s.log
        .join('')
        .split('\n')
        .filter((l) => /\b(error|ERROR|warn|WARN)\b/.test(l))
        .slice(0, 3),
    ),
  };
}

// ---------------------------------------------------------------- cesar worker (child)

async function cesarWorkerChild(args) {
  const { Worker, builtInJobTypes, silentLogger, connect } = await import('cesar');
  const handle = await connect(args.databaseUrl, { poolMax: args.concurrency + 2, connectTimeoutSeconds: 10 }, { log: silentLogger });
  // Count every statement the worker's pool sends (handlers and the queue alike).
  let poolQueries = 0;
  let agentMisses = 0;
  const realQuery = handle.pool.query.bind(handle.pool);
  handle.pool.query = (...a) => {
    poolQueries++;
    const text = typeof a[0] === 'string' ? a[0] : a[0]?.text;
    if (text?.startsWith('SELECT count(*) AS n FROM agents WHERE agent_type')) agentMisses++;
    return realQuery(...a);
  };
  handle.pool.on('connect', (client) => {
    const clientQuery = client.query.bind(client);
    client.query = (...a) => {
      poolQueries++;
      return clientQuery(...a);
    };
  });
  const worker = new Worker({
    pool: handle.pool,
    db: await handle.kysely(),
    registry: builtInJobTypes(),
    log: silentLogger,
    listenUrl: args.databaseUrl,
    concurrency: args.concurrency,
    pollIntervalMs: 2000,
    leaseSeconds: 30,
    queues: ['default'],
    shutdownGraceMs: 1000,
    retentionMs: 7 * 86_400_000,
    version: 'bench',
    prefetch: args.prefetch,
  });
  process.send({ type: 'ready' });
  await new Promise((r) => process.once('message', r));
  await worker.start();
  const t0 = now();
  const rtBefore = worker.stats.claimQueries + worker.stats.writeQueries;
  const poolBefore = poolQueries;
  const missesBefore = agentMisses;
  process.send({ type: 'clock', t0 });
  let firstStats = true;
  await new Promise((resolve) =>
    process.on('message', (m) => {
      if (m.type === 'stats') {
        const rt = worker.stats.claimQueries + worker.stats.writeQueries;
        process.send({
          type: 'stats',
          ...worker.stats,
          agentMissesTotal: agentMisses,
          ...(firstStats
            ? { roundTrips: rt - rtBefore, poolQueries: poolQueries - poolBefore, agentMisses: agentMisses - missesBefore }
            : {}),
        });
        firstStats = false;
      } else if (m.type === 'stop') resolve();
    }),
  );
  await worker.stop().catch(() => {});
  await handle.close().catch(() => {});
  process.exit(0);
}

// ---------------------------------------------------------------- DBOS (parent side)

async function measureDbos(args) {
  const db = await freshDatabase(args, 'dbos');
  const child = startChild('dbos', [
    '--database-url',
    db.url,
    '--concurrency',
    String(args.concurrency),
    '--executions',
    String(args.executions),
    '--latency-executions',
    String(args.latencyExecutions),
    '--dbos-poll-ms',
    String(args.dbosPollMs),
  ]);
  try {
    const { result } = await child.receive('result');
    return result;
  } finally {
    await child.finish();
    await db.drop();
  }
}

// ---------------------------------------------------------------- DBOS (child)

async function dbosChild(args) {
  const { DBOS, DBOSClient } = await import('@dbos-inc/dbos-sdk');
  const url = args.databaseUrl;
  const n = args.executions;
  const appName = 'cesar_bench';
  const appVersion = 'bench';
  const queueName = 'bench_queue';

  // Every step execution counted, by workflow key and step; timestamps for the step gaps.
  const counts = new Map();
  const marks = new Map(); // key -> [start1, end1, start2, end2, start3, end3]
  let finished = 0;
  let onFinished;
  const stepFn = (step) => async (key) => {
    const m = marks.get(key) ?? [];
    m[(step - 1) * 2] = now();
    const k = `${key}:${step}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
    m[(step - 1) * 2 + 1] = now();
    marks.set(key, m);
  };
  const step1 = DBOS.registerStep(stepFn(1), { name: 'step_1' });
  const step2 = DBOS.registerStep(stepFn(2), { name: 'step_2' });
  const step3 = DBOS.registerStep(stepFn(3), { name: 'step_3' });
  const threeSteps = DBOS.registerWorkflow(
    async (key) => {
      await step1(key);
      await step2(key);
      await step3(key);
      finished++;
      onFinished?.();
      return key;
    },
    { name: 'three_steps' },
  );

  // Queue shape: enqueue before launch with DBOS's client, so that launch drains a ready backlog.
  await DBOS.migrate(url);
  const client = await DBOSClient.create({ systemDatabaseUrl: url, applicationName: appName });
  await client.registerQueue(queueName, {
    workerConcurrency: args.concurrency,
    minPollingIntervalMs: args.dbosPollMs,
    applicationName: appName,
  });
  const e0 = now();
  await inLanes(n, 4, (i) => client.enqueue({ queueName, workflowName: 'three_steps', workflowID: `q${i}`, appVersion }, `q${i}`));
  const enqueueSeconds = (now() - e0) / 1000;
  await client.destroy();

  DBOS.setConfig({ name: appName, systemDatabaseUrl: url, applicationVersion: appVersion, logLevel: 'error' });
  const sysPool = new pg.Pool({ connectionString: url, max: 2 });
  sysPool.on('error', () => {});
  const statusCount = async (prefix, status) =>
    Number(
      (
        await sysPool.query(`SELECT count(*) AS n FROM dbos.workflow_status WHERE workflow_uuid LIKE $1 || '%' AND status = $2`, [
          prefix,
          status,
        ])
      ).rows[0].n,
    );
  await DBOS.launch();
  const q0 = now();
  const finishedBeforeClock = finished;
  const queueDeadline = now() + 60_000 + n * 50;
  while (now() < queueDeadline && (finished < n || (await statusCount('q', 'SUCCESS')) < n)) {
    if (finished < n) await Promise.race([new Promise((r) => (onFinished = r)), sleep(50)]);
    else await sleep(5);
  }
  const queueMs = now() - q0;
  onFinished = undefined;
  const queueShape = {
    executions_per_sec: Math.round((n - finishedBeforeClock) / (queueMs / 1000)),
    drain_ms: Math.round(queueMs),
    executions_before_ready: finishedBeforeClock,
    enqueue_executions_per_sec: Math.round(n / enqueueSeconds),
    succeeded: await statusCount('q', 'SUCCESS'),
    worker_concurrency: args.concurrency,
    min_polling_interval_ms: args.dbosPollMs,
  };

  // Direct shape: all N started at once in process.
  const d0 = now();
  const handles = await Promise.all(Array.from({ length: n }, (_, i) => DBOS.startWorkflow(threeSteps, { workflowID: `d${i}` })(`d${i}`)));
  await Promise.all(handles.map((h) => h.getResult()));
  const directMs = now() - d0;
  const directShape = {
    executions_per_sec: Math.round(n / (directMs / 1000)),
    drain_ms: Math.round(directMs),
    succeeded: await statusCount('d', 'SUCCESS'),
    concurrency: 'unbounded (all started at once)',
  };

  // Lanes shape: C callers in process, each starting one workflow and awaiting it.
  const l0 = now();
  await inLanes(n, args.concurrency, async (i) => {
    const h = await DBOS.startWorkflow(threeSteps, { workflowID: `l${i}` })(`l${i}`);
    await h.getResult();
  });
  const lanesMs = now() - l0;
  const lanesShape = {
    executions_per_sec: Math.round(n / (lanesMs / 1000)),
    drain_ms: Math.round(lanesMs),
    succeeded: await statusCount('l', 'SUCCESS'),
    concurrency: args.concurrency,
  };

  // Idle: workflows started about 50 ms apart; the in-process gaps between steps.
  const idleKeys = [];
  const idleStarts = new Map();
  for (let i = 0; i < args.latencyExecutions; i++) {
    const key = `i${i}`;
    idleKeys.push(key);
    idleStarts.set(key, now());
    await (await DBOS.startWorkflow(threeSteps, { workflowID: key })(key)).getResult();
    await sleep(50);
  }

  const gaps = (keys, starts) => {
    const out = [];
    for (const key of keys) {
      const m = marks.get(key);
      if (!m) continue;
      if (starts) out.push(m[0] - starts.get(key));
      out.push(m[2] - m[1], m[4] - m[3]);
    }
    return out;
  };
  const expected = [...Array.from({ length: n }, (_, i) => [`q${i}`, `d${i}`, `l${i}`]).flat(), ...idleKeys];
  let duplicates = 0;
  let lost = 0;
  for (const key of expected) {
    for (const step of [1, 2, 3]) {
      const c = counts.get(`${key}:${step}`) ?? 0;
      if (c > 1) duplicates += c - 1;
      if (c === 0) lost++;
    }
  }
  const shapes = { queue: queueShape, direct: directShape, lanes: lanesShape };
  const [bestShape] = Object.entries(shapes).sort((a, b) => b[1].executions_per_sec - a[1].executions_per_sec)[0];
  const { version } = JSON.parse(fs.readFileSync(path.join(here, '..', 'node_modules', '@dbos-inc', 'dbos-sdk', 'package.json'), 'utf8'));
  const result = {
    system: 'dbos',
    dbos_sdk: version,
    executions: n,
    concurrency: args.concurrency,
    steps_per_execution: 3,
    executions_per_sec: shapes[bestShape].executions_per_sec,
    best_shape: bestShape,
    shapes,
    shapes_explained: {
      queue: `N enqueued with DBOSClient before launch on a queue of workerConcurrency ${args.concurrency}, then drained by this process from launch (cesar's shape)`,
      direct: 'N started at once in process with DBOS.startWorkflow, every handle awaited (in-process, not durable-queued)',
      lanes: `${args.concurrency} in-process callers, each DBOS.startWorkflow then getResult`,
    },
    duplicates,
    lost,
    step_gap_ms: {
      under_load_lanes: summary(gaps(Array.from({ length: n }, (_, i) => `l${i}`))),
      idle: summary(gaps(idleKeys, idleStarts)),
      measured_as:
        "in process: one step's end to the next one's start (its checkpoint write); for step 1, startWorkflow called to step start",
    },
  };
  await DBOS.shutdown();
  await sysPool.end();
  process.send({ type: 'result', result });
  await sleep(100);
  process.exit(0);
}

// ---------------------------------------------------------------- main

const args = parseArgs(process.argv.slice(2));
if (args.child === 'cesar-worker') {
  await cesarWorkerChild(args);
} else if (args.child === 'dbos') {
  await dbosChild(args);
} else if (args.child) {
  fail(`unknown child ${args.child}`);
} else {
  const probe = new pg.Client({ connectionString: withDb(args.databaseUrl, 'postgres') });
  await probe.connect();
  const server = (await probe.query('SHOW server_version')).rows[0].server_version;
  await probe.end();
  const machine = {
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model,
    memory_gib: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    postgres: server,
  };
  const wanted = args.system === 'all' ? systems : [args.system];
  const results = {};
  for (const s of wanted) results[s] = s === 'cesar' ? await measureCesar(args) : await measureDbos(args);
  const out = { systems: results, machine };
  if (results.cesar && results.dbos) {
    out.targets = {
      cesar_executions_per_sec_at_least_dbos: {
        cesar: results.cesar.executions_per_sec,
        dbos: results.dbos.executions_per_sec,
        dbos_shape: results.dbos.best_shape,
        met: results.cesar.executions_per_sec >= results.dbos.executions_per_sec,
      },
    };
  }
  if (results.cesar?.ticks) {
    out.targets ??= {};
    out.targets.tick_lag_p99_below_1000_ms = {
      p99: results.cesar.ticks.tick_lag_ms.p99,
      met: results.cesar.ticks.tick_lag_ms.p99 !== null && results.cesar.ticks.tick_lag_ms.p99 < 1000,
    };
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

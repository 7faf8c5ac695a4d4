#!/usr/bin/env node
// bench/knowledge.mjs: knowledge_graph_update over 100,000 agent_events (issue 16: "100,000 events
// are processed incrementally in bounded time"). A freshly migrated database gets --events events
// written as the workflow engine writes them: per execution (--steps steps, each by one of the 48
// reference agents), workflow.started, step.started and step.succeeded per step, workflow.succeeded,
// with the executions and their step runs; all older than the safety lag, spread over 30 days.
// Measured: (1) the first run (every source read from the beginning, in batches of --batch-size
// rows per transaction), (2) a second run with nothing new (reads and writes nothing), (3) a run
// after --new more events (read incrementally: only those), (4) `cesar kg show` of an agent at depth
// 2 and 5, and `cesar kg stats`. Prints one JSON document.
//   node bench/knowledge.mjs --database-url postgres://postgres@127.0.0.1:5432/postgres \
//     [--events 100000] [--new 1000] [--steps 4] [--batch-size 10000]
// It loads the compiled library (dist/, `npm run build`); before a build, run it with
// `node --import tsx bench/knowledge.mjs ...` and it loads src/.
import { performance } from 'node:perf_hooks';
import { openThrowawayDatabase } from './throwaway-db.mjs';

const args = { events: 100_000, newEvents: 1_000, steps: 4, batchSize: 10_000, databaseUrl: process.env.DATABASE_URL };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--database-url') args.databaseUrl = argv[++i];
  else if (argv[i] === '--events') args.events = Number(argv[++i]);
  else if (argv[i] === '--new') args.newEvents = Number(argv[++i]);
  else if (argv[i] === '--steps') args.steps = Number(argv[++i]);
  else if (argv[i] === '--batch-size') args.batchSize = Number(argv[++i]);
  else if (argv[i] !== '--json') {
    process.stderr.write(`unknown argument ${argv[i]}\n`);
    process.exit(64);
  }
}
for (const name of ['events', 'newEvents', 'steps', 'batchSize']) {
  if (!Number.isInteger(args[name]) || args[name] < 1) {
    process.stderr.write(`--${name} must be a positive integer\n`);
    process.exit(64);
  }
}
if (!args.databaseUrl) {
  process.stderr.write('--database-url (or DATABASE_URL) is needed: a server where the bench may create a database\n');
  process.exit(64);
}

/** The compiled module, or its source when there is no build yet (needs `--import tsx`). */
async function load(name) {
  try {
    return await import(`../dist/knowledge/${name}.js`);
  } catch (err) {
    if (err.code !== 'ERR_MODULE_NOT_FOUND') throw err;
    return import(`../src/knowledge/${name}.ts`);
  }
}

const { default: pg } = await import('pg');
const { migrate, silentLogger } = await import('cesar');
const { updateKnowledgeGraph } = await load('update');
const { graphStats, neighbourhood } = await load('traverse');

const name = `cesar_bench_knowledge_${process.pid}`;
const bench = await openThrowawayDatabase(pg, args.databaseUrl, name, { poolMax: 4 });
const { admin, pool } = bench;

const seconds = (ms) => Math.round(ms) / 1000;
const perSecond = (n, ms) => (ms > 0 ? Math.round(n / (ms / 1000)) : null);

/** Wall time and CPU (client, the bench's backends), WAL written (whole server), and rows written (this database). */
const measured = async (fn) => {
  const cpu0 = process.cpuUsage();
  const backends0 = await bench.backendCpuMs();
  const wal0 = await bench.walMark();
  const tup0 = await tuples();
  const t0 = performance.now();
  const result = await fn();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const backends1 = await bench.backendCpuMs();
  let backendMs = 0;
  for (const [pid, after] of backends1) backendMs += after - (backends0.get(pid) ?? 0);
  const walBytes = await bench.walBytesSince(wal0);
  const tup1 = await tuples();
  return {
    ms,
    result,
    cpu_ms: { client: Math.round((cpu.user + cpu.system) / 1000), postgres: Math.round(backendMs) },
    wal_kb: Math.round(walBytes / 1024),
    graph_rows_written: tup1 - tup0,
  };
};
/** Rows inserted, updated or deleted in the graph's tables so far (statistics; flushed before reading). */
async function tuples() {
  await pool.query('SELECT pg_stat_force_next_flush()').catch(() => undefined); // PostgreSQL 15+
  await new Promise((r) => setTimeout(r, 20));
  const { rows } = await pool.query(
    `SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint AS n FROM pg_stat_user_tables
      WHERE relname IN ('knowledge_nodes', 'knowledge_edges', 'knowledge_edges_history', 'knowledge_cursors')`,
  );
  return Number(rows[0].n);
}

/**
 * Executions first..first+count-1 (their own numbering), each of --steps steps by agents chosen
 * deterministically among the 48, finished at `end` minus the spacing times the remaining ones;
 * their step runs, and their 2 + 2 × steps events. Returns the events written.
 */
async function writeExecutions(first, count, startSql, spacingSql) {
  const steps = args.steps;
  await pool.query({
    text: `
    WITH agents AS (SELECT array_agg(id ORDER BY id) AS ids FROM agents),
         templates AS (SELECT array_agg(id ORDER BY id) AS ids, array_agg(name ORDER BY id) AS names FROM workflow_templates),
         e AS (
           INSERT INTO workflow_executions (template_id, trigger, scheduled_for, status, started_at, finished_at, created_at)
           SELECT t.ids[1 + i % array_length(t.ids, 1)], 'manual', ${startSql} + (i - $1) * ${spacingSql},
                  'succeeded', ${startSql} + (i - $1) * ${spacingSql}, ${startSql} + (i - $1) * ${spacingSql} + interval '1 minute',
                  ${startSql} + (i - $1) * ${spacingSql}
             FROM generate_series($1::int, $1::int + $2::int - 1) i, templates t
           RETURNING id, template_id, started_at, finished_at
         ),
         runs AS (
           INSERT INTO workflow_step_runs (execution_id, step_order, agent_id, status, name, handler, started_at, finished_at, attempts)
           SELECT e.id, s, a.ids[1 + ((e.id * 7 + s * 13) % array_length(a.ids, 1))], 'succeeded', 'step_' || s, 'canary',
                  e.started_at + s * interval '10 seconds', e.started_at + s * interval '10 seconds' + interval '5 seconds', 1
             FROM e, agents a, generate_series(1, $3::int) s
           RETURNING execution_id, step_order, agent_id, name, started_at, finished_at
         )
    INSERT INTO agent_events (agent_id, event_type, execution_id, payload, created_at)
    SELECT NULL::bigint, 'workflow.started', e.id, jsonb_build_object('template', tn.name), e.started_at FROM e JOIN workflow_templates tn ON tn.id = e.template_id
    UNION ALL
    SELECT NULL::bigint, 'workflow.succeeded', e.id, jsonb_build_object('template', tn.name), e.finished_at FROM e JOIN workflow_templates tn ON tn.id = e.template_id
    UNION ALL
    SELECT r.agent_id, 'step.started', r.execution_id, jsonb_build_object('template', tn.name, 'step', r.name), r.started_at
      FROM runs r JOIN e ON e.id = r.execution_id JOIN workflow_templates tn ON tn.id = e.template_id
    UNION ALL
    SELECT r.agent_id, 'step.succeeded', r.execution_id, jsonb_build_object('template', tn.name, 'step', r.name), r.finished_at
      FROM runs r JOIN e ON e.id = r.execution_id JOIN workflow_templates tn ON tn.id = e.template_id`,
    values: [first, count, steps],
  });
  return count * (2 + 2 * steps);
}

try {
  const postgresVersion = (await admin.query('SHOW server_version')).rows[0].server_version;
  await migrate(pool, silentLogger);
  const perExecution = 2 + 2 * args.steps;
  const executions = Math.ceil(args.events / perExecution);
  const newExecutions = Math.ceil(args.newEvents / perExecution);

  // Spread over the 30 days before a minute ago (older than the safety lag).
  const fillStarted = performance.now();
  const written = await writeExecutions(
    0,
    executions,
    `now() - interval '30 days' - interval '2 minutes'`,
    `(interval '30 days' / ${executions})`,
  );
  await pool.query('ANALYZE');
  const fillMs = performance.now() - fillStarted;

  const options = { lagMs: 1000, batchSize: args.batchSize };
  const first = await measured(() => updateKnowledgeGraph(pool, options));
  const again = await measured(() => updateKnowledgeGraph(pool, options));
  // Finished (with their last events) between 150 and 90 seconds ago: past the safety lag.
  const newWritten = await writeExecutions(
    executions,
    newExecutions,
    `now() - interval '150 seconds'`,
    `(interval '60 seconds' / ${newExecutions})`,
  );
  const incremental = await measured(() => updateKnowledgeGraph(pool, options));

  const { rows: busiest } = await pool.query(
    `SELECT n.kind, n.key FROM knowledge_nodes n JOIN knowledge_edges e ON e.src_id = n.id
      WHERE n.kind = 'agent' GROUP BY n.id ORDER BY count(*) DESC, n.key LIMIT 1`,
  );
  const start = busiest[0];
  const show2 = await measured(() => neighbourhood(pool, start, 2));
  const show5 = await measured(() => neighbourhood(pool, start, 5));
  const stats = await measured(() => graphStats(pool));

  const run = (m) => {
    const e = m.result.extract_entities;
    return {
      seconds: seconds(m.ms),
      events_read: e.sources.agent_events.read,
      events_per_second: perSecond(e.sources.agent_events.read, m.ms),
      batches: e.sources.agent_events.batches,
      executions_read: e.sources.workflow_executions.read,
      nodes: e.nodes,
      edges: { ...e.edges, decayed: m.result.extract_relations.edges.decayed, pruned: m.result.prune_weak_edges.pruned },
      graph: { nodes: m.result.prune_weak_edges.nodes, edges: m.result.prune_weak_edges.edges },
      graph_rows_written: m.graph_rows_written,
      cpu_ms: m.cpu_ms,
      wal_kb: m.wal_kb,
    };
  };
  process.stdout.write(
    `${JSON.stringify(
      {
        name: 'knowledge-graph-update',
        events: written,
        executions,
        steps_per_execution: args.steps,
        batch_size: args.batchSize,
        node: process.version,
        postgres: postgresVersion,
        fixture_seconds: seconds(fillMs),
        first_run: run(first),
        second_run_nothing_new: run(again),
        after_new_events: { new_events: newWritten, ...run(incremental) },
        kg_show: {
          node: `${start.kind}:${start.key}`,
          depth_2: { ms: Math.round(show2.ms * 10) / 10, nodes: show2.result.nodes.length },
          depth_5: { ms: Math.round(show5.ms * 10) / 10, nodes: show5.result.nodes.length },
        },
        kg_stats_ms: Math.round(stats.ms * 10) / 10,
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await bench.close();
}

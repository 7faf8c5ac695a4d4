import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/errors.js';
import { graphStats, neighbourhood, parseNodeRef } from '../../src/knowledge/traverse.js';
import { extractEntities, pruneWeakEdges, type UpdateResult, updateKnowledgeGraph } from '../../src/knowledge/update.js';
import { createTestDatabase, type OpenTestDatabase, openTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { A, B, baseTime, C, D, day, dfa, expectedRho, graphSnapshot, graphVersions, M, mc, minute, S, writeFixture } from './fixture.js';

const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;
/** The documented weight: strength n/(n+1) (6 decimals), halved every 7 whole days since the last evidence. */
const weight = (n: number, days = 0): number => round6(round6(n / (n + 1)) * 0.5 ** (days / 7));

describe('the knowledge graph (knowledge_graph_update, cesar kg)', () => {
  let db: TestDatabase;
  let handle: OpenTestDatabase;
  let t: number;
  /** Seconds since the epoch of T + minutes, as the database gives timestamptz back (Date). */
  const at = (minutes: number) => new Date(t + minutes * minute);
  const update = (options = {}) => updateKnowledgeGraph(handle.pool, { lagMs: 1000, ...options });
  let firstSnapshot: Awaited<ReturnType<typeof graphSnapshot>>;

  before(async () => {
    db = await createTestDatabase();
    handle = await openTestDatabase(db.url);
    t = baseTime();
    await writeFixture(db.url, t);
  });
  after(async () => {
    await handle?.close();
    await db?.drop();
  });

  it('builds exactly the expected nodes and edges from the fixture, and prunes the edges not seen for 20 days', async () => {
    const result = await update();
    const entities = result.extract_entities;
    assert.deepEqual(Object.fromEntries(Object.entries(entities.sources).map(([s, r]) => [s, [r.read, r.used, r.batches]])), {
      agent_events: [10, 8, 1],
      workflow_executions: [2, 2, 1],
      memory_semantic: [4, 3, 1],
      market_analysis: [3, 3, 1],
      financial_data: [450, 450, 1],
    });
    assert.equal(entities.nodes.added, 20);
    assert.equal(entities.edges.added, 27);
    assert.equal(new Date(entities.clock!).getTime(), at(60).getTime(), 'the clock is the newest row read');
    assert.equal(entities.sources.agent_events.cursor_at && new Date(entities.sources.agent_events.cursor_at).getTime(), at(60).getTime());
    const relations = result.extract_relations;
    const rho = expectedRho('AAPL', 'MSFT', t);
    assert.ok(Math.abs(rho.rho) > 0.9, `the fixture's AAPL and MSFT move together (${rho.rho})`);
    for (const [s1, s2] of [
      ['AAPL', 'SPY'],
      ['MSFT', 'SPY'],
    ] as const) {
      assert.ok(Math.abs(expectedRho(s1, s2, t).rho) < 0.5, `the fixture's ${s1} and ${s2} do not (${expectedRho(s1, s2, t).rho})`);
    }
    assert.equal(relations.correlations.symbols, 3);
    assert.equal(relations.correlations.pairs, 3);
    assert.equal(relations.correlations.holding.length, 1);
    const [holding] = relations.correlations.holding;
    assert.deepEqual([holding!.src, holding!.dst, holding!.returns], ['AAPL', 'MSFT', 120]);
    assert.ok(Math.abs(holding!.rho - rho.rho) <= 1e-6, `rho ${holding!.rho}, computed here ${rho.rho}`);
    assert.deepEqual(relations.edges, { added: 1, updated: 0, decayed: 0 });
    assert.deepEqual(
      { pruned: result.prune_weak_edges.pruned, by: result.prune_weak_edges.by_relation, left: result.prune_weak_edges.edges },
      { pruned: 3, by: { carried_out: 1, executed: 1, part_of: 1 }, left: 25 },
    );

    const graph = await graphSnapshot(db.url);
    firstSnapshot = graph;
    const node = (name: string, label: string, first: number, last: number, properties: Record<string, unknown> = {}) => ({
      name,
      label,
      properties,
      first_seen_at: at(first),
      last_seen_at: at(last),
    });
    const agent = (name: string, type: string, first: number, last: number) =>
      node(`agent:${name}`, name, first, last, { agent_type: type });
    const step = (template: string, name: string, first: number, last: number) =>
      node(`step:${template}.${name}`, name, first, last, { template });
    const d3 = -3 * 24 * 60;
    const d20 = -20 * 24 * 60;
    assert.deepEqual(graph.nodes, [
      agent(B, 'financial_analyst', 15, 50),
      agent(A, 'market_data', 10, 50),
      agent(M, 'memory_manager', d20, d20),
      agent(D, 'generator', 60, 60),
      agent(C, 'risk_analyst', 25, 40),
      agent(S, 'summarizer', d3, d3),
      node('fact:aapl_outlook', 'aapl_outlook', 15, 25),
      node('fact:market_regime', 'market_regime', 35, 35),
      step(dfa, 'analyze_portfolio', 20, 46),
      step(dfa, 'assess_risk', 30, 30),
      step(dfa, 'fetch_market_data', 10, 45),
      step(dfa, 'write_daily_report', 60, 60),
      step(mc, 'consolidate_episodes', d20, d20),
      step(mc, 'summarize_topics', d3, d3),
      node('symbol:AAPL', 'AAPL', 6, 25),
      node('symbol:MSFT', 'MSFT', 6, 15),
      node('symbol:QQQ', 'QQQ', 35, 35),
      node('symbol:SPY', 'SPY', 6, 35),
      node(`workflow:${dfa}`, dfa, 10, 60),
      node(`workflow:${mc}`, mc, d20, d3),
    ]);

    const edge = (src: string, rel: string, dst: string, n: number, first: number, last: number, source: string) => ({
      src,
      rel,
      dst,
      evidence: n,
      strength: round6(n / (n + 1)),
      weight: weight(n, Math.floor((60 - last) / (24 * 60))),
      first_seen_at: at(first),
      last_seen_at: at(last),
      source,
      properties: {},
    });
    const ev = 'agent_events';
    const expectedEdges = [
      edge(`agent:${B}`, 'carried_out', `step:${dfa}.analyze_portfolio`, 2, 20, 46, ev),
      edge(`agent:${B}`, 'collaborated_with', `agent:${A}`, 2, 40, 50, 'workflow_executions'),
      edge(`agent:${B}`, 'collaborated_with', `agent:${C}`, 1, 40, 40, 'workflow_executions'),
      edge(`agent:${B}`, 'executed', `workflow:${dfa}`, 2, 20, 46, ev),
      edge(`agent:${B}`, 'knows', 'fact:aapl_outlook', 1, 15, 15, 'memory_semantic'),
      edge(`agent:${A}`, 'carried_out', `step:${dfa}.fetch_market_data`, 2, 10, 45, ev),
      edge(`agent:${A}`, 'collaborated_with', `agent:${C}`, 1, 40, 40, 'workflow_executions'),
      edge(`agent:${A}`, 'executed', `workflow:${dfa}`, 2, 10, 45, ev),
      edge(`agent:${D}`, 'carried_out', `step:${dfa}.write_daily_report`, 1, 60, 60, ev),
      edge(`agent:${D}`, 'executed', `workflow:${dfa}`, 1, 60, 60, ev),
      edge(`agent:${C}`, 'carried_out', `step:${dfa}.assess_risk`, 1, 30, 30, ev),
      edge(`agent:${C}`, 'executed', `workflow:${dfa}`, 1, 30, 30, ev),
      edge(`agent:${C}`, 'knows', 'fact:aapl_outlook', 1, 25, 25, 'memory_semantic'),
      edge(`agent:${S}`, 'carried_out', `step:${mc}.summarize_topics`, 1, d3, d3, ev),
      edge(`agent:${S}`, 'executed', `workflow:${mc}`, 1, d3, d3, ev),
      edge('fact:aapl_outlook', 'mentions', 'symbol:AAPL', 2, 15, 25, 'memory_semantic'),
      edge('fact:aapl_outlook', 'mentions', 'symbol:MSFT', 1, 15, 15, 'memory_semantic'),
      edge('fact:market_regime', 'mentions', 'symbol:QQQ', 1, 35, 35, 'memory_semantic'),
      edge('fact:market_regime', 'mentions', 'symbol:SPY', 1, 35, 35, 'memory_semantic'),
      edge(`step:${dfa}.analyze_portfolio`, 'part_of', `workflow:${dfa}`, 2, 20, 46, ev),
      edge(`step:${dfa}.assess_risk`, 'part_of', `workflow:${dfa}`, 1, 30, 30, ev),
      edge(`step:${dfa}.fetch_market_data`, 'part_of', `workflow:${dfa}`, 2, 10, 45, ev),
      edge(`step:${dfa}.write_daily_report`, 'part_of', `workflow:${dfa}`, 1, 60, 60, ev),
      edge(`step:${mc}.summarize_topics`, 'part_of', `workflow:${mc}`, 1, d3, d3, ev),
      {
        src: 'symbol:AAPL',
        rel: 'correlated_with',
        dst: 'symbol:MSFT',
        evidence: 120,
        strength: Math.abs(holding!.rho),
        weight: Math.abs(holding!.rho),
        first_seen_at: at(5),
        last_seen_at: at(5),
        source: 'financial_data',
        properties: { rho: holding!.rho, returns: 120, from: rho.from, to: rho.to },
      },
    ];
    assert.deepEqual(graph.edges, expectedEdges);
    assert.equal(weight(1, 3), 0.371499, 'an edge of one piece of evidence, last seen 3 days before the clock');

    const pruned = (src: string, rel: string, dst: string) => ({
      ...edge(src, rel, dst, 1, d20, d20, ev),
      reason: 'pruned',
      min_weight: 0.1,
    });
    assert.deepEqual(
      graph.history,
      [
        pruned(`agent:${M}`, 'carried_out', `step:${mc}.consolidate_episodes`),
        pruned(`agent:${M}`, 'executed', `workflow:${mc}`),
        pruned(`step:${mc}.consolidate_episodes`, 'part_of', `workflow:${mc}`),
      ].map(({ properties: _, ...h }) => h),
    );
    assert.ok(graph.history.every((h) => (h.weight as number) < 0.1 && (h.weight as number) === weight(1, 20)));
  });

  it('a second run with no new input reads nothing and writes no row', async () => {
    const before = await graphVersions(db.url);
    const result = await update();
    assertNothing(result);
    assert.deepEqual(await graphVersions(db.url), before);
  });

  it('traversal: depth 1 and 2 from an agent, each node once at its smallest depth with the edge it was reached by', async () => {
    const one = await neighbourhood(handle.pool, parseNodeRef(`agent:${A}`), 1);
    assert.deepEqual(
      one.nodes.map((n) => [n.depth, `${n.kind}:${n.key}`, n.from]),
      [
        [0, `agent:${A}`, null],
        [1, `agent:${B}`, `agent:${A}`],
        [1, `agent:${C}`, `agent:${A}`],
        [1, `step:${dfa}.fetch_market_data`, `agent:${A}`],
        [1, `workflow:${dfa}`, `agent:${A}`],
      ],
    );
    assert.deepEqual(
      one.edges.map((e) => [e.src, e.rel, e.dst, e.weight, e.evidence_count]),
      [
        [`agent:${B}`, 'collaborated_with', `agent:${A}`, weight(2), 2],
        [`agent:${A}`, 'collaborated_with', `agent:${C}`, weight(1), 1],
        [`agent:${A}`, 'carried_out', `step:${dfa}.fetch_market_data`, weight(2), 2],
        [`agent:${A}`, 'executed', `workflow:${dfa}`, weight(2), 2],
      ],
    );
    assert.deepEqual(one.start.properties, { agent_type: 'market_data' });

    const two = await neighbourhood(handle.pool, parseNodeRef(`agent:${A}`));
    assert.equal(two.depth, 2);
    assert.deepEqual(
      two.nodes.filter((n) => n.depth === 2).map((n) => [`${n.kind}:${n.key}`, n.from]),
      [
        [`agent:${D}`, `workflow:${dfa}`],
        ['fact:aapl_outlook', `agent:${B}`],
        [`step:${dfa}.analyze_portfolio`, `agent:${B}`],
        [`step:${dfa}.assess_risk`, `agent:${C}`],
        [`step:${dfa}.write_daily_report`, `workflow:${dfa}`],
      ],
    );
    assert.equal(two.nodes.length, 10);
    assert.deepEqual(
      two.edges.filter((e) => e.dst === 'fact:aapl_outlook' || e.src === `agent:${D}`).map((e) => [e.src, e.rel, e.dst]),
      [
        [`agent:${D}`, 'executed', `workflow:${dfa}`],
        [`agent:${B}`, 'knows', 'fact:aapl_outlook'],
      ],
    );
  });

  it('traversal: the cycles of the graph (A-B-C collaborated, AAPL-MSFT both mentioned) do not loop; depth 5 stops at the component', async () => {
    const five = await neighbourhood(handle.pool, parseNodeRef(`agent:${A}`), 5);
    const names = five.nodes.map((n) => `${n.kind}:${n.key}`);
    assert.equal(new Set(names).size, names.length, 'each node once');
    assert.deepEqual(
      five.nodes.filter((n) => n.depth >= 3).map((n) => [n.depth, `${n.kind}:${n.key}`, n.from]),
      [
        [3, 'symbol:AAPL', 'fact:aapl_outlook'],
        [3, 'symbol:MSFT', 'fact:aapl_outlook'],
      ],
    );
    assert.equal(five.nodes.length, 12, 'the summarizer, the pruned edges and market_regime are out of reach');
    assert.equal(five.edges.length, 11, 'one edge per node reached');
    const fromSymbol = await neighbourhood(handle.pool, parseNodeRef('symbol:MSFT'), 1);
    assert.deepEqual(
      fromSymbol.nodes.map((n) => [n.depth, `${n.kind}:${n.key}`]),
      [
        [0, 'symbol:MSFT'],
        [1, 'fact:aapl_outlook'],
        [1, 'symbol:AAPL'],
      ],
    );
  });

  it('traversal refuses a malformed node, an unknown node and a depth out of 1..5, each in one line with exit code 65', async () => {
    for (const bad of ['agent', 'Agent:X', ':AAPL', 'symbol:']) {
      assert.throws(
        () => parseNodeRef(bad),
        (err: Error & { exitCode?: number }) => err.exitCode === ExitCode.dataError && !err.message.includes('\n'),
      );
    }
    assert.deepEqual(parseNodeRef('fact:a:b'), { kind: 'fact', key: 'a:b' }, 'the key may hold colons');
    await assert.rejects(neighbourhood(handle.pool, parseNodeRef('symbol:NOPE')), (err: Error & { exitCode?: number; code?: string }) => {
      assert.equal(err.code, 'not_found');
      assert.equal(err.exitCode, ExitCode.dataError);
      assert.match(err.message, /^no node symbol:NOPE in the knowledge graph$/);
      return true;
    });
    for (const depth of [0, 6, 1.5]) {
      await assert.rejects(neighbourhood(handle.pool, parseNodeRef('symbol:AAPL'), depth), /depth must be an integer from 1 to 5/);
    }
  });

  it('stats: nodes by kind, edges by relation, the history, the cursors', async () => {
    const stats = await graphStats(handle.pool);
    assert.deepEqual(stats.nodes, {
      total: 20,
      by_kind: [
        { kind: 'agent', count: 6 },
        { kind: 'fact', count: 2 },
        { kind: 'step', count: 6 },
        { kind: 'symbol', count: 4 },
        { kind: 'workflow', count: 2 },
      ],
    });
    assert.deepEqual(
      stats.edges.by_relation.map((r) => [r.rel, r.count, r.evidence]),
      [
        ['carried_out', 5, 7],
        ['collaborated_with', 3, 4],
        ['correlated_with', 1, 120],
        ['executed', 5, 7],
        ['knows', 2, 2],
        ['mentions', 4, 5],
        ['part_of', 5, 7],
      ],
    );
    assert.equal(stats.edges.total, 25);
    assert.deepEqual(stats.history, {
      total: 3,
      by_relation: [
        { rel: 'carried_out', count: 1 },
        { rel: 'executed', count: 1 },
        { rel: 'part_of', count: 1 },
      ],
    });
    assert.deepEqual(
      stats.cursors.map((c) => [c.source, c.rows_read]),
      [
        ['agent_events', 10],
        ['financial_data', 450],
        ['market_analysis', 3],
        ['memory_semantic', 4],
        ['workflow_executions', 2],
      ],
    );
  });

  it('new events add only what they bring: their nodes and edges change, no other row does', async () => {
    const before = await graphVersions(db.url);
    await sql(
      db.url,
      `INSERT INTO agent_events (agent_id, event_type, payload, created_at)
       SELECT id, 'step.succeeded', '{"template": "daily_financial_analysis", "step": "assess_risk"}', $2 FROM agents WHERE name = $1`,
      [B, at(61).toISOString()],
    );
    const result = await update();
    assert.deepEqual(Object.fromEntries(Object.entries(result.extract_entities.sources).map(([s, r]) => [s, r.read])), {
      agent_events: 1,
      workflow_executions: 0,
      memory_semantic: 0,
      market_analysis: 0,
      financial_data: 0,
    });
    assert.deepEqual(result.extract_entities.nodes, { added: 0, updated: 3 });
    assert.deepEqual(result.extract_entities.edges, { added: 1, updated: 2 });
    assert.deepEqual(result.extract_relations.edges, { added: 0, updated: 0, decayed: 0 });
    assert.equal(result.prune_weak_edges.pruned, 0);
    const after = await graphVersions(db.url);
    const changed = Object.keys(after)
      .filter((k) => after[k] !== before[k])
      .map((k) => k.replace(/^edge (\d+) (\S+) (\d+)$/, 'edge $2'))
      .sort();
    assert.deepEqual(changed, [
      'cursor agent_events',
      'edge carried_out',
      'edge executed',
      'edge part_of',
      `node agent:${B}`,
      `node step:${dfa}.assess_risk`,
      `node workflow:${dfa}`,
    ]);
    const graph = await graphSnapshot(db.url);
    const find = (src: string, rel: string, dst: string) => graph.edges.find((e) => e.src === src && e.rel === rel && e.dst === dst);
    assert.deepEqual(
      [
        find(`agent:${B}`, 'executed', `workflow:${dfa}`),
        find(`agent:${B}`, 'carried_out', `step:${dfa}.assess_risk`),
        find(`step:${dfa}.assess_risk`, 'part_of', `workflow:${dfa}`),
      ].map((e) => [e?.evidence, e?.weight, e?.last_seen_at]),
      [
        [3, weight(3), at(61)],
        [1, weight(1), at(61)],
        [2, weight(2), at(61)],
      ],
    );
  });

  it('a row written inside the safety lag waits for the next run; then the clock moves and the edges not seen decay', async () => {
    await sql(
      db.url,
      `INSERT INTO agent_events (agent_id, event_type, payload, created_at)
       SELECT id, 'step.succeeded', '{"template": "daily_financial_analysis", "step": "write_daily_report"}', now() - interval '2 seconds'
         FROM agents WHERE name = $1`,
      [C],
    );
    const [cursorBefore] = await sql(db.url, `SELECT cursor_at FROM knowledge_cursors WHERE source = 'agent_events'`);
    const waiting = await extractEntities(handle.pool, { lagMs: 60_000 });
    assert.equal(waiting.sources.agent_events.read, 0, 'written 2 s ago, inside a 60 s lag');
    const [cursorAfter] = await sql(db.url, `SELECT cursor_at FROM knowledge_cursors WHERE source = 'agent_events'`);
    assert.deepEqual(cursorAfter, cursorBefore);

    const next = await update({ lagMs: 0 });
    assert.equal(next.extract_entities.sources.agent_events.read, 1);
    assert.deepEqual(next.extract_entities.edges, { added: 1, updated: 2 });
    assert.ok(next.extract_relations.edges.decayed > 0, 'two days later, the other edges decayed');
    // Every edge but the correlation (it holds: |rho|) weighs strength × 0.5^(whole days / 7) on the new clock.
    const wrong = await sql(
      db.url,
      `SELECT rel, weight, strength, last_seen_at FROM knowledge_edges
        WHERE rel <> 'correlated_with'
          AND weight <> round((strength * power(0.5, floor(extract(epoch FROM (SELECT max(cursor_at) FROM knowledge_cursors) - last_seen_at) / 86400) / 7))::numeric, 6)::float8`,
    );
    assert.deepEqual(wrong, []);
    const [decayedExample] = await sql(
      db.url,
      `SELECT e.weight FROM knowledge_edges e JOIN knowledge_nodes s ON s.id = e.src_id
        WHERE s.key = $1 AND e.rel = 'executed'`,
      [D],
    );
    const clockDays = Math.floor((Date.now() - at(60).getTime()) / day);
    assert.equal(decayedExample?.weight, weight(1, clockDays), `last seen ${clockDays} whole days before the clock`);
    const [corr] = await sql(db.url, `SELECT weight, strength FROM knowledge_edges WHERE rel = 'correlated_with'`);
    assert.equal(corr?.weight, corr?.strength);
    // And again: nothing new, nothing written.
    const versions = await graphVersions(db.url);
    assertNothing(await update({ lagMs: 0 }));
    assert.deepEqual(await graphVersions(db.url), versions);
  });

  it('prune moves the edges below min_weight to the history in one statement, values kept, nodes left', async () => {
    const before = await graphSnapshot(db.url);
    const weak = before.edges.filter((e) => (e.weight as number) < 0.45);
    assert.ok(weak.length > 0);
    const result = await pruneWeakEdges(handle.pool, { minWeight: 0.45, executionId: null });
    assert.equal(result.pruned, weak.length);
    assert.equal(result.history, 3 + weak.length);
    const after = await graphSnapshot(db.url);
    assert.deepEqual(after.nodes, before.nodes);
    assert.deepEqual(
      after.edges,
      before.edges.filter((e) => (e.weight as number) >= 0.45),
    );
    const moved = after.history.filter((h) => h.min_weight === 0.45);
    assert.ok(moved.every((h) => h.reason === 'pruned'));
    assert.deepEqual(
      moved.map(({ reason: _r, min_weight: _m, ...h }) => h),
      weak.map(({ properties: _p, ...e }) => e),
    );
    assertNothing({ prune_weak_edges: await pruneWeakEdges(handle.pool, { minWeight: 0.45 }) } as Partial<UpdateResult>);
  });

  it('the graph does not depend on how the rows are batched: the same fixture read one row per transaction gives the same graph', async () => {
    const other = await createTestDatabase();
    const otherHandle = await openTestDatabase(other.url);
    try {
      await writeFixture(other.url, t);
      const result = await updateKnowledgeGraph(otherHandle.pool, { lagMs: 1000, batchSize: 1 });
      assert.equal(result.extract_entities.sources.agent_events.batches, 10);
      assert.ok(result.extract_relations.edges.decayed > 0, 'edges weighed on an earlier clock were decayed to the last one');
      assert.deepEqual(await graphSnapshot(other.url), firstSnapshot);
    } finally {
      await otherHandle.close();
      await other.drop();
    }
  });
});

/** A run that read nothing and changed nothing. */
function assertNothing(result: Partial<UpdateResult>): void {
  if (result.extract_entities) {
    for (const [source, read] of Object.entries(result.extract_entities.sources)) assert.equal(read.read, 0, source);
    assert.deepEqual(result.extract_entities.nodes, { added: 0, updated: 0 });
    assert.deepEqual(result.extract_entities.edges, { added: 0, updated: 0 });
  }
  if (result.extract_relations) assert.deepEqual(result.extract_relations.edges, { added: 0, updated: 0, decayed: 0 });
  if (result.prune_weak_edges) assert.equal(result.prune_weak_edges.pruned, 0);
}

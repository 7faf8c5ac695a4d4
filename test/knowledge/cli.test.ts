import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { updateKnowledgeGraph } from '../../src/knowledge/update.js';
import { cesar } from '../helpers/cli.js';
import { createTestDatabase, openTestDatabase, type TestDatabase } from '../helpers/db.js';
import { A, B, baseTime, C, dfa, writeFixture } from './fixture.js';

describe('cesar kg show and cesar kg stats', () => {
  let db: TestDatabase;
  let env: Record<string, string>;

  before(async () => {
    db = await createTestDatabase();
    env = { DATABASE_URL: db.url };
    await writeFixture(db.url, baseTime());
    const handle = await openTestDatabase(db.url);
    try {
      await updateKnowledgeGraph(handle.pool, { lagMs: 1000 });
    } finally {
      await handle.close();
    }
  });
  after(async () => {
    await db?.drop();
  });

  it('show --json: the nodes within --depth edges, each once at its smallest depth, and the edges they were reached by', async () => {
    const run = await cesar(['kg', 'show', `agent:${A}`, '--depth', '1', '--json'], env);
    assert.equal(run.exitCode, 0, run.stderr);
    const body = JSON.parse(run.stdout);
    assert.deepEqual(
      { kind: body.start.kind, key: body.start.key, properties: body.start.properties, depth: body.depth },
      { kind: 'agent', key: A, properties: { agent_type: 'market_data' }, depth: 1 },
    );
    assert.deepEqual(
      body.nodes.map((n: { depth: number; kind: string; key: string; from: string | null }) => [n.depth, `${n.kind}:${n.key}`, n.from]),
      [
        [0, `agent:${A}`, null],
        [1, `agent:${B}`, `agent:${A}`],
        [1, `agent:${C}`, `agent:${A}`],
        [1, `step:${dfa}.fetch_market_data`, `agent:${A}`],
        [1, `workflow:${dfa}`, `agent:${A}`],
      ],
    );
    assert.deepEqual(
      body.edges.map((e: { src: string; rel: string; dst: string; evidence_count: number }) => [e.src, e.rel, e.dst, e.evidence_count]),
      [
        [`agent:${B}`, 'collaborated_with', `agent:${A}`, 2],
        [`agent:${A}`, 'collaborated_with', `agent:${C}`, 1],
        [`agent:${A}`, 'carried_out', `step:${dfa}.fetch_market_data`, 2],
        [`agent:${A}`, 'executed', `workflow:${dfa}`, 2],
      ],
    );
    const deep = JSON.parse((await cesar(['kg', 'show', `agent:${A}`, '--json'], env)).stdout);
    assert.equal(deep.depth, 2, 'depth 2 unless asked');
    assert.equal(deep.nodes.length, 10);
  });

  it('show as text: one row per node reached, with the edge and its direction', async () => {
    const run = await cesar(['kg', 'show', 'symbol:MSFT'], env);
    assert.equal(run.exitCode, 0, run.stderr);
    const lines = run.stdout.split('\n');
    assert.equal(lines[0], 'symbol:MSFT');
    const row = (...cells: Array<string | number>) =>
      assert.ok(
        lines.some((l) =>
          l
            .split('│')
            .map((c) => c.trim())
            .join('|')
            .startsWith(`|${cells.join('|')}|`),
        ),
        `${cells.join(' ')} in\n${run.stdout}`,
      );
    assert.ok(
      lines.some((l) => /Depth.*From.*Edge.*Node.*Weight.*Evidence/.test(l)),
      run.stdout,
    );
    row(1, 'symbol:MSFT', '<-mentions-', 'fact:aapl_outlook', 0.5, 1);
    row(1, 'symbol:MSFT', '<-correlated_with-', 'symbol:AAPL');
    row(2, 'fact:aapl_outlook', '<-knows-', `agent:${B}`, 0.5, 1);
    row(2, 'fact:aapl_outlook', '<-knows-', `agent:${C}`, 0.5, 1);
    assert.match(run.stdout, /^4 nodes within 2 edges\.$/m);
  });

  it('stats: nodes by kind, edges by relation, expired edges, cursors', async () => {
    const run = await cesar(['kg', 'stats', '--json'], env);
    assert.equal(run.exitCode, 0, run.stderr);
    const stats = JSON.parse(run.stdout);
    assert.equal(stats.nodes.total, 20);
    assert.deepEqual(
      stats.nodes.by_kind.map((k: { kind: string; count: number }) => [k.kind, k.count]),
      [
        ['agent', 6],
        ['fact', 2],
        ['step', 6],
        ['symbol', 4],
        ['workflow', 2],
      ],
    );
    assert.deepEqual(
      stats.edges.by_relation.map((r: { rel: string; count: number }) => [r.rel, r.count]),
      [
        ['carried_out', 5],
        ['collaborated_with', 3],
        ['correlated_with', 1],
        ['executed', 5],
        ['knows', 2],
        ['mentions', 4],
        ['part_of', 5],
      ],
    );
    assert.equal(stats.edges.total, 25);
    assert.equal(stats.history.total, 3);
    assert.deepEqual(
      stats.cursors.map((c: { source: string }) => c.source),
      ['agent_events', 'financial_data', 'market_analysis', 'memory_semantic', 'workflow_executions'],
    );
    const text = await cesar(['kg', 'stats'], env);
    assert.equal(text.exitCode, 0, text.stderr);
    assert.match(text.stdout, /^Nodes: 20$/m);
    assert.match(text.stdout, /^Edges: 25 \(expired, in the history: 3\)$/m);
    assert.match(text.stdout, /correlated_with/);
  });

  it('bad input: one line on stderr and the documented exit code', async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [['kg', 'show', 'symbol:NOPE'], 65, /^cesar: no node symbol:NOPE in the knowledge graph \(next: .*cesar kg stats/],
      [['kg', 'show', 'AAPL'], 65, /^cesar: a node is KIND:KEY, like agent:Report Writer or symbol:AAPL; got "AAPL"/],
      [['kg', 'show', 'symbol:AAPL', '--depth', '6'], 64, /^cesar: .*--depth.*expected an integer from 1 to 5/],
      [['kg', 'show', 'symbol:AAPL', '--depth', 'two'], 64, /expected an integer from 1 to 5/],
      [['kg', 'show'], 64, /missing required argument/],
    ];
    for (const [args, code, message] of cases) {
      const run = await cesar(args, env);
      assert.equal(run.exitCode, code, `${args.join(' ')}: ${run.stderr}`);
      assert.equal(run.stdout, '', args.join(' '));
      assert.equal(run.stderr.trimEnd().split('\n').length, 1, run.stderr);
      assert.match(run.stderr, message);
    }
    const json = await cesar(['kg', 'show', 'symbol:NOPE', '--json'], env);
    assert.equal(json.exitCode, 65);
    assert.equal(JSON.parse(json.stderr).error.code, 'not_found');
  });
});

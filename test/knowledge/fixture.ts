import pg from 'pg';

/**
 * The knowledge graph's test fixture: agent events, executions with step runs by different agents,
 * semantic facts that mention tickers, and daily bars of three analysed symbols (AAPL and MSFT
 * strongly correlated, SPY not), every row at a known time: minutes after T, T being two days ago
 * (whole minute). The newest row is at T + 60 min, so the graph's clock after reading it all is T + 60.
 */

export const minute = 60_000;
export const day = 86_400_000;

export const A = 'Market Data Collector';
export const B = 'Financial Analyst';
export const C = 'Risk Analyst';
export const D = 'Report Writer';
export const S = 'Summarizer';
export const M = 'Memory Consolidator';
export const dfa = 'daily_financial_analysis';
export const mc = 'memory_consolidation';

/** 150 weekdays of closes per symbol: AAPL and MSFT move together, SPY on its own. */
export const barDays = 150;

/** Run statements on one connection (the session setting of the first one holds for the rest). */
export async function onOneConnection(url: string, statements: Array<[string, unknown[]?]>): Promise<pg.QueryResultRow[][]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const results: pg.QueryResultRow[][] = [];
    for (const [text, values] of statements) results.push((await client.query(text, values ?? [])).rows);
    return results;
  } finally {
    await client.end();
  }
}

export function baseTime(): number {
  return Math.floor(Date.now() / minute) * minute - 2 * day;
}

const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;

/** The daily log returns' driver of each symbol, deterministic. */
function returnOf(symbol: string, i: number): number {
  const a = 0.012 * Math.sin(1.3 * i) + 0.006 * Math.cos(0.71 * i + 0.4);
  if (symbol === 'AAPL') return a;
  if (symbol === 'MSFT') return 0.9 * a + 0.003 * Math.sin(2.9 * i + 1.1);
  return 0.01 * Math.sin(0.37 * i + 1) * Math.cos(1.9 * i);
}

/** The bars as stored (closes with 6 decimals): day (YYYY-MM-DD) and close, oldest first. */
export function bars(symbol: string, t: number): Array<{ day: string; close: number }> {
  const days: string[] = [];
  for (let d = Math.floor(t / day) - 1; days.length < barDays; d--) {
    const weekday = new Date(d * day).getUTCDay();
    if (weekday !== 0 && weekday !== 6) days.unshift(new Date(d * day).toISOString().slice(0, 10));
  }
  const base = { AAPL: 190, MSFT: 410, SPY: 560 }[symbol] ?? 100;
  let close = base;
  return days.map((d, i) => {
    if (i > 0) close = round6(close * Math.exp(returnOf(symbol, i)));
    return { day: d, close };
  });
}

/** Pearson correlation of the log returns over the newest `returns` + 1 shared days (all days are shared here). */
export function expectedRho(s1: string, s2: string, t: number, returns = 120): { rho: number; from: string; to: string } {
  const x = bars(s1, t).slice(-(returns + 1));
  const y = bars(s2, t).slice(-(returns + 1));
  const rx = x.slice(1).map((b, i) => Math.log(b.close / x[i]!.close));
  const ry = y.slice(1).map((b, i) => Math.log(b.close / y[i]!.close));
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const mx = mean(rx);
  const my = mean(ry);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < rx.length; i++) {
    sxy += (rx[i]! - mx) * (ry[i]! - my);
    sxx += (rx[i]! - mx) ** 2;
    syy += (ry[i]! - my) ** 2;
  }
  return { rho: round6(sxy / Math.sqrt(sxx * syy)), from: x[0]!.day, to: x.at(-1)!.day };
}

/** The fixture rows, written at T-relative times; returns T. */
export async function writeFixture(url: string, t: number): Promise<void> {
  const at = (minutes: number) => new Date(t + minutes * minute).toISOString();
  const ids = new Map((await onOneConnection(url, [['SELECT id, name FROM agents']]))[0]!.map((r) => [r.name as string, Number(r.id)]));
  const id = (name: string) => {
    const found = ids.get(name);
    if (found === undefined) throw new Error(`no agent ${name}`);
    return found;
  };
  const event = (agent: string | null, type: string, template: string, step: string | null, minutes: number): [string, unknown[]] => [
    `INSERT INTO agent_events (agent_id, event_type, payload, created_at) VALUES ($1, $2, $3, $4)`,
    [agent === null ? null : id(agent), type, JSON.stringify(step ? { template, step } : { template }), at(minutes)],
  ];
  const statements: Array<[string, unknown[]?]> = [
    // Rows of synced tables keep the times given here (as the sync writes versions from the other side).
    [`SELECT set_config('cesar.sync_applying', 'on', false)`],
    event(null, 'workflow.started', dfa, null, 8),
    event(A, 'step.started', dfa, 'fetch_market_data', 9),
    event(A, 'step.succeeded', dfa, 'fetch_market_data', 10),
    event(B, 'step.succeeded', dfa, 'analyze_portfolio', 20),
    event(C, 'step.succeeded', dfa, 'assess_risk', 30),
    event(A, 'step.succeeded', dfa, 'fetch_market_data', 45),
    event(B, 'step.succeeded', dfa, 'analyze_portfolio', 46),
    event(D, 'step.succeeded', dfa, 'write_daily_report', 60),
    // Three days before the clock (whole days: 3): decayed, kept. Twenty: pruned.
    event(S, 'step.succeeded', mc, 'summarize_topics', -3 * 24 * 60),
    event(M, 'step.succeeded', mc, 'consolidate_episodes', -20 * 24 * 60),
  ];
  // Executions: E1 (A, B, C), E2 (A, B; C's run cancelled), E3 still running (D, A): not read.
  const execution = (status: string, finished: number | null, runs: Array<[string, string]>): Array<[string, unknown[]]> => [
    [
      `INSERT INTO workflow_executions (template_id, trigger, scheduled_for, status, started_at, finished_at)
       SELECT id, 'manual', $1, $2, $1, $3 FROM workflow_templates WHERE name = $4`,
      [at(0), status, finished === null ? null : at(finished), dfa],
    ],
    ...runs.map(([agent, runStatus], i): [string, unknown[]] => [
      `INSERT INTO workflow_step_runs (execution_id, step_order, agent_id, status, name, handler, started_at, finished_at)
         VALUES ((SELECT max(id) FROM workflow_executions), $1, $2, $3, $4, $4, $5, $5)`,
      [i + 1, id(agent), runStatus, `step_${i + 1}`, at(1)],
    ]),
  ];
  statements.push(
    ...execution('succeeded', 40, [
      [A, 'succeeded'],
      [B, 'succeeded'],
      [C, 'succeeded'],
    ]),
    ...execution('cancelled', 50, [
      [A, 'succeeded'],
      [B, 'succeeded'],
      [C, 'cancelled'],
    ]),
    ...execution('running', null, [
      [D, 'succeeded'],
      [A, 'running'],
    ]),
  );
  const fact = (agent: string | null, topic: string, content: string, confidence: number, minutes: number): [string, unknown[]] => [
    `INSERT INTO memory_semantic (agent_id, topic, content, confidence, created_at, updated_at, arrived_at, origin)
     VALUES ($1, $2, $3, $4, $5, $5, $5, 'cesar')`,
    [agent === null ? null : id(agent), topic, content, confidence, at(minutes)],
  ];
  statements.push(
    fact(B, 'aapl_outlook', 'AAPL looks strong; MSFT lags. We spy on the side.', 0.8, 15),
    fact(C, 'aapl_outlook', 'Risk on AAPL is moderate', 0.7, 25),
    fact(A, 'low_confidence_rumour', 'GOOGL might split', 0.3, 27),
    fact(null, 'market_regime', 'QQQ and SPY trend up; AAPLX is not a ticker', 0.9, 35),
  );
  for (const symbol of ['AAPL', 'MSFT', 'SPY']) {
    const series = bars(symbol, t);
    statements.push(
      [
        `INSERT INTO financial_data (symbol, source, observed_at, open, high, low, close, volume, updated_at, ingested_at, origin)
         SELECT $1, 'yahoo', (d || 'T00:00:00Z')::timestamptz, c, c, c, c, 1000, $4, $4, 'cesar'
           FROM unnest($2::text[], $3::numeric[]) AS s(d, c)`,
        [symbol, series.map((b) => b.day), series.map((b) => b.close.toFixed(6)), at(5)],
      ],
      [
        `INSERT INTO market_analysis (symbol, source, as_of, bars_used, bars_sha256, parameters, indicators, computed_at)
         VALUES ($1, 'yahoo', $2, $3, $4, '{}', '{}', $5)`,
        [symbol, series.at(-1)!.day, barDays, 'a'.repeat(64), at(6)],
      ],
    );
  }
  await onOneConnection(url, statements);
}

/** The graph as comparable rows (no ids, no write times). */
export async function graphSnapshot(url: string) {
  const [nodes, edges, history] = await onOneConnection(url, [
    [
      `SELECT kind || ':' || key AS name, label, properties, first_seen_at, last_seen_at
         FROM knowledge_nodes ORDER BY kind, key`,
    ],
    [
      `SELECT s.kind || ':' || s.key AS src, e.rel, d.kind || ':' || d.key AS dst, e.evidence_count::int AS evidence,
              e.strength, e.weight, e.first_seen_at, e.last_seen_at, e.source, e.properties
         FROM knowledge_edges e JOIN knowledge_nodes s ON s.id = e.src_id JOIN knowledge_nodes d ON d.id = e.dst_id
        ORDER BY 1, 2, 3`,
    ],
    [
      `SELECT s.kind || ':' || s.key AS src, h.rel, d.kind || ':' || d.key AS dst, h.evidence_count::int AS evidence,
              h.strength, h.weight, h.first_seen_at, h.last_seen_at, h.source, h.reason, h.min_weight
         FROM knowledge_edges_history h JOIN knowledge_nodes s ON s.id = h.src_id JOIN knowledge_nodes d ON d.id = h.dst_id
        ORDER BY 1, 2, 3`,
    ],
  ]);
  return { nodes: nodes!, edges: edges!, history: history! };
}

/** Every graph row's xmin (the transaction that last wrote it): equal before and after means nothing was written. */
export async function graphVersions(url: string): Promise<Record<string, string>> {
  const [rows] = await onOneConnection(url, [
    [
      `SELECT 'node ' || kind || ':' || key AS row, xmin::text AS v FROM knowledge_nodes
       UNION ALL
       SELECT 'edge ' || src_id || ' ' || rel || ' ' || dst_id, xmin::text FROM knowledge_edges
       UNION ALL
       SELECT 'history ' || id, xmin::text FROM knowledge_edges_history
       UNION ALL
       SELECT 'cursor ' || source, xmin::text FROM knowledge_cursors`,
    ],
  ]);
  return Object.fromEntries(rows!.map((r) => [r.row as string, r.v as string]));
}

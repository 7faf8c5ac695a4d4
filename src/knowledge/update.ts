import type { Queryable } from '../db/queryable.js';
import { readBoundSql } from '../db/read-bound.js';
import { type ConnectionPool, withClientTransaction } from '../db/transaction.js';
import { InternalError } from '../errors.js';
import { isValidSymbol, normaliseSymbols } from '../market/ingest.js';
import {
  advanceCursorSql,
  agentEventsBatchSql,
  analysisBatchSql,
  barsWatermarkSql,
  clockSql,
  correlationSql,
  decaySql,
  executionsBatchSql,
  knownSymbolsSql,
  lockCursorsSql,
  memoryBatchSql,
  pruneSql,
  type SourceName,
  sizeSql,
  sourceNames,
  upsertCorrelationsSql,
  upsertEdgesSql,
  upsertNodesSql,
  watchListSql,
} from './queries.js';

/**
 * knowledge_graph_update: the knowledge graph, built incrementally from what the system records.
 *
 * 1. extractEntities reads each source after its cursor, in batches, up to a bound (now minus the
 *    safety lag, and never past the start of a transaction still writing): each batch's nodes and
 *    edges are upserted and the source's cursor advanced in one transaction.
 * 2. extractRelations recomputes the correlations of the analysed symbols and decays every edge to
 *    the graph's clock.
 * 3. pruneWeakEdges moves the edges whose weight fell below min_weight to knowledge_edges_history.
 *
 * Weights, deterministic: an evidence edge with n pieces of evidence has strength n / (n + 1); a
 * correlation has strength |rho|. weight = strength × 0.5^(d / halfLifeDays), d the whole days
 * between the edge's last evidence and the graph's clock, the newest row time read from any
 * source (so decay follows what the system records, not the wall clock: a run that reads nothing
 * new changes nothing, and reading the same rows in one batch or in many gives the same graph). A
 * correlation that holds keeps weight |rho|; once it no longer holds it decays from its last
 * evidence like any edge.
 */

/** What every writer needs: a pool to take connections for transactions from, and to query. */
export type GraphPool = ConnectionPool & Queryable;

export const knowledgeDefaults = {
  /** Rows newer than now − lag wait for the next run (a transaction still writing is waited for too). */
  lagMs: 10_000,
  /** Rows per source per transaction. */
  batchSize: 10_000,
  /** Facts of memory_semantic below this confidence are left out of the graph. */
  minConfidence: 0.6,
  /** An edge not seen for this many days weighs half (decay by whole days). */
  halfLifeDays: 7,
  /** Edges weighing less move to the history. */
  minWeight: 0.1,
  /** Returns per pair (the newest shared days + 1). */
  correlationReturns: 120,
  /** A pair with fewer shared returns is not judged. */
  correlationMinReturns: 30,
  /** |rho| from which a pair is correlated_with. */
  correlationMinAbsRho: 0.7,
  /** A pair whose newest shared day is older than the newest bar by more than this is not judged. */
  correlationMaxStaleDays: 10,
} as const;

/** The watch list when the daily_financial_analysis template names none (as src/steps/market.handler.ts). */
export const defaultWatchList = ['AAPL', 'MSFT', 'GOOGL', 'AMZN', 'SPY', 'QQQ'];

export interface ExtractOptions {
  lagMs?: number;
  batchSize?: number;
  minConfidence?: number;
  halfLifeDays?: number;
  /** Overrides the template's watch list. */
  watchList?: string[];
  /** Checked between batches: what was committed stays, the rest waits for the next run. */
  signal?: AbortSignal;
}

export interface SourceRead {
  /** Rows read after the cursor. */
  read: number;
  /** Of those, the rows that brought something to the graph. */
  used: number;
  batches: number;
  /** Where the cursor stands after this run (null: nothing read ever). */
  cursor_at: string | null;
}

export interface Upserted {
  added: number;
  updated: number;
}

export interface ExtractResult {
  /** The newest row time this run could read. */
  bound: string;
  lag_ms: number;
  sources: Record<SourceName, SourceRead>;
  nodes: Upserted;
  edges: Upserted;
  /** The graph's clock after the run (the newest row time read from any source). */
  clock: string | null;
}

interface BatchRow {
  read: number;
  used: number;
  last_at: string | null;
  last_id: string | null;
  /** The newest evidence time of the batch (the graph's clock follows it). */
  newest_at: string | null;
  nodes: string;
  edges: string;
}

interface CursorRow {
  source: string;
  cursor_at: string | null;
  cursor_id: string | null;
}

/** PostgreSQL's text of a timestamptz (2026-12-04 22:46:00.5+00) as ISO 8601 (2026-12-04T22:46:00.5+00:00), microseconds kept. */
export function isoText(text: string | null): string | null {
  if (text === null) return null;
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)([+-]\d{2})(?::?(\d{2}))?$/.exec(text);
  return m ? `${m[1]}T${m[2]}${m[3]}:${m[4] ?? '00'}` : text;
}

function positive(name: string, value: number | undefined, fallback: number, min = 0): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < min) throw new InternalError(`knowledge graph: ${name} must be a number of at least ${min}; got ${v}`);
  return v;
}

/** The watch list as tickers and the case-sensitive whole-word patterns that find them in a fact's text. */
async function watchPatterns(q: Queryable, given: string[] | undefined): Promise<{ symbols: string[]; patterns: string[] }> {
  let list = given;
  if (!list) {
    const { rows } = await q.query<{ symbols: unknown }>({ text: watchListSql });
    const configured = rows[0]?.symbols;
    list = Array.isArray(configured) && configured.every((s) => typeof s === 'string') ? configured : defaultWatchList;
  }
  const symbols = normaliseSymbols(list).filter(isValidSymbol);
  const patterns = symbols.map((s) => `(^|[^A-Za-z0-9])${s.replace(/[^A-Za-z0-9]/g, (c) => `\\${c}`)}($|[^A-Za-z0-9])`);
  return { symbols, patterns };
}

/**
 * Step 1: read every source after its cursor up to the bound, in batches; per batch, one
 * transaction upserts its nodes, advances the cursor and upserts its edges.
 */
export async function extractEntities(pool: GraphPool, options: ExtractOptions = {}): Promise<ExtractResult> {
  const lagMs = positive('lagMs', options.lagMs, knowledgeDefaults.lagMs);
  const batchSize = Math.floor(positive('batchSize', options.batchSize, knowledgeDefaults.batchSize, 1));
  const minConfidence = positive('minConfidence', options.minConfidence, knowledgeDefaults.minConfidence);
  const halfLifeDays = positive('halfLifeDays', options.halfLifeDays, knowledgeDefaults.halfLifeDays, 0.001);
  const { rows: boundRows } = await pool.query<{ bound: string }>({ text: readBoundSql, values: [lagMs] });
  const bound = boundRows[0]!.bound;
  const watch = await watchPatterns(pool, options.watchList);

  const result: ExtractResult = {
    bound: isoText(bound)!,
    lag_ms: lagMs,
    sources: Object.fromEntries(sourceNames.map((s) => [s, { read: 0, used: 0, batches: 0, cursor_at: null }])) as Record<
      SourceName,
      SourceRead
    >,
    nodes: { added: 0, updated: 0 },
    edges: { added: 0, updated: 0 },
    clock: null,
  };

  for (const source of sourceNames) {
    const tally = result.sources[source];
    for (;;) {
      options.signal?.throwIfAborted();
      const batch = await withClientTransaction(pool, async (q) => {
        const { rows: cursors } = await q.query<CursorRow>({ text: lockCursorsSql });
        const cursor = cursors.find((c) => c.source === source);
        if (!cursor) throw new InternalError(`knowledge_cursors has no row for ${source}: run \`cesar migrate\``);
        const read = await readBatch(q, source, cursor, bound, batchSize, minConfidence, watch);
        const counts = { nodes: { added: 0, updated: 0 }, edges: { added: 0, updated: 0 } };
        if (read.read === 0) return { read, counts, cursorAt: cursor.cursor_at };
        if (read.nodes !== '[]') counts.nodes = await upsert(q, upsertNodesSql, [read.nodes]);
        await q.query({ text: advanceCursorSql, values: [source, read.last_at, read.last_id, read.read, read.newest_at] });
        if (read.edges !== '[]') counts.edges = await upsert(q, upsertEdgesSql, [read.edges, source, halfLifeDays]);
        return { read, counts, cursorAt: read.last_at };
      });
      tally.read += batch.read.read;
      tally.used += batch.read.used;
      tally.cursor_at = isoText(batch.cursorAt);
      if (batch.read.read > 0) tally.batches++;
      add(result.nodes, batch.counts.nodes);
      add(result.edges, batch.counts.edges);
      // financial_data is a watermark, read whole; the others go on while batches come back full.
      if (source === 'financial_data' || batch.read.read < batchSize) break;
    }
  }
  result.clock = await graphClock(pool);
  return result;
}

async function readBatch(
  q: Queryable,
  source: SourceName,
  cursor: CursorRow,
  bound: string,
  limit: number,
  minConfidence: number,
  watch: { symbols: string[]; patterns: string[] },
): Promise<BatchRow> {
  const after = [cursor.cursor_at, cursor.cursor_id ?? '0', bound, limit];
  const query = (() => {
    switch (source) {
      case 'agent_events':
        return { text: agentEventsBatchSql, values: after };
      case 'workflow_executions':
        return { text: executionsBatchSql, values: after };
      case 'memory_semantic':
        return { text: memoryBatchSql, values: [...after, minConfidence, watch.patterns, watch.symbols] };
      case 'market_analysis':
        return { text: analysisBatchSql, values: after };
      case 'financial_data':
        return { text: barsWatermarkSql, values: [cursor.cursor_at, bound] };
    }
  })();
  const { rows } = await q.query<BatchRow>(query);
  return rows[0]!;
}

async function upsert(q: Queryable, text: string, values: unknown[]): Promise<Upserted> {
  const { rows } = await q.query<Upserted>({ text, values });
  return { added: rows[0]!.added, updated: rows[0]!.updated };
}

function add(total: Upserted, more: Upserted): void {
  total.added += more.added;
  total.updated += more.updated;
}

async function graphClock(q: Queryable): Promise<string | null> {
  const { rows } = await q.query<{ clock: string | null }>({ text: clockSql });
  return isoText(rows[0]?.clock ?? null);
}

export interface RelationsOptions {
  halfLifeDays?: number;
  /** Returns per pair (default 120). */
  correlationReturns?: number;
  correlationMinReturns?: number;
  correlationMinAbsRho?: number;
  correlationMaxStaleDays?: number;
}

export interface CorrelationPair {
  s1: string;
  s2: string;
  returns: number;
  rho: number | null;
  from_day: string | null;
  to_day: string | null;
  seen: string;
  holds: boolean | null;
}

export interface RelationsResult {
  clock: string | null;
  correlations: {
    /** Symbols analysed (market_analysis up to its cursor). */
    symbols: number;
    /** Pairs with shared days. */
    pairs: number;
    /** The pairs that hold: symbol, symbol, rho, returns. */
    holding: Array<{ src: string; dst: string; rho: number; returns: number }>;
  };
  edges: Upserted & { decayed: number };
}

/**
 * Step 2: the correlations of the analysed symbols, recomputed (the ones that hold are upserted),
 * then every edge decayed to the graph's clock. One transaction; writes only what changed.
 */
export async function extractRelations(pool: GraphPool, options: RelationsOptions = {}): Promise<RelationsResult> {
  const halfLifeDays = positive('halfLifeDays', options.halfLifeDays, knowledgeDefaults.halfLifeDays, 0.001);
  const returns = Math.floor(positive('correlationReturns', options.correlationReturns, knowledgeDefaults.correlationReturns, 2));
  const minReturns = Math.floor(
    positive('correlationMinReturns', options.correlationMinReturns, knowledgeDefaults.correlationMinReturns, 2),
  );
  const minAbsRho = positive('correlationMinAbsRho', options.correlationMinAbsRho, knowledgeDefaults.correlationMinAbsRho);
  const maxStale = Math.floor(
    positive('correlationMaxStaleDays', options.correlationMaxStaleDays, knowledgeDefaults.correlationMaxStaleDays),
  );
  return withClientTransaction(pool, async (q) => {
    await q.query({ text: lockCursorsSql });
    const { rows } = await q.query<{ symbols: number; pairs: string }>({
      text: correlationSql,
      values: [returns, minReturns, minAbsRho, maxStale],
    });
    const pairs = JSON.parse(rows[0]!.pairs) as CorrelationPair[];
    const holding = pairs.filter((p) => p.holds === true);
    const edges = { added: 0, updated: 0, decayed: 0 };
    if (holding.length > 0) {
      const nodes = [...new Set(holding.flatMap((p) => [p.s1, p.s2]))].map((symbol) => {
        const seen = holding
          .filter((p) => p.s1 === symbol || p.s2 === symbol)
          .map((p) => p.seen)
          .sort();
        return { kind: 'symbol', key: symbol, label: symbol, properties: {}, first_seen: seen[0], last_seen: seen.at(-1) };
      });
      // Symbol nodes come from market_analysis already; this only makes sure (an insert at most).
      await upsertSymbolsIfMissing(q, nodes);
      add(edges, await upsert(q, upsertCorrelationsSql, [JSON.stringify(holding)]));
    }
    const { rows: decayed } = await q.query<{ decayed: number }>({
      text: decaySql,
      values: [halfLifeDays, JSON.stringify(holding.map((p) => ({ s1: p.s1, s2: p.s2 })))],
    });
    edges.decayed = decayed[0]!.decayed;
    return {
      clock: await graphClock(q),
      correlations: {
        symbols: rows[0]!.symbols,
        pairs: pairs.length,
        holding: holding.map((p) => ({ src: p.s1, dst: p.s2, rho: p.rho as number, returns: p.returns })),
      },
      edges,
    };
  });
}

async function upsertSymbolsIfMissing(q: Queryable, nodes: Array<Record<string, unknown>>): Promise<void> {
  // The generic node upsert would also widen first/last seen by the bars' times; a symbol node's
  // times are those of its analyses and mentions, so only missing nodes are written here.
  const { rows } = await q.query<{ key: string }>({ text: knownSymbolsSql, values: [nodes.map((n) => n.key)] });
  const known = new Set(rows.map((r) => r.key));
  const missing = nodes.filter((n) => !known.has(n.key as string));
  if (missing.length > 0) await upsert(q, upsertNodesSql, [JSON.stringify(missing)]);
}

export interface PruneOptions {
  minWeight?: number;
  /** The knowledge_graph_update execution doing it, recorded with each expired edge. */
  executionId?: number | null;
}

export interface PruneResult {
  min_weight: number;
  pruned: number;
  by_relation: Record<string, number>;
  /** The graph after: nodes, current edges, expired edges. */
  nodes: number;
  edges: number;
  history: number;
}

/** Step 3: the edges weighing less than min_weight move to knowledge_edges_history, in one statement. */
export async function pruneWeakEdges(pool: GraphPool, options: PruneOptions = {}): Promise<PruneResult> {
  const minWeight = positive('minWeight', options.minWeight, knowledgeDefaults.minWeight);
  const pruned = await withClientTransaction(pool, async (q) => {
    await q.query({ text: lockCursorsSql });
    const { rows } = await q.query<{ pruned: number; by_relation: string }>({
      text: pruneSql,
      values: [minWeight, options.executionId ?? null],
    });
    return rows[0]!;
  });
  const { rows } = await pool.query<{ nodes: number; edges: number; history: number }>({ text: sizeSql });
  return { min_weight: minWeight, pruned: pruned.pruned, by_relation: JSON.parse(pruned.by_relation), ...rows[0]! };
}

export interface UpdateResult {
  extract_entities: ExtractResult;
  extract_relations: RelationsResult;
  prune_weak_edges: PruneResult;
}

/** The three steps in a row (what the workflow does, without it): for tests, benchmarks and operators. */
export async function updateKnowledgeGraph(
  pool: GraphPool,
  options: ExtractOptions & RelationsOptions & PruneOptions = {},
): Promise<UpdateResult> {
  const entities = await extractEntities(pool, options);
  const relations = await extractRelations(pool, options);
  const prune = await pruneWeakEdges(pool, options);
  return { extract_entities: entities, extract_relations: relations, prune_weak_edges: prune };
}

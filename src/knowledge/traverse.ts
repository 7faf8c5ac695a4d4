import type { Queryable } from '../db/queryable.js';
import { InputError, NotFoundError } from '../errors.js';
import { cursorsSql, nodeSql, statsSql, traverseSql } from './queries.js';

/** `cesar kg show`'s depth: 2 unless asked, 5 at most. */
export const defaultDepth = 2;
export const maxDepth = 5;

export interface NodeRef {
  kind: string;
  key: string;
}

/**
 * KIND:KEY, as the operator writes a node: the kind (snake_case) before the first colon, the key
 * (anything but empty, colons included) after it: agent:Report Writer, symbol:AAPL,
 * step:daily_financial_analysis.fetch_market_data.
 */
export function parseNodeRef(text: string): NodeRef {
  const colon = text.indexOf(':');
  const kind = colon < 0 ? '' : text.slice(0, colon);
  const key = colon < 0 ? '' : text.slice(colon + 1);
  if (!/^[a-z][a-z0-9_]*$/.test(kind) || key === '') {
    throw new InputError(
      `a node is KIND:KEY, like agent:Report Writer or symbol:AAPL; got ${JSON.stringify(text.slice(0, 80))}`,
      'see the kinds with `cesar kg stats`',
      'node',
    );
  }
  return { kind, key };
}

export function nodeName(node: NodeRef): string {
  return `${node.kind}:${node.key}`;
}

export interface GraphNode {
  kind: string;
  key: string;
  label: string;
  /** Edges from the start (0: the start itself). */
  depth: number;
  /** The node it was reached from (KIND:KEY), null for the start. */
  from: string | null;
}

export interface GraphEdge {
  src: string;
  rel: string;
  dst: string;
  weight: number | null;
  evidence_count: number | null;
  last_seen_at: string | null;
}

export interface Neighbourhood {
  start: NodeRef & { label: string; properties: Record<string, unknown>; first_seen_at: string; last_seen_at: string };
  depth: number;
  /** Every node within depth edges (either way), once, at its smallest depth; by depth, kind, key. */
  nodes: GraphNode[];
  /** The edge each node (but the start) was reached by, as stored (src -rel-> dst). */
  edges: GraphEdge[];
}

interface WalkRow {
  id: string;
  depth: number;
  kind: string;
  key: string;
  label: string;
  from_name: string | null;
  src_id: string | null;
  rel: string | null;
  dst_id: string | null;
  weight: number | null;
  evidence_count: string | null;
  last_seen_at: Date | null;
}

/** The nodes within `depth` edges of the node: InputError for a depth out of 1..5, NotFoundError for an unknown node. */
export async function neighbourhood(q: Queryable, ref: NodeRef, depth = defaultDepth): Promise<Neighbourhood> {
  if (!Number.isInteger(depth) || depth < 1 || depth > maxDepth) {
    throw new InputError(`the depth must be an integer from 1 to ${maxDepth}; got ${depth}`, undefined, 'depth');
  }
  const { rows: found } = await q.query<{
    id: string;
    kind: string;
    key: string;
    label: string;
    properties: Record<string, unknown>;
    first_seen_at: Date;
    last_seen_at: Date;
  }>({ text: nodeSql, values: [ref.kind, ref.key] });
  const start = found[0];
  if (!start) {
    throw new NotFoundError(
      `no node ${nodeName(ref)} in the knowledge graph`,
      'keys are exact (case too); the knowledge_graph_update workflow builds the graph, `cesar kg stats` counts it',
    );
  }
  const { rows } = await q.query<WalkRow>({ text: traverseSql, values: [start.id, depth] });
  const byId = new Map(rows.map((r) => [r.id, nodeName(r)]));
  return {
    start: {
      kind: start.kind,
      key: start.key,
      label: start.label,
      properties: start.properties,
      first_seen_at: start.first_seen_at.toISOString(),
      last_seen_at: start.last_seen_at.toISOString(),
    },
    depth,
    nodes: rows.map((r) => ({
      kind: r.kind,
      key: r.key,
      label: r.label,
      depth: r.depth,
      from: r.from_name,
    })),
    edges: rows
      .filter((r) => r.depth > 0 && r.src_id !== null && r.dst_id !== null)
      .map((r) => ({
        src: byId.get(r.src_id!) ?? r.src_id!,
        rel: r.rel!,
        dst: byId.get(r.dst_id!) ?? r.dst_id!,
        weight: r.weight,
        evidence_count: r.evidence_count === null ? null : Number(r.evidence_count),
        last_seen_at: r.last_seen_at?.toISOString() ?? null,
      })),
  };
}

export interface GraphStats {
  nodes: { total: number; by_kind: Array<{ kind: string; count: number }> };
  edges: { total: number; by_relation: Array<{ rel: string; count: number; avg_weight: number; evidence: number }> };
  history: { total: number; by_relation: Array<{ rel: string; count: number }> };
  cursors: Array<{ source: string; cursor_at: string | null; cursor_id: number | null; rows_read: number; updated_at: string }>;
}

/** `cesar kg stats`: nodes by kind, current edges by relation, expired edges, and how far each source was read. */
export async function graphStats(q: Queryable): Promise<GraphStats> {
  const { rows } = await q.query<{ what: string; name: string; count: number; avg_weight: number | null; evidence: string | null }>({
    text: statsSql,
  });
  const { rows: cursors } = await q.query<{
    source: string;
    cursor_at: Date | null;
    cursor_id: string | null;
    rows_read: string;
    updated_at: Date;
  }>({ text: cursorsSql });
  const of = (what: string) => rows.filter((r) => r.what === what);
  const total = (list: Array<{ count: number }>) => list.reduce((sum, r) => sum + r.count, 0);
  return {
    nodes: { total: total(of('node')), by_kind: of('node').map((r) => ({ kind: r.name, count: r.count })) },
    edges: {
      total: total(of('edge')),
      by_relation: of('edge').map((r) => ({
        rel: r.name,
        count: r.count,
        avg_weight: r.avg_weight ?? 0,
        evidence: Number(r.evidence ?? 0),
      })),
    },
    history: { total: total(of('history')), by_relation: of('history').map((r) => ({ rel: r.name, count: r.count })) },
    cursors: cursors.map((c) => ({
      source: c.source,
      cursor_at: c.cursor_at?.toISOString() ?? null,
      cursor_id: c.cursor_id === null ? null : Number(c.cursor_id),
      rows_read: Number(c.rows_read),
      updated_at: c.updated_at.toISOString(),
    })),
  };
}

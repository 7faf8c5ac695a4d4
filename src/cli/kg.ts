import { defaultDepth, graphStats, neighbourhood, nodeName, parseNodeRef } from '../knowledge/traverse.js';
import { type CliContext, withDatabase } from './context.js';
import { dim, printJson, renderTable } from './output.js';

const weightText = (w: number | null): string | number => (w === null ? '-' : Number(w.toFixed(6)));

/**
 * `cesar kg show KIND:KEY [--depth N]`: the nodes within N edges of the node (either way), each at
 * its smallest depth with the edge it was reached by. Exit 65 for a malformed or unknown node.
 */
export async function runKgShow(ctx: CliContext, given: string, options: { depth?: number; json?: boolean }): Promise<number> {
  const ref = parseNodeRef(given);
  return withDatabase(ctx, async (handle) => {
    const found = await neighbourhood(handle.pool, ref, options.depth ?? defaultDepth);
    if (options.json) {
      printJson(ctx.out, found);
      return 0;
    }
    const start = found.start;
    ctx.out(`${nodeName(start)}${start.label && start.label !== start.key ? ` (${start.label})` : ''}`);
    ctx.out(dim(`first seen ${start.first_seen_at}, last seen ${start.last_seen_at}`));
    const reached = found.nodes.filter((n) => n.depth > 0);
    if (reached.length === 0) {
      ctx.out(dim('No edges: nothing else within reach.'));
      return 0;
    }
    // found.edges holds, in the same order, the edge each node but the start was reached by. A row
    // reads from left to right: From -rel-> Node, or From <-rel- Node (the edge as stored).
    ctx.out(
      renderTable(
        ['Depth', 'From', 'Edge', 'Node', 'Weight', 'Evidence'],
        reached.map((n, i) => {
          const edge = found.edges[i];
          const arrow = !edge ? '-' : edge.src === n.from ? `-${edge.rel}->` : `<-${edge.rel}-`;
          return [n.depth, n.from ?? '-', arrow, nodeName(n), weightText(edge?.weight ?? null), edge?.evidence_count ?? '-'];
        }),
      ),
    );
    ctx.out(dim(`${reached.length} nodes within ${found.depth} ${found.depth === 1 ? 'edge' : 'edges'}.`));
    return 0;
  });
}

/** `cesar kg stats`: nodes by kind, edges by relation, expired edges, and each source's cursor. */
export async function runKgStats(ctx: CliContext, options: { json?: boolean }): Promise<number> {
  return withDatabase(ctx, async (handle) => {
    const stats = await graphStats(handle.pool);
    if (options.json) {
      printJson(ctx.out, stats);
      return 0;
    }
    ctx.out(`Nodes: ${stats.nodes.total}`);
    if (stats.nodes.total > 0) {
      ctx.out(
        renderTable(
          ['Kind', 'Nodes'],
          stats.nodes.by_kind.map((k) => [k.kind, k.count]),
        ),
      );
    }
    ctx.out(`Edges: ${stats.edges.total} (expired, in the history: ${stats.history.total})`);
    if (stats.edges.total > 0 || stats.history.total > 0) {
      const expired = new Map(stats.history.by_relation.map((h) => [h.rel, h.count]));
      const rels = [...new Set([...stats.edges.by_relation.map((r) => r.rel), ...expired.keys()])].sort();
      ctx.out(
        renderTable(
          ['Relation', 'Edges', 'Mean weight', 'Evidence', 'Expired'],
          rels.map((rel) => {
            const r = stats.edges.by_relation.find((x) => x.rel === rel);
            return [rel, r?.count ?? 0, r ? weightText(r.avg_weight) : '-', r?.evidence ?? 0, expired.get(rel) ?? 0];
          }),
        ),
      );
    }
    ctx.out('Sources read by knowledge_graph_update:');
    ctx.out(
      renderTable(
        ['Source', 'Read up to', 'Rows read'],
        stats.cursors.map((c) => [c.source, c.cursor_at ?? 'nothing yet', c.rows_read]),
      ),
    );
    if (stats.nodes.total === 0) ctx.out(dim('The graph is empty: the knowledge_graph_update workflow builds it (every 30 minutes).'));
    return 0;
  });
}

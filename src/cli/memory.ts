import { InputError, NotFoundError } from '../errors.js';
import { agentByNameSql, decisionsSql, episodeCountsSql, factsSql, recentEpisodesSql } from '../memory/queries.js';
import { type CliContext, withDatabase } from './context.js';
import { dim, printJson, renderTable } from './output.js';

const iso = (v: unknown): unknown => (v instanceof Date ? v.toISOString() : v);
const isoRow = <T extends Record<string, unknown>>(row: T): T => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, iso(v)])) as T;

/** `cesar memory show AGENT`: its newest episodes, its semantic facts with support and confidence, and the consolidation's decisions. */
export async function runMemoryShow(ctx: CliContext, agentName: string, options: { json?: boolean; limit?: number }): Promise<number> {
  if (agentName.trim() === '' || agentName.length > 200) throw new InputError('give an agent by name (like "Report Writer") or id');
  const limit = options.limit ?? 20;
  return withDatabase(ctx, async (handle) => {
    const q = handle.pool;
    const agent = (await q.query<{ id: string; name: string; agent_type: string }>({ text: agentByNameSql, values: [agentName.trim()] }))
      .rows[0];
    if (!agent) throw new NotFoundError(`no agent named ${JSON.stringify(agentName.slice(0, 80))}`, 'see `cesar status` for the agents');
    const [counts, episodes, facts, decisions] = await Promise.all([
      q.query({ text: episodeCountsSql, values: [agent.id] }),
      q.query({ text: recentEpisodesSql, values: [agent.id, limit] }),
      q.query({ text: factsSql, values: [agent.id] }),
      q.query({ text: decisionsSql, values: [agent.id, limit] }),
    ]);
    const view = {
      agent: { id: Number(agent.id), name: agent.name, agent_type: agent.agent_type },
      ...counts.rows[0],
      episodes: episodes.rows.map((r) => ({ ...isoRow(r), id: Number(r.id) })),
      facts: facts.rows.map((r) => ({ ...isoRow(r), id: Number(r.id) })),
      decisions: decisions.rows.map((r) => ({
        ...isoRow(r),
        id: Number(r.id),
        semantic_id: r.semantic_id === null ? null : Number(r.semantic_id),
      })),
    };
    if (options.json) {
      printJson(ctx.out, view);
      return 0;
    }
    const c = counts.rows[0] as { episodes: number; unconsolidated: number };
    ctx.out(
      `${agent.name} (${agent.agent_type}): ${c.episodes} episodes, ${c.unconsolidated} not consolidated yet; ${facts.rows.length} facts.`,
    );
    ctx.out('Facts:');
    ctx.out(
      facts.rows.length === 0
        ? dim('  none yet (the nightly memory_consolidation makes them from settled episodes)')
        : renderTable(
            ['Topic', 'Support', 'Confidence', 'Fact'],
            facts.rows.map((f) => [f.topic, f.support, f.confidence, String(f.content).slice(0, 120)]),
          ),
    );
    ctx.out(`Newest ${episodes.rows.length} episodes:`);
    ctx.out(
      renderTable(
        ['When', 'Episode', 'Consolidated'],
        episodes.rows.map((e) => [iso(e.occurred_at) as string, String(e.content).slice(0, 100), e.consolidated_at ? 'yes' : 'no']),
      ),
    );
    if (decisions.rows.length > 0) {
      ctx.out('Decisions:');
      ctx.out(
        renderTable(
          ['When', 'Decision', 'Topic', 'Claim', 'Episodes'],
          decisions.rows.map((d) => [iso(d.decided_at) as string, d.decision, d.topic, d.claim, d.episodes]),
        ),
      );
    }
    return 0;
  });
}

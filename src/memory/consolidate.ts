import type { Queryable } from '../db/queryable.js';
import { type ConnectionPool, withClientTransaction } from '../db/transaction.js';
import {
  agentsWithEpisodesSql,
  insertFactSql,
  insertHistorySql,
  lastDecisionSql,
  linkEpisodesSql,
  markConsolidatedSql,
  readFactSql,
  settledEpisodesSql,
  unlinkEpisodesSql,
  updateFactSql,
} from './queries.js';

/**
 * Memory consolidation, per agent, deterministic: episodes older than the settle time and not yet
 * consolidated are keyed (a step's template and name; an email's normalised subject; otherwise the
 * first words of its text), and each key's episodes are reconciled with the agent's semantic memory:
 * - add: no fact on that topic yet, and the episodes are enough (min support, or one important enough);
 * - update: the fact exists and the episodes agree with it (or are too few to overturn it):
 *   support and counts grow, confidence follows;
 * - supersede: a work fact whose new episodes claim the opposite outcome, with min support: the fact
 *   is rewritten from the new episodes; its last version stays in the history (never deleted);
 * - no-op: too little support for a new fact: nothing is written, the episodes wait for more.
 * Each decision is a history row with the fact before and after and its episodes; the fact is linked
 * to its episodes; those episodes are marked consolidated. A second run over the same episodes
 * changes nothing.
 */

export interface ConsolidationOptions {
  /** Episodes younger than this wait for the next run. */
  settleMs: number;
  /** Episodes needed for a new fact (unless one is important enough). */
  minSupport: number;
  /** An episode at least this important makes a fact on its own. */
  importantAt: number;
  /** At most this many episodes per agent per run. */
  batchSize: number;
  executionId?: number | null;
}

export const defaultConsolidationOptions: ConsolidationOptions = {
  settleMs: 10 * 60_000,
  minSupport: 3,
  importantAt: 0.8,
  batchSize: 5_000,
};

export interface ConsolidationResult {
  agents: number;
  episodes_read: number;
  keys: number;
  added: number;
  updated: number;
  superseded: number;
  noop: number;
  episodes_consolidated: number;
  /** The facts written in this run, for the summary step. */
  changed_facts: number[];
}

interface Episode {
  id: string;
  occurred_at: Date;
  content: string;
  context: Record<string, unknown>;
  importance: number;
}

type Counts = Record<string, number>;

interface Claimed {
  claim: string;
  counts: Counts;
}

export async function consolidateMemory(pool: ConnectionPool & Queryable, options: ConsolidationOptions): Promise<ConsolidationResult> {
  const result: ConsolidationResult = {
    agents: 0,
    episodes_read: 0,
    keys: 0,
    added: 0,
    updated: 0,
    superseded: 0,
    noop: 0,
    episodes_consolidated: 0,
    changed_facts: [],
  };
  const agents = await pool.query<{ id: string; name: string }>({ text: agentsWithEpisodesSql, values: [options.settleMs] });
  for (const agent of agents.rows) {
    result.agents++;
    await withClientTransaction(pool, (q) => consolidateAgent(q, Number(agent.id), agent.name, options, result));
  }
  return result;
}

async function consolidateAgent(
  q: Queryable,
  agentId: number,
  agentName: string,
  options: ConsolidationOptions,
  result: ConsolidationResult,
) {
  const { rows } = await q.query<Episode>({ text: settledEpisodesSql, values: [agentId, options.settleMs, options.batchSize] });
  result.episodes_read += rows.length;
  const groups = new Map<string, Episode[]>();
  for (const episode of rows) {
    const key = episodeKey(episode);
    groups.set(key, [...(groups.get(key) ?? []), episode]);
  }
  for (const key of [...groups.keys()].sort()) {
    result.keys++;
    const episodes = groups.get(key)!;
    const fact = (
      await q.query<{ id: string; content: string; confidence: number; episode_count: number }>({
        text: readFactSql,
        values: [agentId, key],
      })
    ).rows[0];
    const batch = claimOf(key, episodes);
    const ids = episodes.map((e) => e.id);
    let factId: number;
    if (!fact) {
      const important = episodes.some((e) => e.importance >= options.importantAt);
      if (episodes.length < options.minSupport && !important) {
        result.noop++;
        continue;
      }
      const after = describe(agentName, key, episodes, batch, episodes.length);
      factId = Number(
        (await q.query<{ id: string }>({ text: insertFactSql, values: [agentId, key, after.content, after.confidence, episodes.length] }))
          .rows[0]!.id,
      );
      await history(q, agentId, factId, key, 'add', batch.claim, null, after, ids, options);
      result.added++;
    } else {
      factId = Number(fact.id);
      const last = (await q.query<{ claim: string; after: { counts?: Counts } }>({ text: lastDecisionSql, values: [factId] })).rows[0];
      const before = {
        content: fact.content,
        confidence: fact.confidence,
        support: fact.episode_count,
        claim: last?.claim ?? 'observed',
        counts: last?.after.counts ?? {},
      };
      const contradicts = key.startsWith('step:') && before.claim !== batch.claim && episodes.length >= options.minSupport;
      if (contradicts) {
        const after = describe(agentName, key, episodes, batch, episodes.length);
        await q.query({ text: updateFactSql, values: [factId, after.content, after.confidence, episodes.length] });
        // The fact now rests on the new episodes only; the old ones stay named in the history.
        await q.query({ text: unlinkEpisodesSql, values: [factId] });
        await history(q, agentId, factId, key, 'supersede', batch.claim, before, after, ids, options);
        result.superseded++;
      } else {
        const counts = addCounts(before.counts, batch.counts);
        const cumulative = { claim: key.startsWith('step:') ? majority(counts, batch.claim) : batch.claim, counts };
        const support = fact.episode_count + episodes.length;
        const after = describe(agentName, key, episodes, cumulative, support);
        await q.query({ text: updateFactSql, values: [factId, after.content, after.confidence, support] });
        await history(q, agentId, factId, key, 'update', cumulative.claim, before, after, ids, options);
        result.updated++;
      }
    }
    await q.query({ text: linkEpisodesSql, values: [factId, ids] });
    await q.query({ text: markConsolidatedSql, values: [ids] });
    result.episodes_consolidated += ids.length;
    result.changed_facts.push(factId);
  }
}

async function history(
  q: Queryable,
  agentId: number,
  factId: number,
  topic: string,
  decision: 'add' | 'update' | 'supersede',
  claim: string,
  before: unknown,
  after: unknown,
  episodeIds: string[],
  options: ConsolidationOptions,
): Promise<void> {
  await q.query({
    text: insertHistorySql,
    values: [
      agentId,
      factId,
      topic,
      decision,
      claim,
      before === null ? null : JSON.stringify(before),
      JSON.stringify(after),
      episodeIds,
      options.executionId ?? null,
    ],
  });
}

/** The key an episode is consolidated under. */
export function episodeKey(episode: Pick<Episode, 'content' | 'context'>): string {
  const c = episode.context;
  if (c.kind === 'step' && typeof c.template === 'string' && typeof c.step === 'string') return `step:${c.template}/${c.step}`;
  if (typeof c.subject === 'string' && c.subject.trim() !== '')
    return `email:${normalise(c.subject.replace(/^\s*((re|fw|fwd|aw|wg)\s*:\s*)+/i, '')).slice(0, 80)}`;
  return `note:${normalise(episode.content).split(' ').slice(0, 6).join(' ')}`;
}

/** Lower case, letters and digits only, single spaces. */
function normalise(text: string): string {
  return text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

/** What a key's episodes claim: for work, the most frequent outcome (ties: the latest episode's); otherwise "observed". */
function claimOf(key: string, episodes: Episode[]): Claimed {
  if (!key.startsWith('step:')) return { claim: 'observed', counts: { observed: episodes.length } };
  const counts: Counts = {};
  for (const e of episodes) {
    const outcome = String(e.context.outcome ?? 'unknown');
    counts[outcome] = (counts[outcome] ?? 0) + 1;
  }
  return { claim: majority(counts, String(episodes.at(-1)!.context.outcome ?? 'unknown')), counts };
}

function majority(counts: Counts, tieBreak: string): string {
  const best = Math.max(...Object.values(counts));
  const leaders = Object.keys(counts).filter((k) => counts[k] === best);
  return leaders.includes(tieBreak) ? tieBreak : leaders.sort()[0]!;
}

function addCounts(a: Counts, b: Counts): Counts {
  const sum: Counts = { ...a };
  for (const [k, v] of Object.entries(b)) sum[k] = (sum[k] ?? 0) + v;
  return sum;
}

const verbs: Record<string, string> = { succeeded: 'usually succeeds', failed: 'usually fails', skipped: 'is usually skipped' };

/** The fact's text (the statement), confidence and figures, from a template: the same episodes give the same fact. */
function describe(agentName: string, key: string, episodes: Episode[], claimed: Claimed, support: number) {
  const last = episodes.at(-1)!;
  const day = last.occurred_at.toISOString().slice(0, 10);
  let content: string;
  let confidence = Math.round((support / (support + 2)) * 1000) / 1000;
  if (key.startsWith('step:')) {
    const [template, step] = key.slice(5).split('/');
    const total = Object.values(claimed.counts).reduce((a, b) => a + b, 0);
    const parts = Object.keys(claimed.counts)
      .sort()
      .map((k) => `${claimed.counts[k]} ${k}`);
    content = `${agentName} ${verbs[claimed.claim] ?? `usually ends ${claimed.claim}`} at ${step} of ${template}: ${parts.join(', ')} of ${total} runs (last ${day}).`;
    confidence = Math.round(confidence * ((claimed.counts[claimed.claim] ?? 0) / Math.max(1, total)) * 1000) / 1000;
  } else if (key.startsWith('email:')) {
    const subject = String(last.context.subject ?? key.slice(6));
    const from = typeof last.context.from === 'string' ? ` from ${last.context.from}` : '';
    content = `${agentName} has received ${support} email(s) about "${subject.slice(0, 120)}" (last${from}, ${day}).`;
  } else {
    content = `${agentName} noted ${support} time(s): "${last.content.slice(0, 160)}" (last ${day}).`;
  }
  return { content, confidence: Math.min(0.99, confidence), support, claim: claimed.claim, counts: claimed.counts, statement: content };
}

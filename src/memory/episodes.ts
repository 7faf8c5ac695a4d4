import type { Queryable } from '../db/queryable.js';

/**
 * Episodes from work: every step an agent carries out becomes an episode of its episodic memory.
 * Succeeded and skipped steps are written by the engine's finish statement (finishStepSql, in the
 * same statement as the step's end); a failed attempt is written here, in the failure's transaction.
 * context: { kind: 'step', execution_id, template, step, outcome, attempt, duration_ms, summary | error }.
 */
export async function recordFailedStepEpisode(
  q: Queryable,
  episode: {
    agentId: number;
    executionId: number;
    template: string;
    step: string;
    attempt: number;
    error: string;
    willRetry: boolean;
    durationMs?: number;
  },
): Promise<void> {
  await q.query({
    text: `INSERT INTO memory_episodic (agent_id, content, context, importance)
           VALUES ($1, 'failed step ' || $4 || ' of ' || $3 || ' (execution ' || $2::bigint || ', attempt ' || $5::int
                       || CASE WHEN $7 THEN ', will retry' ELSE '' END || ')',
                   jsonb_build_object('kind', 'step', 'execution_id', $2::bigint, 'template', $3::text, 'step', $4::text,
                                      'outcome', 'failed', 'attempt', $5::int, 'error', left($6::text, 500), 'will_retry', $7::boolean)
                   || CASE WHEN $8::numeric IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('duration_ms', round($8::numeric, 1)) END,
                   CASE WHEN $7 THEN 0.6 ELSE 0.8 END)`,
    values: [
      episode.agentId,
      episode.executionId,
      episode.template,
      episode.step,
      episode.attempt,
      episode.error,
      episode.willRetry,
      episode.durationMs ?? null,
    ],
  });
}

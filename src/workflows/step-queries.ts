/**
 * The step runner's hot statements, each one round trip. They are run as named (prepared)
 * statements: every step of every execution runs them.
 */

/**
 * Start step $2 of execution $1, attempt $3 of job $4: read the execution, the step's row and the
 * earlier steps' outputs; if the execution is under way and the step is not done, take an agent of
 * the step's type, mark the step running with it, the execution running, and record step.started
 * (and workflow.started for the first step). Always returns one row; agent_id is null when no agent
 * was taken (see execution_status, run_status, free_agents, limited).
 *
 * The agent: $5 when given (the caller chose it under lock: agents with max_concurrent_steps), else
 * the least recently used active agent of the type, provided it has no max_concurrent_steps: the
 * least recently used one no other claim holds this instant, or, when every one is being claimed,
 * the least recently used one anyway (an agent without a limit can take more), so these claims
 * never wait and never come back empty. When the least recently used free agent has a limit,
 * `limited` says so and nothing is taken: its capacity must be counted after its lock is held
 * (lockAgentsSql, leastRecentFreeAgentSql), which one statement cannot do.
 */
export const claimStepSql = `
WITH execution AS (
    SELECT e.id, e.status, e.input, e.steps, t.name AS template,
           (SELECT s FROM jsonb_array_elements(e.steps) s WHERE (s->>'order')::int = $2) AS step
      FROM workflow_executions e
      JOIN workflow_templates t ON t.id = e.template_id
     WHERE e.id = $1
), run AS (
    SELECT status FROM workflow_step_runs WHERE execution_id = $1 AND step_order = $2
), candidates AS (
    SELECT a.id, a.last_step_at, a.max_concurrent_steps
      FROM agents a
     WHERE a.agent_type = (SELECT step->>'agent_type' FROM execution)
       AND a.status = 'active'
       AND (a.max_concurrent_steps IS NULL
            OR a.max_concurrent_steps > (SELECT count(*) FROM workflow_step_runs r
                                          WHERE r.agent_id = a.id AND r.status = 'running'
                                            AND NOT (r.execution_id = $1 AND r.step_order = $2)))
), least_recent AS (
    SELECT id, max_concurrent_steps FROM candidates ORDER BY last_step_at NULLS FIRST, id LIMIT 1
), chosen AS (
    -- $5, or the least recently used agent that no other claim holds this instant (skipped, not
    -- waited for: waiting on one hot row serialises every claim of the type through its commit).
    SELECT a.id
      FROM agents a
     WHERE ($5::bigint IS NULL OR a.id = $5::bigint)
       AND ($5::bigint IS NOT NULL OR (a.id IN (SELECT id FROM candidates WHERE max_concurrent_steps IS NULL)
                                       AND (SELECT max_concurrent_steps FROM least_recent) IS NULL))
       AND (SELECT status FROM execution) IN ('pending', 'running')
       AND (SELECT status FROM run) IN ('pending', 'running')
     ORDER BY a.last_step_at NULLS FIRST, a.id
     LIMIT 1
       FOR UPDATE SKIP LOCKED
), used AS (
    UPDATE agents a SET last_step_at = clock_timestamp()
      FROM chosen
     WHERE a.id = chosen.id
    RETURNING a.id, a.name, a.agent_type, a.config
), agent AS (
    -- Every agent without a limit is being claimed this instant: share the least recently used
    -- one (it has no limit to exceed) rather than wait.
    SELECT id, name, agent_type, config FROM used
    UNION ALL
    SELECT a.id, a.name, a.agent_type, a.config
      FROM agents a
     WHERE NOT EXISTS (SELECT 1 FROM used)
       AND $5::bigint IS NULL
       AND a.id = (SELECT id FROM least_recent WHERE max_concurrent_steps IS NULL)
       AND (SELECT status FROM execution) IN ('pending', 'running')
       AND (SELECT status FROM run) IN ('pending', 'running')
), started AS (
    UPDATE workflow_step_runs r
       SET status = 'running', agent_id = agent.id, attempts = $3, job_id = $4, started_at = now(),
           finished_at = NULL, error = NULL, duration_ms = NULL
      FROM agent
     WHERE r.execution_id = $1 AND r.step_order = $2
    RETURNING r.step_order
), execution_started AS (
    -- Only an execution's first step changes its row (each later step would rewrite the whole row,
    -- steps snapshot included, for nothing: its step rows say where it is).
    UPDATE workflow_executions e
       SET status = 'running', started_at = coalesce(e.started_at, now())
      FROM agent
     WHERE e.id = $1 AND e.status = 'pending'
    RETURNING e.started_at = now() AS first
), events AS (
    INSERT INTO agent_events (agent_id, event_type, execution_id, job_id, payload)
    SELECT NULL, 'workflow.started', $1::bigint, NULL::bigint, jsonb_build_object('template', x.template)
      FROM execution_started s, execution x
     WHERE s.first
    UNION ALL
    SELECT agent.id, 'step.started', $1, $4,
           jsonb_build_object('template', x.template, 'step', x.step->>'name', 'handler', x.step->>'handler',
                              'attempt', $3::int, 'agent', agent.name)
      FROM agent, execution x
)
SELECT x.status AS execution_status, x.template, x.input, x.steps, x.step,
       (SELECT status FROM run) AS run_status,
       (SELECT coalesce(jsonb_agg(jsonb_build_array(r.name, r.output) ORDER BY r.step_order), '[]')
          FROM workflow_step_runs r WHERE r.execution_id = $1 AND r.step_order < $2) AS outputs,
       (SELECT count(*) FROM candidates)::int AS free_agents,
       coalesce((SELECT max_concurrent_steps IS NOT NULL FROM least_recent), false) AS limited,
       agent.id AS agent_id, agent.name AS agent_name, agent.config AS agent_config
  FROM (SELECT 1) one
  LEFT JOIN execution x ON true
  LEFT JOIN agent ON true`;

/**
 * For a step whose least recently used free agent has a max_concurrent_steps ($1: the agent type):
 * lock every active agent of the type, waiting for other claims
 * of them to commit. Run inside a transaction; leastRecentFreeAgentSql then counts with a snapshot
 * taken after the locks are held, so two claims never both see the same free place.
 */
export const lockAgentsSql = `
SELECT id FROM agents WHERE agent_type = $1 AND status = 'active' ORDER BY id FOR UPDATE`;

/**
 * The least recently used agent of type $1 below its max_concurrent_steps (see lockAgentsSql); step
 * $3 of execution $2 is not counted against its own agent (a retry after a crash).
 */
export const leastRecentFreeAgentSql = `
SELECT a.id
  FROM agents a
 WHERE a.agent_type = $1 AND a.status = 'active'
   AND (a.max_concurrent_steps IS NULL
        OR a.max_concurrent_steps > (SELECT count(*) FROM workflow_step_runs r
                                      WHERE r.agent_id = a.id AND r.status = 'running'
                                        AND NOT (r.execution_id = $2 AND r.step_order = $3)))
 ORDER BY a.last_step_at NULLS FIRST, a.id
 LIMIT 1`;

/**
 * Step $2 of execution $1 (job $3) ended: as succeeded with output $4 or skipped with reason $5
 * (status $6), after $7 ms, on attempt $8; record step.$6 and the agent's episode (output summary $10); and, when the execution is still under
 * way and there is a next step (its max attempts in $9; null for the last step), enqueue the next
 * step's job, all in one statement. The job is inserted here as the queue's enqueueSql inserts one
 * (same columns, same dedupe key guard), because a separate enqueue would cost this hot path a
 * transaction and three more round trips. The execution's row is locked, so a cancel waits for
 * this and then finds the new job by its key.
 */
export const finishStepSql = `
WITH done AS (
    UPDATE workflow_step_runs
       SET status = $6, output = $4, reason = $5, error = NULL, finished_at = now(), duration_ms = $7
     WHERE execution_id = $1 AND step_order = $2 AND status = 'running' AND job_id = $3
    RETURNING agent_id, name
), execution AS (
    SELECT e.status, t.name AS template
      FROM workflow_executions e JOIN workflow_templates t ON t.id = e.template_id
     WHERE e.id = $1
       FOR UPDATE OF e
), event AS (
    INSERT INTO agent_events (agent_id, event_type, execution_id, job_id, payload)
    SELECT d.agent_id, 'step.' || $6, $1, $3,
           jsonb_build_object('template', x.template, 'step', d.name, 'attempt', $8::int, 'duration_ms', round($7::numeric, 1))
           || CASE WHEN $5::text IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('reason', $5::text) END
      FROM done d, execution x
), episode AS (
    -- What the agent did, as an episode of its memory (src/memory/episodes.ts has the failed ones):
    -- the outcome, and the summary $10 of the output (its top-level numbers, flags and short texts).
    INSERT INTO memory_episodic (agent_id, content, context, importance)
    SELECT d.agent_id,
           $6 || ' step ' || d.name || ' of ' || x.template || ' (execution ' || $1::bigint || ')',
           jsonb_build_object('kind', 'step', 'execution_id', $1::bigint, 'template', x.template, 'step', d.name,
                              'outcome', $6::text, 'attempt', $8::int, 'duration_ms', round($7::numeric, 1),
                              'summary', $10::jsonb)
           || CASE WHEN $5::text IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('reason', left($5::text, 500)) END,
           CASE WHEN $6 = 'skipped' THEN 0.2 ELSE 0.3 END
      FROM done d, execution x
     WHERE d.agent_id IS NOT NULL
), next_job AS (
    INSERT INTO job_queue (job_type, payload, max_attempts, dedupe_key)
    SELECT 'workflow_step', jsonb_build_object('execution_id', $1::bigint, 'step', $2::int + 1), $9::int,
           'wf:' || $1::bigint || ':' || ($2::int + 1)
     WHERE $9::int IS NOT NULL
       AND EXISTS (SELECT 1 FROM done)
       AND (SELECT status FROM execution) IN ('pending', 'running')
        ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('pending', 'in_progress')
        DO NOTHING
    RETURNING id
)
SELECT (SELECT count(*) FROM done)::int AS recorded,
       (SELECT status FROM execution) AS execution_status,
       (SELECT id FROM next_job) AS next_job_id`;

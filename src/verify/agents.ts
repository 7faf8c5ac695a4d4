import { requiredAgentCount, requiredAgentTypeCount, sampleAgents } from '../reference.js';
import { attempt, type Check } from './types.js';

/** AGENTS: 48 agents or more, all active, of enough types to carry out every workflow step. */
export const checkAgents: Check = async ({ pool }) => {
  const problems: string[] = [];
  const facts: string[] = [];
  const agents = await attempt(
    problems,
    'reading agents',
    async () =>
      (await pool.query<{ name: string; agent_type: string; status: string }>('SELECT name, agent_type, status FROM agents ORDER BY name'))
        .rows,
  );
  if (!agents) return { passed: false, summary: 'agents unreadable', problems, facts };

  const active = agents.filter((a) => a.status === 'active');
  const activeTypes = new Set(active.map((a) => a.agent_type));
  const notActive = agents.filter((a) => a.status !== 'active');
  facts.push(`Total agents: ${agents.length} configured`);
  facts.push(`Active agents: ${active.length} (${agents.length ? Math.floor((100 * active.length) / agents.length) : 0}% operational)`);
  facts.push(`Agent types: ${activeTypes.size} with an active agent (${[...activeTypes].sort().join(', ')})`);
  if (agents.length < requiredAgentCount) problems.push(`${agents.length} agents configured; ${requiredAgentCount} expected`);
  for (const a of notActive) problems.push(`agent ${a.name} is ${a.status}`);
  if (activeTypes.size < requiredAgentTypeCount)
    problems.push(`${activeTypes.size} agent types active; at least ${requiredAgentTypeCount} expected`);
  for (const [name, type] of sampleAgents) {
    const found = agents.find((a) => a.name === name);
    if (!found) problems.push(`agent ${name} is missing`);
    else if (found.agent_type !== type) problems.push(`agent ${name} is of type ${found.agent_type}; ${type} expected`);
  }
  facts.push(`Sample agents: ${sampleAgents.map(([n, t]) => `${n} (${t})`).join(', ')}`);

  const uncovered = await attempt(
    problems,
    'reading workflow steps',
    async () =>
      (
        await pool.query<{ template: string; step: string; agent_type: string }>(
          `SELECT t.name AS template, s.name AS step, s.agent_type
       FROM workflow_steps s JOIN workflow_templates t ON t.id = s.template_id
      WHERE t.is_active
        AND NOT EXISTS (SELECT 1 FROM agents a WHERE a.agent_type = s.agent_type AND a.status = 'active')
      ORDER BY t.name, s.step_order`,
        )
      ).rows,
  );
  for (const u of uncovered ?? []) problems.push(`no active ${u.agent_type} agent for step ${u.template}.${u.step}`);

  const memory = await pool
    .query<{ episodic: number; semantic: number }>(
      'SELECT (SELECT count(*) FROM memory_episodic) AS episodic, (SELECT count(*) FROM memory_semantic) AS semantic',
    )
    .then(
      (r) => r.rows[0],
      () => undefined,
    );
  facts.push(
    memory ? `Memory: ${memory.episodic} episodic, ${memory.semantic} semantic entries` : 'Memory: tables unreadable (see SCHEMA)',
  );
  return {
    passed: problems.length === 0,
    summary: `${active.length} of ${agents.length} agents active, ${activeTypes.size} types`,
    problems,
    facts,
  };
};

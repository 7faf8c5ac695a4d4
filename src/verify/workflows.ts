import { requiredTemplates } from '../reference.js';
import { builtInStepHandlers } from '../steps/index.js';
import { cronProblem, nextRun } from '../workflows/cron.js';
import { missingSteps, notRunnableReason } from '../workflows/templates.js';
import { attempt, type Check } from './types.js';

/**
 * WORKFLOWS: the five scheduled templates exist, are active, have valid schedules and steps, and
 * every active template is runnable (each step's handler is one this cesar has).
 */
export const checkWorkflows: Check = async ({ pool }) => {
  const handlers = builtInStepHandlers();
  const problems: string[] = [];
  const facts: string[] = [];
  const templates = await attempt(
    problems,
    'reading workflow_templates',
    async () =>
      (
        await pool.query<{
          name: string;
          description: string;
          cron_expression: string;
          timezone: string;
          is_active: boolean;
          steps: string[] | null;
          handlers: string[] | null;
          orders: number[] | null;
        }>(`SELECT t.name, t.description, t.cron_expression, t.timezone, t.is_active,
             array_agg(s.name ORDER BY s.step_order) FILTER (WHERE s.name IS NOT NULL) AS steps,
             array_agg(s.action ORDER BY s.step_order) FILTER (WHERE s.name IS NOT NULL) AS handlers,
             array_agg(s.step_order ORDER BY s.step_order) FILTER (WHERE s.name IS NOT NULL) AS orders
        FROM workflow_templates t
        LEFT JOIN workflow_steps s ON s.template_id = t.id
       GROUP BY t.id
       ORDER BY t.id`)
      ).rows,
  );
  if (!templates) return { passed: false, summary: 'workflow templates unreadable', problems, facts };

  const byName = new Map(templates.map((t) => [t.name, t]));
  for (const [name] of requiredTemplates) {
    if (!byName.has(name)) problems.push(`template ${name} is missing`);
  }
  const now = new Date();
  let index = 0;
  let runnable = 0;
  for (const t of templates) {
    const required = requiredTemplates.some(([n]) => n === t.name);
    const cron = cronProblem(t.cron_expression, t.timezone);
    const steps = t.steps ?? [];
    const next = cron ? undefined : nextRun(t.cron_expression, t.timezone, now);
    facts.push(`${++index}. ${t.name} (${t.is_active ? 'active' : 'inactive'}): ${t.description}`);
    facts.push(`   Schedule: ${t.cron_expression} ${t.timezone}${next ? `, next slot ${next.toISOString()}` : ''}`);
    facts.push(`   Steps: ${steps.length > 0 ? steps.join(' → ') : 'none'}`);
    const stepHandlers = steps.map((name, i) => ({ name, handler: t.handlers![i]! }));
    const missing = missingSteps(stepHandlers, handlers);
    if (t.is_active && notRunnableReason({ steps: stepHandlers }, handlers) === undefined) runnable++;
    facts.push(`   Runnable: ${missing.length === 0 ? 'yes' : `no, no step handler for ${missing.join(', ')}`}`);
    if (t.is_active && missing.length > 0) {
      problems.push(`template ${t.name} is not runnable: no step handler for ${missing.join(', ')}`);
    }
    if (cron) problems.push(`template ${t.name}: ${cron}`);
    if (required && !t.is_active) problems.push(`template ${t.name} is not active`);
    if (t.is_active && steps.length === 0) problems.push(`template ${t.name} has no steps`);
    const orders = t.orders ?? [];
    if (orders.some((o, i) => o !== i + 1)) problems.push(`template ${t.name}: steps are not numbered 1..${orders.length}`);
  }
  const active = templates.filter((t) => t.is_active);
  return {
    passed: problems.length === 0,
    summary: `${templates.length} workflows configured, ${active.length} active, ${runnable} of them runnable`,
    problems,
    facts,
  };
};

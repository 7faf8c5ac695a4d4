// Schedules and workflows: each template's schedule, policies, last fired, next due and lateness;
// recent executions; skipped ticks with their reasons; one execution with its steps. Signed in:
// run now, pause, resume.
import { get, post } from './api.js';
import { append, badge, duration, h, json, number, shorten, swap, table, time } from './dom.js';

export function render(root, route, ctx) {
  return route.name === 'executions' && route.id ? renderExecution(root, Number(route.id)) : renderTemplates(root, ctx);
}

function renderTemplates(root, ctx) {
  const parts = { schedulers: h('p', { class: 'muted' }), templates: h('div'), executions: h('div'), skipped: h('div') };
  append(
    root,
    h('h1', { tabindex: -1 }, 'Schedules and workflows'),
    parts.schedulers,
    h('section', { 'aria-labelledby': 'templates' }, h('h2', { id: 'templates' }, 'Templates'), parts.templates),
    h('section', { 'aria-labelledby': 'executions' }, h('h2', { id: 'executions' }, 'Recent executions'), parts.executions),
    h('section', { 'aria-labelledby': 'skipped' }, h('h2', { id: 'skipped' }, 'Skipped ticks'), parts.skipped),
  );
  parts.templates.append(h('p', { class: 'muted' }, 'Waiting for the live snapshot…'));

  return {
    title: 'Schedules and workflows',
    update(snapshot) {
      const w = snapshot.workflows;
      parts.schedulers.textContent =
        w.schedulers_live === 0
          ? 'No scheduler is running: no template fires on its own (run `cesar scheduler`, or `cesar start`).'
          : `${w.schedulers_live} scheduler${w.schedulers_live === 1 ? '' : 's'} running.`;
      swap(parts.templates, templatesTable(w.templates, ctx));
      swap(parts.executions, executionsTable(w.executions));
      swap(parts.skipped, skippedTable(w.skipped_ticks));
    },
  };
}

function templatesTable(templates, ctx) {
  const signedIn = ctx.session.signed_in;
  const headers = ['Template', 'Schedule', 'Catch-up / overlap', 'Active', 'Runnable', 'Last fired', 'Next due', 'Late by', 'Last status'];
  return table(
    'Templates',
    signedIn ? [...headers, 'Actions'] : headers,
    templates.map((t) => {
      const cells = [
        h('span', { title: t.description }, t.name),
        h('span', {}, h('code', {}, t.cron_expression), ` ${t.timezone}`),
        `${t.catchup} / ${t.overlap}`,
        t.is_active ? 'active' : 'paused',
        t.runnable ? 'yes' : shorten(`no: ${t.missing_steps.join(', ')}`, 80),
        time(t.last_fired_at),
        time(t.next_due_at),
        t.late_by_seconds === null ? '—' : h('strong', { class: 'late' }, `${number(t.late_by_seconds)} s`),
        t.last_status
          ? h(
              'a',
              { href: `#/executions/${t.last_execution_id}`, 'aria-label': `${t.last_status}: execution ${t.last_execution_id}` },
              badge(t.last_status),
            )
          : '—',
      ];
      return signedIn ? [...cells, templateActions(t, ctx)] : cells;
    }),
    'no templates.',
  );
}

function templateActions(t, ctx) {
  const run = h(
    'button',
    {
      type: 'button',
      'data-key': `run-${t.name}`,
      'aria-label': `Run ${t.name} now`,
      disabled: !t.runnable,
      title: t.runnable ? undefined : 'a step has no handler in this cesar',
      onclick: async () => {
        const result = await ctx.act(`Run ${t.name} now`, () => post(`workflows/${t.name}/run`));
        if (result) ctx.notify(`Run ${t.name} now: execution ${result.execution_id} started.`, 'ok');
      },
    },
    'Run now',
  );
  const verb = t.is_active ? 'pause' : 'resume';
  const toggle = h(
    'button',
    {
      type: 'button',
      'data-key': `${verb}-${t.name}`,
      'aria-label': `${t.is_active ? 'Pause' : 'Resume'} ${t.name}`,
      onclick: () => ctx.act(`${t.is_active ? 'Pause' : 'Resume'} ${t.name}`, () => post(`workflows/${t.name}/${verb}`)),
    },
    t.is_active ? 'Pause' : 'Resume',
  );
  return h('span', { class: 'actions' }, run, toggle);
}

function executionsTable(executions) {
  return table(
    'Recent executions',
    ['Execution', 'Template', 'Trigger', 'Status', 'Scheduled for', 'Duration', 'Current step', 'Error'],
    executions.map((e) => [
      h('a', { href: `#/executions/${e.id}`, 'data-key': `execution-${e.id}` }, String(e.id)),
      e.template,
      e.trigger,
      badge(e.status),
      time(e.scheduled_for),
      duration(e.duration_ms),
      e.current_step === null ? '—' : String(e.current_step),
      shorten(e.error, 80),
    ]),
    'none yet.',
  );
}

function skippedTable(ticks) {
  return table(
    'Skipped ticks',
    ['Template', 'Tick', 'Reason', 'Recorded by'],
    ticks.map((k) => [k.template, time(k.tick_at), k.reason ?? '—', k.source]),
    'none.',
  );
}

// One execution.

function renderExecution(root, id) {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  append(
    root,
    h('p', {}, h('a', { href: '#/workflows' }, '← Schedules and workflows')),
    h('h1', { tabindex: -1 }, `Execution ${id}`),
    body,
  );
  let shown;

  async function load() {
    try {
      shown = await get(`executions/${id}`);
      swap(body, executionDetail(shown));
    } catch (err) {
      swap(body, h('p', { class: 'error' }, `Could not load execution ${id}: ${err.message}`));
    }
  }
  load();

  return {
    title: `Execution ${id}`,
    update(snapshot) {
      // Read again only when the live snapshot shows this execution moved on.
      const seen = snapshot.workflows.executions.find((e) => e.id === id);
      if (seen && shown && (seen.status !== shown.status || seen.current_step !== shown.current_step)) load();
    },
  };
}

function executionDetail(e) {
  const facts = [
    ['Template', e.template],
    ['Status', badge(e.status)],
    ['Trigger', e.trigger],
    ['Scheduled for', time(e.scheduled_for)],
    ['Started', time(e.started_at)],
    ['Finished', time(e.finished_at)],
    ['Duration', duration(e.duration_ms)],
    ['Retries', String(e.retries)],
  ];
  return h(
    'div',
    {},
    h(
      'dl',
      { class: 'facts' },
      facts.map(([name, value]) => h('div', {}, h('dt', {}, name), h('dd', {}, value))),
    ),
    e.error ? h('section', {}, h('h2', {}, 'Error'), h('pre', { class: 'error-text' }, e.error)) : null,
    h(
      'section',
      { 'aria-labelledby': 'steps' },
      h('h2', { id: 'steps' }, 'Steps'),
      table(
        'Steps',
        ['#', 'Step', 'Handler', 'Agent type', 'Agent', 'Status', 'Attempts', 'Duration', 'Output, error or reason'],
        e.steps.map((s) => [
          String(s.order),
          s.name,
          s.handler,
          s.agent_type,
          s.agent ?? '—',
          badge(s.status),
          String(s.attempts),
          duration(s.duration_ms),
          s.error ? shorten(s.error) : s.reason ? shorten(s.reason) : json(s.output),
        ]),
        'no steps.',
      ),
    ),
    h('section', {}, h('h2', {}, 'Input'), h('pre', {}, JSON.stringify(e.input, null, 2))),
  );
}

// Overview: the queue now (live counts), throughput and failures over the last hour, the backlog,
// workers, sync lag, ingestion errors and agents. Everything comes from the live snapshot.
import { minuteChart } from './charts.js';
import { ago, append, badge, h, number, shorten, swap, table, time } from './dom.js';

const counts = [
  ['pending', 'Pending'],
  ['runnable', 'Runnable now'],
  ['in_progress', 'Running'],
  ['failed', 'Failed'],
];

export function render(root) {
  const cards = h(
    'dl',
    { class: 'cards' },
    counts.map(([key, label]) =>
      h(
        'div',
        { class: `card card-${key}` },
        h('dt', {}, label),
        h('dd', { 'data-count': key }, h('a', { href: key === 'runnable' ? '#/jobs?state=pending' : `#/jobs?state=${key}` }, '…')),
      ),
    ),
  );
  const throughput = minuteChart('Jobs completed per minute', [{ label: 'Completed', color: '#1e7b34' }]);
  const failures = minuteChart('Failures per minute', [
    { label: 'Failed', color: '#b3261e' },
    { label: 'Retried', color: '#9a4d00' },
    { label: 'Cancelled', color: '#555555' },
  ]);
  const chartNote = h('div');
  const parts = {
    backlog: h('div'),
    workers: h('div'),
    sync: h('div'),
    errors: h('div'),
    agents: h('div'),
  };
  append(
    root,
    h('h1', { tabindex: -1 }, 'Overview'),
    h('section', { 'aria-labelledby': 'queue-now' }, h('h2', { id: 'queue-now' }, 'Queue now'), cards),
    h(
      'section',
      { 'aria-labelledby': 'last-hour' },
      h('h2', { id: 'last-hour' }, 'Last hour'),
      h('div', { class: 'charts' }, throughput.element, failures.element),
      chartNote,
    ),
    h('section', { 'aria-labelledby': 'backlog' }, h('h2', { id: 'backlog' }, 'Backlog by queue, type and state'), parts.backlog),
    h('section', { 'aria-labelledby': 'workers' }, h('h2', { id: 'workers' }, 'Workers'), parts.workers),
    h(
      'div',
      { class: 'columns' },
      h('section', { 'aria-labelledby': 'sync' }, h('h2', { id: 'sync' }, 'Sync lag'), parts.sync),
      h('section', { 'aria-labelledby': 'ingestion' }, h('h2', { id: 'ingestion' }, 'Ingestion errors'), parts.errors),
    ),
    h('section', { 'aria-labelledby': 'agents' }, h('h2', { id: 'agents' }, 'Agents by type and status'), parts.agents),
  );

  function update(snapshot) {
    const o = snapshot.overview;
    for (const [key] of counts) {
      const value = o.queue[key];
      root.querySelector(`[data-count="${key}"] a`).textContent = value > o.queue.cap ? `${number(o.queue.cap)}+` : number(value);
      root.querySelector(`.card-${key}`).classList.toggle('nonzero', value > 0);
    }
    updateCharts(o.throughput);
    swap(parts.backlog, backlogTable(o.backlog));
    swap(parts.workers, workersTable(o.workers));
    swap(parts.sync, syncTable(o.sync));
    swap(parts.errors, errorsTable(o.ingestion_errors));
    swap(parts.agents, agentsTable(o.agents));
  }

  function updateCharts(t) {
    swap(chartNote, failuresByType(t.failures_by_type));
    throughput.update(t.minutes, [t.completed]);
    failures.update(t.minutes, [t.failed, t.retried, t.cancelled]);
  }

  return { title: 'Overview', update };
}

function failuresByType(rows) {
  return table(
    'Failures by job type, last hour',
    ['Job type', 'Failed', 'Retried', 'Cancelled'],
    rows.map((r) => [
      h('a', { href: `#/jobs?type=${encodeURIComponent(r.job_type)}` }, r.job_type),
      number(r.failed),
      number(r.retried),
      number(r.cancelled),
    ]),
    'none in the last hour.',
  );
}

function backlogTable(rows) {
  const refreshed = rows[0]?.refreshed_at;
  return h(
    'div',
    {},
    table(
      'Backlog',
      ['Queue', 'Job type', 'State', 'Jobs', 'Runnable', 'Oldest run at', 'Longest wait'],
      rows.map((r) => [
        r.queue,
        r.job_type,
        badge(r.status),
        number(r.jobs),
        number(r.runnable),
        time(r.oldest_run_at),
        r.max_wait_seconds === null ? '—' : `${Math.round(r.max_wait_seconds)} s`,
      ]),
      'none as of the monitoring view’s last refresh (the counts above are live).',
    ),
    h(
      'p',
      { class: 'muted' },
      'Pending and running: jobs now; failed: the dead jobs kept; completed and cancelled: the last 24 hours. ',
      refreshed ? ['As of the monitoring view’s last refresh, ', time(refreshed), '.'] : null,
    ),
  );
}

function workersTable(rows) {
  return table(
    'Workers',
    ['Worker', 'State', 'Last heartbeat', 'Queues', 'Concurrency', 'Started', 'Version'],
    rows.map((w) => [
      w.id,
      badge(w.state),
      ago(w.last_heartbeat_at),
      w.queues.join(', '),
      number(w.concurrency),
      time(w.started_at),
      w.version,
    ]),
    'no worker has run in the last day.',
  );
}

function syncTable(rows) {
  return table(
    'Sync lag',
    ['Scope', 'Name', 'Enabled', 'Status', 'Last success', 'Lag', 'Last error'],
    rows.map((r) => [
      r.scope,
      r.name,
      r.enabled ? 'yes' : 'no',
      r.status ?? '—',
      time(r.last_success_at),
      r.lag_seconds === null ? 'never synced' : `${number(r.lag_seconds)} s`,
      shorten(r.last_error),
    ]),
    'nothing is configured for sync.',
  );
}

function errorsTable(rows) {
  return table(
    'Ingestion errors',
    ['Source', 'Error class', 'Errors (7 d)', 'Last 24 h', 'Last error at', 'Last error'],
    rows.map((r) => [r.source, r.error_class, number(r.errors), number(r.errors_24h), time(r.last_error_at), shorten(r.last_error)]),
    'no ingestion errors.',
  );
}

function agentsTable(rows) {
  return table(
    'Agents',
    ['Agent type', 'Status', 'Agents'],
    rows.map((r) => [r.agent_type, badge(r.status), number(r.count)]),
    'no agents.',
  );
}

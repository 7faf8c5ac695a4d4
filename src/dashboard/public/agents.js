// Agents: counts by type and status, the newest agent events (live; "Older" pages back), and what
// operators did from the dashboard.
import { get } from './api.js';
import { append, badge, h, json, number, swap, table, time } from './dom.js';

export function render(root) {
  const parts = { agents: h('div'), events: h('div'), older: h('div'), actions: h('div') };
  let oldest = null;
  const more = h('button', { type: 'button', onclick: loadOlder }, 'Older events');
  const moreStatus = h('p', { class: 'muted', role: 'status' });

  append(
    root,
    h('h1', { tabindex: -1 }, 'Agents'),
    h('section', { 'aria-labelledby': 'agent-counts' }, h('h2', { id: 'agent-counts' }, 'Agents by type and status'), parts.agents),
    h(
      'section',
      { 'aria-labelledby': 'agent-events' },
      h('h2', { id: 'agent-events' }, 'Recent agent events'),
      parts.events,
      parts.older,
      h('nav', { class: 'pager', 'aria-label': 'Agent event pages' }, more),
      moreStatus,
    ),
    h('section', { 'aria-labelledby': 'dashboard-actions' }, h('h2', { id: 'dashboard-actions' }, 'Dashboard actions'), parts.actions),
  );
  parts.events.append(h('p', { class: 'muted' }, 'Waiting for the live snapshot…'));

  async function loadOlder() {
    if (oldest === null) return;
    moreStatus.textContent = 'Loading…';
    try {
      const page = await get('agents', { before: oldest });
      if (page.events.length === 0) {
        moreStatus.textContent = 'No older events.';
        more.disabled = true;
        return;
      }
      oldest = page.events.at(-1).id;
      parts.older.append(eventsTable(page.events, `Older agent events, down to event ${oldest}`));
      moreStatus.textContent = `${page.events.length} older events shown.`;
    } catch (err) {
      moreStatus.textContent = `Could not load older events: ${err.message}`;
    }
  }

  return {
    title: 'Agents',
    update(snapshot) {
      swap(
        parts.agents,
        table(
          'Agents by type and status',
          ['Agent type', 'Status', 'Agents'],
          snapshot.overview.agents.map((r) => [r.agent_type, badge(r.status), number(r.count)]),
          'no agents.',
        ),
      );
      const events = snapshot.agents.events;
      swap(parts.events, eventsTable(events, 'Newest agent events (live)'));
      // Paging back starts below the live list, once.
      if (oldest === null && events.length > 0) oldest = events.at(-1).id;
      more.hidden = events.length === 0;
      swap(
        parts.actions,
        table(
          'Dashboard actions',
          ['At', 'Who', 'Action', 'Target', 'Outcome', 'Detail'],
          snapshot.agents.actions.map((a) => [time(a.at), a.actor, a.action, a.target, a.ok ? 'done' : 'refused', a.detail ?? '—']),
          'none yet.',
        ),
      );
    },
  };
}

function eventsTable(events, caption) {
  return table(
    caption,
    ['Event', 'At', 'Type', 'Agent', 'Agent type', 'Execution', 'Job', 'Payload'],
    events.map((e) => [
      String(e.id),
      time(e.created_at),
      e.event_type,
      e.agent ?? '—',
      e.agent_type ?? '—',
      e.execution_id === null ? '—' : h('a', { href: `#/executions/${e.execution_id}` }, String(e.execution_id)),
      e.job_id === null ? '—' : h('a', { href: `#/jobs/${e.job_id}` }, String(e.job_id)),
      json(e.payload),
    ]),
    'none yet.',
  );
}

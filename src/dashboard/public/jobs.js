// Jobs: filter by type, state and text, newest first, keyset paging (Older/Newest); a job's
// attempts and errors; retry, cancel and enqueue when signed in.
import { get, post } from './api.js';
import { append, badge, h, number, shorten, swap, table, time } from './dom.js';

const states = ['pending', 'in_progress', 'completed', 'failed', 'cancelled'];

export function render(root, route, ctx) {
  return route.id ? renderJob(root, Number(route.id), ctx) : renderList(root, route, ctx);
}

/** The filters of the route (#/jobs?type=&state=&q=&before=). */
function filtersOf(params) {
  return { type: params.get('type') ?? '', state: params.get('state') ?? '', q: params.get('q') ?? '', before: params.get('before') ?? '' };
}

function hashOf(filters) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) if (value) params.set(key, value);
  const query = params.toString();
  return `#/jobs${query ? `?${query}` : ''}`;
}

function renderList(root, route, ctx) {
  const filters = filtersOf(route.params);
  // Unfiltered, first page: the live snapshot's newest jobs. Otherwise a search, refreshed on request.
  const live = !filters.type && !filters.state && !filters.q && !filters.before;
  const results = h('div', { 'aria-live': 'off' });
  const status = h('p', { class: 'muted', role: 'status' });
  let page;

  const form = filterForm(filters, ctx.info.job_types ?? [], (next) => ctx.navigate(hashOf(next)));
  append(
    root,
    h('h1', { tabindex: -1 }, 'Jobs'),
    form,
    ctx.session.signed_in ? enqueueForm(ctx) : null,
    h(
      'section',
      { 'aria-labelledby': 'job-results' },
      h('h2', { id: 'job-results' }, live ? 'Newest jobs (live)' : 'Search results'),
      status,
      results,
    ),
  );

  async function load() {
    status.textContent = 'Loading…';
    try {
      page = await get('jobs', { ...filters, limit: 50 });
      draw(page.jobs);
      status.textContent = pageNote(page);
    } catch (err) {
      status.textContent = `Could not load the jobs: ${err.message}`;
    }
  }

  function draw(jobs) {
    swap(
      results,
      jobsTable(jobs, ctx, () => (live ? undefined : load())),
      pager(filters, page, ctx),
    );
  }

  if (!live) load();
  else status.textContent = 'Waiting for the live snapshot…';

  return {
    title: 'Jobs',
    update(snapshot) {
      if (!live) return;
      page = { next_before: snapshot.jobs.recent.length === 25 ? snapshot.jobs.recent.at(-1).id : null };
      draw(snapshot.jobs.recent);
      status.textContent = `The ${snapshot.jobs.recent.length} newest jobs, updated live.`;
    },
  };
}

function pageNote(page) {
  const shown = `${page.jobs.length} job${page.jobs.length === 1 ? '' : 's'}`;
  if (page.searched_down_to !== null && page.jobs.length < 50) {
    return `${shown} found searching down to job ${page.searched_down_to}; “Older” searches further back.`;
  }
  return `${shown}, newest first.`;
}

function filterForm(filters, types, apply) {
  const type = h('input', { id: 'filter-type', name: 'type', value: filters.type, list: 'job-type-list', autocomplete: 'off' });
  const known = h(
    'datalist',
    { id: 'job-type-list' },
    types.map((t) => h('option', { value: t.name })),
  );
  const state = h(
    'select',
    { id: 'filter-state', name: 'state' },
    h('option', { value: '' }, 'any'),
    states.map((s) => h('option', { value: s, selected: s === filters.state }, s.replace('_', ' '))),
  );
  const text = h('input', { id: 'filter-q', name: 'q', type: 'search', value: filters.q, maxlength: 200 });
  return h(
    'form',
    {
      class: 'filters',
      role: 'search',
      'aria-label': 'Filter jobs',
      onsubmit: (event) => {
        event.preventDefault();
        apply({ type: type.value.trim(), state: state.value, q: text.value.trim(), before: '' });
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'filter-type' }, 'Job type'), type, known),
    h('div', { class: 'field' }, h('label', { for: 'filter-state' }, 'State'), state),
    h('div', { class: 'field field-wide' }, h('label', { for: 'filter-q' }, 'Id, type, dedupe key or error contains'), text),
    h(
      'div',
      { class: 'field buttons' },
      h('button', { type: 'submit' }, 'Search'),
      h('a', { href: '#/jobs', class: 'button-link' }, 'Clear'),
    ),
  );
}

function pager(filters, page, ctx) {
  if (!page) return null;
  return h(
    'nav',
    { class: 'pager', 'aria-label': 'Job pages' },
    filters.before ? h('a', { href: hashOf({ ...filters, before: '' }) }, 'Newest') : null,
    page.next_before
      ? h('button', { type: 'button', onclick: () => ctx.navigate(hashOf({ ...filters, before: String(page.next_before) })) }, 'Older')
      : null,
  );
}

function jobsTable(jobs, ctx, reload) {
  const signedIn = ctx.session.signed_in;
  const headers = ['Id', 'Type', 'Queue', 'State', 'Attempts', 'Run at', 'Finished', 'Last error'];
  return table(
    'Jobs',
    signedIn ? [...headers, 'Actions'] : headers,
    jobs.map((j) => {
      const cells = [
        h('a', { href: `#/jobs/${j.id}`, 'data-key': `job-${j.id}` }, String(j.id)),
        j.type,
        j.queue,
        badge(j.status),
        `${j.attempts} of ${j.max_attempts}`,
        time(j.run_at),
        time(j.finished_at),
        shorten(j.last_error, 80),
      ];
      return signedIn ? [...cells, jobActions(j, ctx, reload)] : cells;
    }),
    'no jobs match.',
  );
}

/** Retry (failed, cancelled, waiting) and cancel (pending, running) buttons of a job. */
function jobActions(job, ctx, after) {
  const buttons = [];
  if (['failed', 'cancelled', 'pending'].includes(job.status)) {
    buttons.push(
      h(
        'button',
        {
          type: 'button',
          'data-key': `retry-${job.id}`,
          'aria-label': `Retry job ${job.id}`,
          onclick: async () => {
            if (await ctx.act(`Retry job ${job.id}`, () => post(`jobs/${job.id}/retry`))) await after?.();
          },
        },
        'Retry',
      ),
    );
  }
  if (['pending', 'in_progress'].includes(job.status)) {
    buttons.push(
      h(
        'button',
        {
          type: 'button',
          class: 'danger',
          'data-key': `cancel-${job.id}`,
          'aria-label': `Cancel job ${job.id}`,
          onclick: async () => {
            if (await ctx.act(`Cancel job ${job.id}`, () => post(`jobs/${job.id}/cancel`))) await after?.();
          },
        },
        'Cancel',
      ),
    );
  }
  return buttons.length ? h('span', { class: 'actions' }, buttons) : '—';
}

function enqueueForm(ctx) {
  const types = ctx.info.job_types ?? [];
  const type = h(
    'select',
    { id: 'enqueue-type', name: 'type', required: true },
    types.map((t) => h('option', { value: t.name }, t.name)),
  );
  const payload = h('textarea', { id: 'enqueue-payload', name: 'payload', rows: 3, spellcheck: 'false' }, '{}');
  const key = h('input', { id: 'enqueue-key', name: 'key', autocomplete: 'off' });
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h(
    'form',
    {
      class: 'enqueue',
      'aria-label': 'Enqueue a job',
      onsubmit: async (event) => {
        event.preventDefault();
        error.textContent = '';
        let body;
        try {
          body = { type: type.value, payload: JSON.parse(payload.value || '{}'), key: key.value.trim() || undefined };
        } catch {
          error.textContent = 'The payload is not valid JSON.';
          payload.focus();
          return;
        }
        const job = await ctx.act(`Enqueue a ${type.value} job`, () => post('jobs', body));
        if (job) ctx.notify(`Job ${job.id} (${job.type}) ${job.deduplicated ? 'has that key already' : 'is enqueued'}.`, 'ok');
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'enqueue-type' }, 'Job type'), type),
    h('div', { class: 'field field-wide' }, h('label', { for: 'enqueue-payload' }, 'Payload (JSON object)'), payload),
    h('div', { class: 'field' }, h('label', { for: 'enqueue-key' }, 'Dedupe key (optional)'), key),
    h('div', { class: 'field buttons' }, h('button', { type: 'submit' }, 'Enqueue')),
    error,
  );
  return h('details', { class: 'panel' }, h('summary', {}, 'Enqueue a job'), form);
}

// One job.

function renderJob(root, id, ctx) {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  append(root, h('p', {}, h('a', { href: '#/jobs' }, '← All jobs')), h('h1', { tabindex: -1 }, `Job ${id}`), body);
  let shown;

  async function load() {
    try {
      const job = await get(`jobs/${id}`);
      shown = job;
      swap(body, jobDetail(job, ctx, load));
    } catch (err) {
      swap(body, h('p', { class: 'error' }, `Could not load job ${id}: ${err.message}`));
    }
  }
  load();

  return {
    title: `Job ${id}`,
    update(snapshot) {
      // Read again only when the live snapshot shows this job changed.
      const seen = snapshot.jobs.recent.find((j) => j.id === id);
      if (seen && shown && seen.updated_at !== shown.updated_at) load();
    },
  };
}

function jobDetail(job, ctx, reload) {
  const facts = [
    ['Type', job.type],
    ['Queue', job.queue],
    ['State', badge(job.status)],
    ['Attempts', `${job.attempt_count} of ${job.max_attempts}`],
    ['Priority', String(job.priority)],
    ['Run at', time(job.run_at)],
    ['Created', time(job.created_at)],
    ['Finished', time(job.finished_at)],
    ['Dedupe key', job.dedupe_key ?? '—'],
    ['Worker', job.locked_by ?? '—'],
  ];
  return h(
    'div',
    {},
    ctx.session.signed_in ? h('p', { class: 'actions' }, jobActions(job, ctx, reload)) : null,
    h(
      'dl',
      { class: 'facts' },
      facts.map(([name, value]) => h('div', {}, h('dt', {}, name), h('dd', {}, value))),
    ),
    job.last_error ? h('section', {}, h('h2', {}, 'Last error'), h('pre', { class: 'error-text' }, job.last_error)) : null,
    h('section', {}, h('h2', {}, 'Payload'), h('pre', {}, JSON.stringify(job.payload, null, 2))),
    h(
      'section',
      { 'aria-labelledby': 'attempts' },
      h('h2', { id: 'attempts' }, 'Attempts'),
      table(
        'Attempts',
        ['Attempt', 'Worker', 'Started', 'Finished', 'Outcome', 'Error'],
        job.attempts.map((a) => [
          number(a.attempt),
          a.worker_id,
          time(a.started_at),
          time(a.finished_at),
          badge(a.outcome),
          a.error ? h('details', {}, h('summary', {}, shorten(a.error, 80)), h('pre', {}, a.error_stack ?? a.error)) : '—',
        ]),
        'not run yet.',
      ),
    ),
  );
}

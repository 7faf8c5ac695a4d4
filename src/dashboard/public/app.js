// The dashboard's shell: hash routing between the four pages (no reloads), the one live stream
// (Server-Sent Events: the server pushes the same snapshot to every open page), and signing in.
import * as agents from './agents.js';
import { ApiError, get, post } from './api.js';
import { h, swap } from './dom.js';
import * as jobs from './jobs.js';
import * as overview from './overview.js';
import * as workflows from './workflows.js';

const pages = { overview, jobs, workflows, agents };
/** Detail routes belong to a page: #/jobs/17 to jobs, #/executions/12 to workflows. */
const routeOwners = { executions: 'workflows' };

const state = { snapshot: null, session: { signed_in: false }, info: { job_types: [] }, view: null };

const main = document.getElementById('main');

function parseRoute() {
  const hash = location.hash.startsWith('#/') ? location.hash.slice(2) : 'overview';
  const [path, query = ''] = hash.split('?');
  const [name = 'overview', id] = path.split('/').filter(Boolean);
  return { name, id, params: new URLSearchParams(query) };
}

/** What every page gets: the session, the job types, navigation, and the action runner. */
const context = {
  get session() {
    return state.session;
  },
  get info() {
    return state.info;
  },
  get snapshot() {
    return state.snapshot;
  },
  navigate(hash) {
    if (location.hash === hash) show();
    else location.hash = hash;
  },
  notify,
  act,
};

/** Draw the page of the current route; focus its heading when the user navigated. */
function show({ focus = true } = {}) {
  const route = parseRoute();
  const owner = routeOwners[route.name] ?? route.name;
  const page = pages[owner] ?? pages.overview;
  for (const link of document.querySelectorAll('nav a[data-page]')) {
    if (link.dataset.page === owner) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const section = h('div', { class: 'page' });
  main.replaceChildren(section);
  state.view = page.render(section, route, context);
  document.title = `${state.view.title} · cesar dashboard`;
  if (state.snapshot) state.view.update?.(state.snapshot);
  if (focus) section.querySelector('h1')?.focus();
}

function notify(message, kind = 'info') {
  const notice = document.getElementById('notice');
  notice.textContent = message;
  notice.className = `notice notice-${kind}`;
  notice.hidden = false;
}

/**
 * Run an action (a POST) and say how it went. A 401 means the session has ended: the page
 * shows the sign-in form again.
 */
async function act(description, call) {
  try {
    const result = await call();
    notify(`${description}: done.`, 'ok');
    return result;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      state.session = { signed_in: false };
      renderSession();
      show({ focus: false });
    }
    notify(`${description}: ${err.message}`, 'error');
    return undefined;
  }
}

// Signing in.

function renderSession() {
  const el = document.getElementById('session');
  if (state.session.signed_in) {
    swap(
      el,
      h('p', { class: 'signed-in' }, 'Signed in as ', h('strong', {}, state.session.label)),
      h('button', { type: 'button', onclick: signOut, 'data-key': 'sign-out' }, 'Sign out'),
    );
    return;
  }
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'current-password', required: true });
  const error = h('p', { id: 'login-error', class: 'error', role: 'alert' });
  const form = h(
    'form',
    { class: 'login', 'aria-label': 'Sign in', onsubmit: (event) => signIn(event, input, error) },
    h('label', { for: 'token' }, 'API token'),
    input,
    h('button', { type: 'submit' }, 'Sign in to act'),
    error,
  );
  swap(el, form);
}

async function signIn(event, input, error) {
  event.preventDefault();
  error.textContent = '';
  try {
    state.session = await post('login', { token: input.value });
    input.value = '';
    renderSession();
    show({ focus: false });
    notify(`Signed in as ${state.session.label}: actions are shown.`, 'ok');
  } catch (err) {
    error.textContent =
      err instanceof ApiError && err.status === 401 ? 'Sign-in refused: that is not the API token.' : `Sign-in failed: ${err.message}`;
    input.focus();
  }
}

async function signOut() {
  try {
    state.session = await post('logout');
  } catch {
    state.session = { signed_in: false };
  }
  renderSession();
  show({ focus: false });
  notify('Signed out.');
}

// The live stream: one per page, fed by the server's one snapshot.

function setConnection(text, kind) {
  const el = document.getElementById('connection');
  if (el.textContent !== text) el.textContent = text;
  el.className = `connection-${kind}`;
}

function connect() {
  const source = new EventSource('/dashboard-api/events');
  source.addEventListener('open', () => setConnection('Live', 'live'));
  source.addEventListener('snapshot', (event) => {
    state.snapshot = JSON.parse(event.data);
    setConnection('Live', 'live');
    document.getElementById('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
    state.view?.update?.(state.snapshot);
  });
  source.addEventListener('unavailable', (event) => setConnection(`Not live: ${JSON.parse(event.data).message}`, 'down'));
  source.addEventListener('error', () => setConnection('Reconnecting…', 'down'));
}

async function start() {
  document.getElementById('skip-link').addEventListener('click', (event) => {
    event.preventDefault();
    main.focus();
  });
  window.addEventListener('hashchange', () => show());
  const [session, info] = await Promise.all([get('session').catch(() => state.session), get('info').catch(() => state.info)]);
  state.session = session;
  state.info = info;
  document.getElementById('version').textContent = info.version ?? '';
  renderSession();
  show({ focus: false });
  connect();
}

start();

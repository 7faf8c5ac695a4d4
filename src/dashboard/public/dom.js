// Small DOM helpers. Text always goes in through textContent (never innerHTML), so nothing read from
// the database can become markup.

/** h('a', { href: '#/jobs', class: 'x' }, 'text', child): an element with attributes and children. */
export function h(tag, attributes = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

/** Append children (text, elements, arrays of them); null, undefined and false add nothing. */
export function append(el, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/**
 * Replace an element's children, keeping the keyboard focus: when the focused element (inside el)
 * has a data-key, the new element with the same key gets the focus back. Live updates redraw
 * tables without throwing a keyboard user out of them.
 */
export function swap(el, ...children) {
  const focused = document.activeElement;
  const key = focused && el.contains(focused) ? focused.getAttribute('data-key') : null;
  el.replaceChildren();
  append(el, children);
  if (key) el.querySelector(`[data-key="${CSS.escape(key)}"]`)?.focus();
}

/**
 * A table with a caption and column headers, in a region that scrolls sideways on narrow screens
 * (focusable, so a keyboard can scroll it). rows: arrays of cells (text or elements).
 */
export function table(caption, headers, rows, empty = 'None.') {
  if (rows.length === 0) return h('p', { class: 'empty' }, `${caption}: ${empty}`);
  return h(
    'div',
    { class: 'table-wrap', role: 'region', 'aria-label': caption, tabindex: 0 },
    h(
      'table',
      {},
      h('caption', {}, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          headers.map((name) => h('th', { scope: 'col' }, name)),
        ),
      ),
      h(
        'tbody',
        {},
        rows.map((cells) =>
          h(
            'tr',
            {},
            cells.map((cell) => h('td', {}, cell)),
          ),
        ),
      ),
    ),
  );
}

/** A time as a <time> element: local date and time, the ISO value in datetime. */
export function time(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return h('time', { datetime: iso, title: iso }, d.toLocaleString());
}

/** "12 s ago", "3 min ago", "2 h ago". */
export function ago(iso) {
  if (!iso) return '—';
  const seconds = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  const text =
    seconds < 60 ? `${seconds} s ago` : seconds < 3600 ? `${Math.round(seconds / 60)} min ago` : `${Math.round(seconds / 3600)} h ago`;
  return h('time', { datetime: iso, title: new Date(iso).toLocaleString() }, text);
}

/** A duration in milliseconds, readable. */
export function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** A state as a badge: the word itself carries the meaning, the colour only helps. */
export function badge(state) {
  return h('span', { class: `badge state-${String(state).replace(/[^a-z_]/g, '')}` }, String(state).replace('_', ' '));
}

export function number(n) {
  return typeof n === 'number' ? n.toLocaleString() : '—';
}

/** JSON, short: for payloads and outputs in table cells. */
export function json(value, max = 160) {
  if (value === null || value === undefined) return '—';
  const text = JSON.stringify(value);
  return h('code', { class: 'json', title: text.length > max ? text : undefined }, text.length > max ? `${text.slice(0, max)}…` : text);
}

/** A long text (an error) cut for a cell, whole in its title. */
export function shorten(text, max = 120) {
  if (!text) return '—';
  return text.length > max ? h('span', { title: text }, `${text.slice(0, max)}…`) : text;
}

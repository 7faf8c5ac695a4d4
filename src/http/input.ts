import { HttpError } from './errors.js';

/**
 * Checks of the raw request parts before any route sees them: text that PostgreSQL cannot store or
 * that is not valid UTF-8, query strings that do not decode, bodies that are not UTF-8 JSON. Each
 * refusal is a 400 naming the field, so such input never reaches the database (where it would be a 500).
 */

/** Bodies nested deeper than this are refused (a deep body would exhaust the stack further on). */
const maxBodyDepth = 64;

const badQueryFields = Symbol('badQueryFields');

type Query = Record<string, string | string[]> & { [badQueryFields]?: string[] };

function decodeComponent(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/**
 * Fastify's query-string parser: like the default (a repeated key gives an array), except that a
 * key or value that is not valid percent-encoded UTF-8 is remembered, for checkQuery to refuse,
 * instead of passing on undecoded.
 */
export function parseQuery(text: string): Query {
  const query: Query = Object.create(null);
  for (const part of text.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawKey = eq === -1 ? part : part.slice(0, eq);
    const key = decodeComponent(rawKey);
    const value = decodeComponent(eq === -1 ? '' : part.slice(eq + 1));
    if (key === undefined || value === undefined) {
      query[badQueryFields] = [...(query[badQueryFields] ?? []), key ?? rawKey];
      continue;
    }
    const existing = query[key];
    query[key] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  return query;
}

const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** What is wrong with a piece of text for PostgreSQL, or undefined. */
function textProblem(text: string): string | undefined {
  if (text.includes('\0')) return 'contains a NUL character (\\u0000), which PostgreSQL cannot store';
  if (loneSurrogate.test(text)) return 'contains an unpaired UTF-16 surrogate (not valid Unicode)';
  return undefined;
}

/** A field name safe to print: control characters escaped, at most 100 characters. */
function printable(field: string): string {
  const escaped = JSON.stringify(field).slice(1, -1);
  return escaped.length > 100 ? `${escaped.slice(0, 100)}...` : escaped;
}

/**
 * Refuse (HttpError 400) the first string of a parsed request part, key or value, that PostgreSQL
 * cannot store, and a body nested deeper than maxBodyDepth. Iterative: a deep body cannot overflow the stack here.
 */
export function checkText(value: unknown, part: string): void {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value, path: '', depth: 0 }];
  while (stack.length > 0) {
    const { value: current, path, depth } = stack.pop()!;
    const field = path === '' ? part : path;
    if (typeof current === 'string') {
      const problem = textProblem(current);
      if (problem) throw new HttpError(400, 'invalid_input', `${printable(field)} ${problem}`, printable(field));
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (depth >= maxBodyDepth) {
      throw new HttpError(400, 'invalid_input', `the ${part} is nested deeper than ${maxBodyDepth} levels`, part);
    }
    for (const [key, item] of Object.entries(current)) {
      const problem = textProblem(key);
      if (problem) throw new HttpError(400, 'invalid_input', `a field name in ${printable(field)} ${problem}`, printable(field));
      stack.push({ value: item, path: path === '' ? key : `${path}.${key}`, depth: depth + 1 });
    }
  }
}

/** Refuse a query string with a key or value that did not decode (see parseQuery). */
export function checkQuery(query: unknown): void {
  const bad = (query as Query | undefined)?.[badQueryFields]?.[0];
  if (bad !== undefined) {
    throw new HttpError(
      400,
      'invalid_input',
      `${printable(bad)} in the query string is not valid percent-encoded UTF-8; encode the value as UTF-8, then percent-encode it`,
      printable(bad),
    );
  }
  checkText(query, 'query');
}

/** application/json; a charset parameter, when given, must be UTF-8 (JSON is UTF-8). */
function isJsonContentType(contentType: string): boolean {
  const [type, ...parameters] = contentType.split(';').map((s) => s.trim().toLowerCase());
  if (type !== 'application/json') return false;
  return parameters.every((p) => !p.startsWith('charset=') || /^charset="?utf-?8"?$/.test(p));
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A body as text: HttpError 415 unless it is JSON (by its Content-Type), 400 unless it is UTF-8. */
export function bodyText(contentType: string | undefined, body: Buffer): string {
  if (contentType === undefined || !isJsonContentType(contentType)) {
    const given = contentType ? `Content-Type ${printable(contentType)}` : 'a body without a Content-Type';
    throw new HttpError(415, 'unsupported_media_type', `${given} is not accepted; send JSON with Content-Type: application/json`);
  }
  try {
    return utf8.decode(body);
  } catch {
    throw new HttpError(400, 'invalid_json', 'the body is not valid UTF-8; send UTF-8 JSON', 'body');
  }
}

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createApiApp } from '../../src/api/app.js';
import type { HttpApp } from '../../src/http/app.js';
import { routesOf } from '../../src/http/routes.js';
import { builtInJobTypes } from '../../src/jobs/index.js';
import { createLogger } from '../../src/log.js';
import { useTestDatabase } from '../helpers/db.js';

/**
 * Random requests to every route (deterministic: a fixed seed, a fixed count), in process against a
 * real database: no answer is a 500 (or any 5xx: the database is up), every answer is JSON of the
 * documented shape, and nothing is logged as an error.
 */

const seed = 0x5eed_cafe;
const requests = 1500;
const token = 'fuzz-token-0123456789';

/** mulberry32: a small seeded generator, so a failure can be replayed. */
function generator(start: number) {
  let state = start >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  return { next, int, pick, chance: (p: number) => next() < p };
}
type Random = ReturnType<typeof generator>;

// Raw text for a path segment or a query value (already percent-encoded, or deliberately not).
const rawTexts = [
  '1',
  '2',
  '0',
  '-1',
  '1.5',
  '1e3',
  '999999999999999',
  '1234567890123456',
  '99999999999999999999',
  '9'.repeat(400),
  '',
  'abc',
  '%',
  '%2',
  '%zz',
  '%E0%A4%A',
  '%FF',
  '%C0%80',
  '%ED%A0%80',
  '%00',
  'a%00b',
  '%F0%9F%98%80',
  '%20',
  '+',
  '..',
  '%2F',
  'x'.repeat(150),
  'pending',
  'completed',
  'canary',
  "canary'--",
  '%27%3B%20DROP%20TABLE%20job_queue',
  'null',
  'true',
  '[]',
  '%7B%7D',
];
const queryKeys = ['status', 'type', 'limit', 'before', 'x', '', '%', '%E0', '%00', 'limit[]', '__proto__', 'constructor'];

// JSON values for body fields: valid ones, wrong types, NUL, lone surrogates, numbers out of every range.
const jsonValues: unknown[] = [
  null,
  true,
  0,
  1,
  -1,
  1.5,
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 53,
  1e300,
  -1e300,
  '',
  'canary',
  'default',
  'a\u0000b',
  '\u0000',
  '\ud800',
  'x\udc00',
  '😀',
  '2026-01-31T09:00:00Z',
  '0000-01-01T00:00:00Z',
  '9999-12-31T23:59:59Z',
  '2026-13-45T00:00:00Z',
  '2026-01-01T00:00:00+14:00',
  'k'.repeat(300),
  [],
  [1, 'a'],
  {},
  { sleep_ms: 1 },
  { sleep_ms: 1e300 },
  { fail_attempts: 2 ** 40 },
  { 'a\u0000': 1 },
  { nested: { deeper: ['\u0000'] } },
];
const bodyFields = ['type', 'payload', 'priority', 'run_at', 'delay_ms', 'max_attempts', 'queue', 'key', 'evil', '__proto__'];
const contentTypes = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'APPLICATION/JSON',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'garbage',
  '',
  undefined,
];
const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'] as const;
type Method = (typeof methods)[number];

interface FuzzRequest {
  method: Method;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
}

/** A job the API accepts, so the fuzz reaches the database as well. */
function validJob(r: Random): Record<string, unknown> {
  const valid: Record<string, () => unknown> = {
    payload: () => ({ sleep_ms: r.int(10) }),
    priority: () => r.int(11) - 5,
    delay_ms: () => r.int(1000),
    max_attempts: () => 1 + r.int(5),
    queue: () => 'default',
    key: () => `key-${r.int(5)}`,
  };
  const job: Record<string, unknown> = { type: 'canary' };
  for (const [field, value] of Object.entries(valid)) if (r.chance(0.3)) job[field] = value();
  return job;
}

function randomBody(r: Random): string | Buffer | undefined {
  switch (r.int(7)) {
    case 6:
      return JSON.stringify(validJob(r));
    case 0:
      return undefined;
    case 1:
      return r.pick([
        '',
        '{',
        '{"type": ',
        'null',
        '"x"',
        '[]',
        '[1,2]',
        '{"type":"canary"}{',
        '1e999',
        '{"type": "canary", "priority": 1e999}',
      ]);
    case 2:
      return Buffer.from([0x7b, 0x22, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, r.int(256), 0xff, 0x22, 0x7d]);
    case 3:
      return `{"payload": ${'['.repeat(r.int(300))}${']'.repeat(r.int(300))}}`;
    default: {
      const body = validJob(r);
      for (let n = 1 + r.int(3); n > 0; n--) body[r.pick(bodyFields)] = r.pick(jsonValues);
      return JSON.stringify(body);
    }
  }
}

function randomQuery(r: Random): string {
  const parts: string[] = [];
  for (let n = r.int(4); n > 0; n--) parts.push(`${r.pick(queryKeys)}=${r.pick(rawTexts)}`);
  if (r.chance(0.1)) parts.push(r.pick(rawTexts));
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

function randomRequest(r: Random, routes: ReadonlyArray<{ method: string; url: string }>): FuzzRequest {
  const route = r.pick(routes);
  const path = r.chance(0.1)
    ? `/${Array.from({ length: 1 + r.int(4) }, () => r.pick(['api', 'jobs', ...rawTexts])).join('/')}`
    : route.url.replace(/:\w+/g, () => r.pick(rawTexts));
  const method = r.chance(0.85) ? (route.method as Method) : r.pick(methods);
  const headers: Record<string, string> = {};
  if (r.chance(0.8)) headers.authorization = r.chance(0.9) ? `Bearer ${token}` : 'Bearer wrong';
  const contentType = r.chance(0.6) ? 'application/json' : r.pick(contentTypes);
  const payload = method === 'GET' || method === 'HEAD' ? undefined : randomBody(r);
  if (contentType !== undefined && (payload !== undefined || r.chance(0.3))) headers['content-type'] = contentType;
  return { method, url: `${path}${randomQuery(r)}`, headers, payload };
}

function describeRequest(request: FuzzRequest): string {
  const payload = request.payload === undefined ? '' : ` ${JSON.stringify(String(request.payload).slice(0, 200))}`;
  return `${request.method} ${request.url} ${JSON.stringify(request.headers)}${payload}`;
}

/** The documented error shape: exactly {"error": {"code", "message", "field"?}}, one line. */
function assertErrorShape(body: unknown, what: string): void {
  assert.ok(body !== null && typeof body === 'object', what);
  assert.deepEqual(Object.keys(body as object), ['error'], what);
  const error = (body as { error: Record<string, unknown> }).error;
  assert.deepEqual(
    Object.keys(error).filter((k) => !['code', 'message', 'field'].includes(k)),
    [],
    what,
  );
  assert.match(String(error.code), /^[a-z][a-z0-9_]*$/, what);
  assert.equal(typeof error.message, 'string', what);
  assert.match(error.message as string, /^[^\n]+$/, what);
  if ('field' in error) assert.equal(typeof error.field, 'string', what);
}

describe(`fuzz: ${requests} random requests over every route (seed ${seed})`, () => {
  const db = useTestDatabase();
  const lines: string[] = [];
  let app: HttpApp;

  before(async () => {
    app = createApiApp({
      pool: db.handle.pool,
      db: await db.handle.kysely(),
      registry: builtInJobTypes(),
      log: createLogger({ level: 'info', format: 'text', proc: 'api', write: (line) => lines.push(line) }),
      token,
      version: '0.0.0-test',
      serverVersion: db.handle.server.version,
    });
    await app.ready();
  });

  it('never answers 5xx, always JSON of the documented shape, and logs no error', async () => {
    const r = generator(seed);
    const routes = routesOf(app);
    const statuses = new Map<number, number>();
    try {
      for (let i = 0; i < requests; i++) {
        const request = randomRequest(r, routes);
        const what = `request ${i}: ${describeRequest(request)}`;
        const response = await app.inject(request);
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
        assert.ok(response.statusCode < 500, `${what} => ${response.statusCode} ${response.body}`);
        if (request.method === 'HEAD') continue;
        const type = String(response.headers['content-type']);
        if (response.statusCode === 200 && request.url.startsWith('/metrics')) {
          assert.match(type, /^text\/plain/, what);
          continue;
        }
        assert.match(type, /^application\/json/, `${what} => ${response.statusCode} ${type}`);
        const body = JSON.parse(response.body) as unknown;
        if (response.statusCode >= 400) assertErrorShape(body, `${what} => ${response.body}`);
        else assert.ok(body !== null && typeof body === 'object', what);
      }
    } finally {
      await app.close();
    }
    assert.deepEqual(lines, [], 'nothing logged at info or above');
    // The fuzz reaches past the checks too: some requests succeed, refusals of every kind occur.
    for (const status of [200, 201, 400, 401, 404, 405, 415]) assert.ok(statuses.has(status), `some ${status} in ${[...statuses]}`);
  });
});

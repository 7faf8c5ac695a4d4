import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createApiApp, maxBodyBytes } from '../../src/api/app.js';
import type { Database } from '../../src/db/types.js';
import type { HttpApp } from '../../src/http/app.js';
import { routesOf } from '../../src/http/routes.js';
import { builtInJobTypes } from '../../src/jobs/index.js';
import { createLogger } from '../../src/log.js';
import { createTestDatabase, openTestDatabase, sql, type TestDatabase } from '../helpers/db.js';

describe('HTTP API (in process, app.inject)', () => {
  let d: TestDatabase;
  let handle: Awaited<ReturnType<typeof openTestDatabase>>;
  let app: HttpApp;
  const token = `test-${randomBytes(12).toString('hex')}`;
  const lines: string[] = [];

  before(async () => {
    d = await createTestDatabase();
    handle = await openTestDatabase(d.url);
    app = createApiApp({
      pool: handle.pool,
      db: await handle.kysely(),
      registry: builtInJobTypes(),
      log: createLogger({ level: 'debug', format: 'text', proc: 'api', write: (line) => lines.push(line) }),
      token,
      version: '0.0.0-test',
      serverVersion: handle.server.version,
      jobRetentionMs: 7 * 86_400_000,
    });
    await app.ready();
  });
  after(async () => {
    await app?.close();
    await handle?.close();
    await d?.drop();
  });

  const get = (url: string) => app.inject({ method: 'GET', url });
  const post = (url: string, body?: unknown, options: { token?: string | null; raw?: string } = {}) => {
    const bearer = options.token === undefined ? token : options.token;
    return app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
      payload: options.raw ?? (body === undefined ? '' : JSON.stringify(body)),
    });
  };
  const enqueued = async (body: Record<string, unknown> = { type: 'canary' }) => {
    const response = await post('/api/jobs', body);
    assert.equal(response.statusCode, 201, response.body);
    return response.json().id as number;
  };
  const setStatus = (id: number, status: string) =>
    sql(
      d.url,
      `UPDATE job_queue SET status = $2, locked_by = NULL, lease_expires_at = NULL,
              finished_at = CASE WHEN $2 IN ('completed', 'failed', 'cancelled') THEN now() END WHERE id = $1`,
      [id, status],
    );
  const jobCount = async () => Number((await sql(d.url, 'SELECT count(*) AS n FROM job_queue'))[0]!.n);
  const assertError = (response: { statusCode: number; json(): unknown }, status: number, code: string, field?: string) => {
    const body = response.json() as { error: { code: string; message: string; field?: string } };
    assert.equal(response.statusCode, status, JSON.stringify(body));
    assert.equal(body.error.code, code);
    assert.match(body.error.message, /\S/);
    assert.doesNotMatch(body.error.message, /\n/, 'one line');
    assert.equal(body.error.field, field);
    return body.error;
  };

  describe('happy paths', () => {
    it('GET /health answers the database, workers and queue', async () => {
      const response = await get('/health');
      assert.equal(response.statusCode, 200);
      const health = response.json();
      assert.equal(health.status, 'ok');
      assert.equal(health.version, '0.0.0-test');
      assert.ok(health.database.round_trip_ms >= 0);
      assert.equal(health.database.server, handle.server.version);
      assert.ok(Array.isArray(health.workers));
      assert.deepEqual(Object.keys(health.queue).sort(), ['failed', 'in_progress', 'pending', 'runnable']);
    });

    it('GET /ready is 200 on a migrated database', async () => {
      const response = await get('/ready');
      assert.equal(response.statusCode, 200);
      assert.deepEqual(response.json(), { ready: true });
    });

    it('GET /metrics answers Prometheus text', async () => {
      const response = await get('/metrics');
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers['content-type']), /^text\/plain/);
      assert.match(response.body, /# TYPE cesar_jobs gauge/);
      assert.match(response.body, /cesar_workers_live 0/);
    });

    it('GET /api/status answers the status', async () => {
      const response = await get('/api/status');
      assert.equal(response.statusCode, 200);
      assert.equal(typeof response.json(), 'object');
    });

    it('POST /api/jobs enqueues (201), and a live dedupe key answers the same job (200)', async () => {
      const first = await post('/api/jobs', { type: 'canary', payload: { sleep_ms: 5 }, priority: 3, key: 'api-test', queue: 'default' });
      assert.equal(first.statusCode, 201, first.body);
      const created = first.json();
      assert.equal(created.deduplicated, false);
      assert.equal(created.type, 'canary');
      assert.equal(created.queue, 'default');
      assert.ok(!Number.isNaN(Date.parse(created.run_at)));
      const again = await post('/api/jobs', { type: 'canary', key: 'api-test' });
      assert.equal(again.statusCode, 200);
      assert.deepEqual([again.json().id, again.json().deduplicated], [created.id, true]);
      const delayed = await post('/api/jobs', { type: 'canary', delay_ms: 60_000, max_attempts: 2, run_at: null });
      assert.equal(delayed.statusCode, 201, delayed.body);
      assert.ok(Date.parse(delayed.json().run_at) > Date.now() + 30_000);
    });

    it('GET /api/jobs lists newest first, filtered and paged', async () => {
      const a = await enqueued({ type: 'canary' });
      const b = await enqueued({ type: 'canary' });
      const listed = await get('/api/jobs?type=canary&status=pending&limit=2');
      assert.equal(listed.statusCode, 200);
      const jobs = listed.json().jobs as Array<{ id: number; status: string }>;
      assert.deepEqual(
        jobs.map((j) => j.id),
        [b, a],
      );
      const page = await get(`/api/jobs?before=${b}&limit=1`);
      assert.deepEqual(
        page.json().jobs.map((j: { id: number }) => j.id),
        [a],
      );
    });

    it('GET /api/jobs/:id answers the job with its attempts', async () => {
      const id = await enqueued({ type: 'canary', payload: { fail_attempts: 1 } });
      const response = await get(`/api/jobs/${id}`);
      assert.equal(response.statusCode, 200);
      const job = response.json();
      assert.equal(job.id, id);
      assert.deepEqual(job.payload, { fail_attempts: 1 });
      assert.deepEqual(job.attempts, []);
    });

    it('POST /api/jobs/:id/cancel and /retry answer the job after the change', async () => {
      const id = await enqueued();
      const cancelled = await post(`/api/jobs/${id}/cancel`);
      assert.equal(cancelled.statusCode, 200, cancelled.body);
      assert.equal(cancelled.json().status, 'cancelled');
      const retried = await post(`/api/jobs/${id}/retry`, {});
      assert.equal(retried.statusCode, 200, retried.body);
      assert.equal(retried.json().status, 'pending');
    });
  });

  describe('refusals', () => {
    it('400 naming the field: job id, limit, status, before', async () => {
      assertError(await get('/api/jobs/abc'), 400, 'invalid_input', 'id');
      assertError(await get('/api/jobs/0'), 400, 'invalid_input', 'id');
      assertError(await get('/api/jobs/1234567890123456'), 400, 'invalid_input', 'id');
      assertError(await post('/api/jobs/-1/retry'), 400, 'invalid_input', 'id');
      assertError(await get('/api/jobs?limit=0'), 400, 'invalid_input', 'limit');
      assertError(await get('/api/jobs?limit=1001'), 400, 'invalid_input', 'limit');
      assertError(await get('/api/jobs?limit=ten'), 400, 'invalid_input', 'limit');
      assertError(await get('/api/jobs?before=-5'), 400, 'invalid_input', 'before');
      const status = assertError(await get('/api/jobs?status=nope'), 400, 'invalid_input', 'status');
      assert.match(status.message, /^status must be one of pending, in_progress, completed, failed, cancelled/);
    });

    it('400 naming the field of a bad body, and nothing is enqueued', async () => {
      const before = await jobCount();
      const cases: Array<[unknown, string]> = [
        [{}, 'type'],
        [{ type: 42 }, 'type'],
        [{ type: 'nope' }, 'type'],
        [{ type: "canary'; DROP TABLE job_queue; --" }, 'type'],
        [{ type: 'canary', priority: 'high' }, 'priority'],
        [{ type: 'canary', priority: 1.5 }, 'priority'],
        [{ type: 'canary', run_at: 'tomorrow' }, 'run_at'],
        [{ type: 'canary', run_at: '2026-13-45T00:00:00Z' }, 'run_at'],
        [{ type: 'canary', run_at: '2030-01-01T00:00:00Z', delay_ms: 5 }, 'run_at'],
        [{ type: 'canary', max_attempts: 0 }, 'max_attempts'],
        [{ type: 'canary', queue: 7 }, 'queue'],
        [{ type: 'canary', key: '' }, 'key'],
        [{ type: 'canary', evil: "'; DROP TABLE job_queue; --" }, 'evil'],
        [{ type: 'canary', payload: { sleep_ms: -5 } }, 'payload.sleep_ms'],
        [{ type: 'canary', payload: { nope: 1 } }, 'payload.nope'],
        [{ type: 'canary', payload: [1] }, 'payload'],
        [[1, 2], 'body'],
      ];
      for (const [body, field] of cases) {
        assertError(await post('/api/jobs', body), 400, 'invalid_input', field);
      }
      const unknown = assertError(await post('/api/jobs', { type: 'canary', evil: 1 }), 400, 'invalid_input', 'evil');
      assert.match(unknown.message, /unknown field "evil"; allowed: type, payload, priority/);
      assert.equal(await jobCount(), before, 'nothing enqueued');
    });

    it('400 invalid_json for a body that is not JSON, or empty', async () => {
      assertError(await post('/api/jobs', undefined, { raw: '{"type": "canary",' }), 400, 'invalid_json');
      assertError(await post('/api/jobs', undefined, { raw: '' }), 400, 'invalid_json');
      const noBody = await app.inject({ method: 'POST', url: '/api/jobs', headers: { authorization: `Bearer ${token}` } });
      assertError(noBody, 400, 'invalid_json');
      const notUtf8 = Buffer.concat([Buffer.from('{"type": "'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
      assertError(await post('/api/jobs', undefined, { raw: notUtf8 as unknown as string }), 400, 'invalid_json', 'body');
    });

    it('415 for a body that is not JSON; application/json with a UTF-8 charset is JSON; body-less POSTs work', async () => {
      const before = await jobCount();
      const send = (url: string, contentType: string | undefined, payload?: string) =>
        app.inject({
          method: 'POST',
          url,
          headers: { authorization: `Bearer ${token}`, ...(contentType === undefined ? {} : { 'content-type': contentType }) },
          ...(payload === undefined ? {} : { payload }),
        });
      const job = JSON.stringify({ type: 'canary' });
      for (const contentType of [
        'text/plain',
        'application/x-www-form-urlencoded',
        'application/json; charset=latin1',
        'application/jsonx',
      ]) {
        assertError(await send('/api/jobs', contentType, job), 415, 'unsupported_media_type');
      }
      assertError(await send('/api/jobs', 'garbage', job), 415, 'unsupported_media_type');
      assertError(await send('/api/jobs/1/retry', 'text/plain', 'retry please'), 415, 'unsupported_media_type');
      assert.equal(await jobCount(), before, 'nothing enqueued');
      for (const contentType of ['application/json; charset=utf-8', 'Application/JSON; Charset="UTF-8"']) {
        assert.equal((await send('/api/jobs', contentType, job)).statusCode, 201, contentType);
      }
      const id = await enqueued();
      await setStatus(id, 'failed');
      for (const contentType of [undefined, 'application/json', 'text/plain']) {
        const retried = await send(`/api/jobs/${id}/retry`, contentType);
        assert.equal(retried.statusCode, 200, `${contentType}: ${retried.body}`);
        await setStatus(id, 'failed');
      }
    });

    it('400 naming the field for bad encodings, NUL characters and numbers out of range, before the database', async () => {
      const lines0 = lines.length;
      const cases: Array<[string, string, unknown, string]> = [
        ['GET', '/api/jobs/%', undefined, 'path'],
        ['GET', '/api/jobs/%E0%A4%A', undefined, 'path'],
        ['POST', '/api/jobs/%/retry', undefined, 'path'],
        ['POST', '/api/jobs/%E0/cancel', undefined, 'path'],
        ['GET', '/api/jobs/%00', undefined, 'id'],
        ['GET', '/api/jobs?before=99999999999999999999', undefined, 'before'],
        ['GET', '/api/jobs?limit=99999999999999999999', undefined, 'limit'],
        ['GET', '/api/jobs?type=%00', undefined, 'type'],
        ['GET', '/api/jobs?type=can%00ary', undefined, 'type'],
        ['GET', '/api/jobs?type=%E0%A4%A', undefined, 'type'],
        ['GET', '/api/jobs?status=%', undefined, 'status'],
        ['GET', '/health?x=%FF', undefined, 'x'],
        ['POST', '/api/jobs', { type: 'canary\u0000' }, 'type'],
        ['POST', '/api/jobs', { type: 'canary', key: 'a\u0000' }, 'key'],
        ['POST', '/api/jobs', { type: 'canary', key: '\ud800' }, 'key'],
        ['POST', '/api/jobs', { type: 'canary', queue: 'q\u0000' }, 'queue'],
        ['POST', '/api/jobs', { type: 'canary', run_at: '2026-01-01T00:00:00Z\u0000' }, 'run_at'],
        ['POST', '/api/jobs', { type: 'canary', payload: { note: 'a\u0000' } }, 'payload.note'],
        ['POST', '/api/jobs', { type: 'canary', payload: { 'a\u0000': 1 } }, 'payload'],
        ['POST', '/api/jobs', { type: 'canary', priority: 2_147_483_648 }, 'priority'],
        ['POST', '/api/jobs', { type: 'canary', priority: -2_147_483_649 }, 'priority'],
        ['POST', '/api/jobs', { type: 'canary', priority: 1e300 }, 'priority'],
        ['POST', '/api/jobs', { type: 'canary', delay_ms: 1e300 }, 'delay_ms'],
        ['POST', '/api/jobs', { type: 'canary', delay_ms: -1 }, 'delay_ms'],
        ['POST', '/api/jobs', { type: 'canary', max_attempts: 2 ** 40 }, 'max_attempts'],
        ['POST', '/api/jobs', { type: 'canary', payload: { sleep_ms: 2 ** 40 } }, 'payload.sleep_ms'],
      ];
      const before = await jobCount();
      for (const [method, url, body, field] of cases) {
        const response = method === 'GET' ? await get(url) : await post(url, body);
        assertError(response, 400, 'invalid_input', field);
      }
      const deep = `{"type": "canary", "payload": ${'['.repeat(5000)}${']'.repeat(5000)}}`;
      assertError(await post('/api/jobs', undefined, { raw: deep }), 400, 'invalid_input', 'body');
      assert.equal(await jobCount(), before, 'nothing enqueued');
      assert.deepEqual(
        lines.slice(lines0).filter((line) => !line.startsWith('DEBUG: ')),
        [],
        'nothing logged above debug',
      );
    });

    it('401 without the token or with a wrong one, before the body is read', async () => {
      const before = await jobCount();
      assertError(await post('/api/jobs', { type: 'canary' }, { token: null }), 401, 'unauthorized');
      assertError(await post('/api/jobs', { type: 'canary' }, { token: 'wrong-token' }), 401, 'unauthorized');
      assertError(await post('/api/jobs', { type: 'canary' }, { token: `${token}x` }), 401, 'unauthorized');
      assertError(await post('/api/jobs', undefined, { token: null, raw: '{not json' }), 401, 'unauthorized');
      assertError(await post('/api/jobs/1/retry', undefined, { token: null }), 401, 'unauthorized');
      assertError(await post('/api/jobs/1/cancel', undefined, { token: 'nope' }), 401, 'unauthorized');
      const basic = await app.inject({ method: 'POST', url: '/api/jobs', headers: { authorization: `Basic ${token}` }, payload: {} });
      assertError(basic, 401, 'unauthorized');
      assert.equal(await jobCount(), before);
    });

    it('404 for an unknown route or job', async () => {
      assertError(await get('/nowhere'), 404, 'not_found');
      assertError(await get('/api/jobs/999999999'), 404, 'not_found');
      assertError(await post('/api/jobs/999999999/retry'), 404, 'not_found');
      assertError(await post('/api/jobs/999999999/cancel'), 404, 'not_found');
    });

    it('405 with Allow when the path exists for other methods', async () => {
      const cases: Array<[string, string, string]> = [
        ['DELETE', '/api/jobs', 'GET, POST'],
        ['PUT', '/api/jobs/1', 'GET'],
        ['GET', '/api/jobs/1/retry', 'POST'],
        ['POST', '/health', 'GET'],
        ['HEAD', '/health', 'GET'],
      ];
      for (const [method, url, allow] of cases) {
        const response = await app.inject({ method: method as 'GET', url });
        assert.equal(response.statusCode, 405, `${method} ${url}`);
        assert.equal(response.headers.allow, allow);
        if (method !== 'HEAD') assertError(response, 405, 'method_not_allowed');
      }
    });

    it('409 for a change the job state does not allow', async () => {
      const id = await enqueued();
      await setStatus(id, 'completed');
      const error = assertError(await post(`/api/jobs/${id}/retry`), 409, 'invalid_state');
      assert.match(error.message, new RegExp(`job ${id} is completed`));
      assertError(await post(`/api/jobs/${id}/cancel`), 409, 'invalid_state');
    });

    it('413 for a body over the limit, declared or not', async () => {
      const before = await jobCount();
      const big = { type: 'canary', payload: { pad: 'x'.repeat(maxBodyBytes) } };
      const error = assertError(await post('/api/jobs', big), 413, 'body_too_large');
      assert.match(error.message, /80 KiB/);
      const chunked = await app.inject({
        method: 'POST',
        url: '/api/jobs',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        payload: JSON.stringify(big),
      });
      assertError(chunked, 413, 'body_too_large');
      assert.equal(await jobCount(), before);
    });

    it('never logs the token; one debug line per request', async () => {
      await post('/api/jobs', { type: 'canary' });
      await post('/api/jobs', { type: 'canary' }, { token: 'wrong-token' });
      assert.ok(lines.length > 0);
      assert.ok(
        lines.some((line) => /^DEBUG: POST \/api\/jobs 201 [\d.]+ ms$/.test(line)),
        lines.slice(-5).join('\n'),
      );
      assert.ok(lines.some((line) => /^DEBUG: GET \/api\/jobs\/abc 400 [\d.]+ ms$/.test(line)));
      assert.deepEqual(
        lines.filter((line) => line.includes(token)),
        [],
      );
    });
  });

  describe('cron and dates (hardening)', () => {
    it('unique_for: the key holds after its job finished, and a concurrent twin gets the same job', async () => {
      const first = await post('/api/jobs', { type: 'canary', key: 'api-min-1200', unique_for: '1m' });
      assert.equal(first.statusCode, 201, first.body);
      const id = first.json().id as number;
      await setStatus(id, 'completed');
      const again = await post('/api/jobs', { type: 'canary', key: 'api-min-1200', unique_for: '1m' });
      assert.equal(again.statusCode, 200, again.body);
      assert.deepEqual([again.json().id, again.json().deduplicated, again.json().status], [id, true, 'completed']);
      const withoutWindow = await post('/api/jobs', { type: 'canary', key: 'api-min-1200' });
      assert.equal(withoutWindow.statusCode, 201, 'without unique_for the key holds only while pending or running');
    });

    it('refuses unique_for without a key, past the retention, or not a duration, and impossible run_at dates, naming the field', async () => {
      const cases: Array<[Record<string, unknown>, string, RegExp]> = [
        [{ type: 'canary', unique_for: '1m' }, 'unique_for', /needs a dedupe key/],
        [{ type: 'canary', key: 'k', unique_for: '30d' }, 'unique_for', /longer than the job retention/],
        [{ type: 'canary', key: 'k', unique_for: 'soon' }, 'unique_for', /must be a duration/],
        [{ type: 'canary', run_at: '2026-02-30T00:00:00Z' }, 'run_at', /with a real date and time/],
        [{ type: 'canary', run_at: '2027-02-29T09:00:00Z' }, 'run_at', /with a real date and time/],
      ];
      for (const [body, field, message] of cases) {
        const response = await post('/api/jobs', body);
        assert.equal(response.statusCode, 400, JSON.stringify(body));
        assert.equal(response.json().error.field, field, JSON.stringify(body));
        assert.match(response.json().error.message, message);
      }
      const leap = await post('/api/jobs', { type: 'canary', run_at: '2028-02-29T12:00:00Z' });
      assert.equal(leap.statusCode, 201, leap.body);
      assert.equal(leap.json().run_at, '2028-02-29T12:00:00.000Z');
    });
  });

  describe('GET /openapi.json', () => {
    interface Operation {
      operationId: string;
      summary?: string;
      parameters?: Array<{ name: string; in: string; required: boolean; schema: Record<string, unknown> }>;
      requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
      responses: Record<string, { description: string }>;
      security?: unknown[];
    }
    let doc: {
      openapi: string;
      info: { title: string; version: string };
      paths: Record<string, Record<string, Operation>>;
      components: { schemas: Record<string, Record<string, unknown>>; securitySchemes: Record<string, unknown> };
    };
    const operations = () =>
      Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
    const toOpenApi = (url: string) => url.replace(/:(\w+)/g, '{$1}');

    before(async () => {
      const response = await get('/openapi.json');
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers['content-type']), /^application\/json/);
      doc = response.json();
    });

    it('is an OpenAPI 3.1 document', () => {
      assert.equal(doc.openapi, '3.1.0');
      assert.equal(doc.info.title, 'cesar API');
      assert.equal(doc.info.version, '0.0.0-test');
      assert.deepEqual(doc.components.securitySchemes.bearer, {
        type: 'http',
        scheme: 'bearer',
        description: 'CESAR_API_TOKEN, or the api-token file in CESAR_HOME',
      });
      for (const { path, op } of operations()) {
        assert.match(path, /^\//);
        for (const [, name] of path.matchAll(/\{(\w+)\}/g)) {
          assert.ok(
            op.parameters?.some((p) => p.in === 'path' && p.name === name && p.required),
            `${path}: path parameter ${name}`,
          );
        }
        for (const [status, response] of Object.entries(op.responses)) {
          assert.match(status, /^[1-5]\d\d$/);
          assert.match(response.description, /\S/);
        }
      }
      const ids = operations().map(({ op }) => op.operationId);
      assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
      // Every $ref points at a component that exists.
      for (const [, name] of JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) {
        assert.ok(doc.components.schemas[name!], `component ${name}`);
      }
    });

    it('documents every registered route, itself included, and nothing else', () => {
      const documented = operations()
        .map(({ path, method }) => `${method.toUpperCase()} ${path}`)
        .sort();
      const registered = routesOf(app)
        .map((r) => `${r.method} ${toOpenApi(r.url)}`)
        .sort();
      assert.deepEqual(documented, registered);
      assert.ok(documented.includes('GET /openapi.json'));
      // Fastify's own view of the routes, independent of the onRoute collection.
      const printed = app.printRoutes({ commonPrefix: false });
      const methods = [...printed.matchAll(/\(([A-Z, ]+)\)/g)].flatMap((m) => m[1]!.split(', '));
      assert.equal(methods.length, documented.length, printed);
      for (const { path, method } of operations()) {
        assert.ok(app.hasRoute({ method: method.toUpperCase() as 'GET', url: path.replace(/\{(\w+)\}/g, ':$1') }), `${method} ${path}`);
      }
      for (const { path, method, op } of operations()) {
        assert.match(op.summary ?? '', /\S/, `${method.toUpperCase()} ${path} has a summary`);
        const success = Object.keys(op.responses).filter((s) => s < '400');
        assert.ok(success.length > 0, `${method.toUpperCase()} ${path} documents its success answer`);
      }
    });

    it('marks mutations with the bearer token and their 401', () => {
      for (const { path, method, op } of operations()) {
        const mutation = method === 'post';
        assert.equal(op.security !== undefined, mutation, `${method} ${path}`);
        assert.equal('401' in op.responses, mutation, `${method} ${path}`);
      }
    });

    it('describes the parameters from the route schemas', () => {
      const list = doc.paths['/api/jobs']!.get!;
      assert.deepEqual(list.parameters!.map((p) => [p.name, p.in, p.required]).sort(), [
        ['before', 'query', false],
        ['limit', 'query', false],
        ['status', 'query', false],
        ['type', 'query', false],
      ]);
      const limit = list.parameters!.find((p) => p.name === 'limit')!;
      assert.deepEqual(limit.schema, { type: 'integer', minimum: 1, maximum: 1000 });
      const id = doc.paths['/api/jobs/{id}']!.get!.parameters![0]!;
      assert.equal(id.schema.type, 'integer');
      assert.ok(doc.paths['/api/jobs/{id}/retry']!.post!.responses['409']);
    });

    it("describes POST /api/jobs's payload per job type, from the registry", () => {
      const body = doc.paths['/api/jobs']!.post!.requestBody!.content['application/json']!.schema as {
        oneOf: Array<{ $ref: string }>;
        discriminator: { propertyName: string; mapping: Record<string, string> };
      };
      const types = builtInJobTypes().names();
      assert.equal(body.discriminator.propertyName, 'type');
      assert.deepEqual(Object.keys(body.discriminator.mapping).sort(), types);
      assert.equal(body.oneOf.length, types.length);
      const canary = doc.components.schemas[body.discriminator.mapping.canary!.split('/').pop()!] as {
        properties: Record<string, { const?: string; properties?: Record<string, unknown> }>;
        required: string[];
        additionalProperties: boolean;
      };
      assert.equal(canary.properties.type!.const, 'canary');
      assert.deepEqual(Object.keys(canary.properties.payload!.properties!).sort(), ['fail_attempts', 'sleep_ms']);
      assert.deepEqual(canary.properties.payload!.properties!.sleep_ms, { type: 'integer', minimum: 0, maximum: 600000 });
      assert.deepEqual(canary.required, ['type']);
      assert.equal(canary.additionalProperties, false);
    });
  });
});

describe('HTTP API without a database', () => {
  it('answers 503 database_unavailable, and /health and /ready say why', async () => {
    const { createPool } = await import('../../src/db/connect.js');
    const pool = createPool('postgres://cesar:secret-pw@127.0.0.1:1/cesar', { poolMax: 1, connectTimeoutSeconds: 2 }, 'cesar-test');
    const { Kysely, PostgresDialect } = await import('kysely');
    const app = createApiApp({
      pool,
      db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }),
      registry: builtInJobTypes(),
      log: createLogger({ level: 'error', format: 'text', proc: 'api', write: () => {} }),
      token: 'token-123',
      version: '0.0.0-test',
      serverVersion: 'none',
    });
    try {
      for (const url of ['/api/jobs', '/api/jobs/1', '/api/status']) {
        const response = await app.inject({ url });
        assert.equal(response.statusCode, 503, `${url}: ${response.body}`);
        assert.equal(response.json().error.code, 'database_unavailable');
      }
      const health = await app.inject({ url: '/health' });
      assert.equal(health.statusCode, 503);
      assert.equal(health.json().status, 'unavailable');
      assert.doesNotMatch(health.body, /secret-pw/);
      assert.equal((await app.inject({ url: '/ready' })).statusCode, 503);
    } finally {
      await app.close();
      await pool.end();
    }
  });
});

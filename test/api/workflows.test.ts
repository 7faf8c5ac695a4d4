import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createApiApp } from '../../src/api/app.js';
import type { HttpApp } from '../../src/http/app.js';
import { builtInJobTypes } from '../../src/jobs/index.js';
import { silentLogger } from '../../src/log.js';
import { builtInStepHandlers } from '../../src/steps/index.js';
import { applyTemplates, parseTemplates } from '../../src/workflows/admin.js';
import { sql, useTestDatabase } from '../helpers/db.js';
import { runWorkerUntil } from '../helpers/queue.js';

interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

describe('HTTP API: workflows and executions (in process, app.inject)', () => {
  const t = useTestDatabase();
  const token = `test-${randomBytes(12).toString('hex')}`;
  let app: HttpApp;

  before(async () => {
    app = createApiApp({
      pool: t.handle.pool,
      db: await t.handle.kysely(),
      registry: builtInJobTypes(),
      log: silentLogger,
      token,
      version: '0.0.0-test',
      serverVersion: t.handle.server.version,
    });
    await app.ready();
  });
  after(async () => {
    await app?.close();
  });

  const get = (url: string) => app.inject({ method: 'GET', url });
  const post = (url: string, body?: unknown, options: { token?: string | null; raw?: string; contentType?: string | null } = {}) => {
    const bearer = options.token === undefined ? token : options.token;
    const contentType = options.contentType === undefined ? 'application/json' : options.contentType;
    const payload = options.raw ?? (body === undefined ? undefined : JSON.stringify(body));
    return app.inject({
      method: 'POST',
      url,
      headers: { ...(contentType ? { 'content-type': contentType } : {}), ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
      ...(payload === undefined ? {} : { payload }),
    });
  };
  const assertError = (response: { statusCode: number; json(): unknown }, status: number, code: string, field?: string) => {
    const body = response.json() as ErrorBody;
    assert.equal(response.statusCode, status, JSON.stringify(body));
    assert.equal(body.error.code, code);
    assert.match(body.error.message, /\S/);
    assert.doesNotMatch(body.error.message, /\n/, 'one line');
    assert.equal(body.error.field, field);
    return body.error;
  };
  const count = async (table: 'workflow_executions' | 'agents' | 'job_queue') =>
    Number((await sql(t.url, `SELECT count(*) AS n FROM ${table}`))[0]!.n);
  const executionStatus = async (id: number) =>
    (await sql(t.url, 'SELECT status FROM workflow_executions WHERE id = $1', [id]))[0]?.status as string | undefined;
  /** "step (handler h)" for every step of a template whose handler cesar does not have (the column is `action` in the schema). */
  const missingOf = async (template: string) => {
    const handlers = new Set(builtInStepHandlers().names());
    const rows = await sql<{ name: string; handler: string }>(
      t.url,
      `SELECT s.name, coalesce(to_jsonb(s) ->> 'action', to_jsonb(s) ->> 'handler') AS handler FROM workflow_steps s JOIN workflow_templates w ON w.id = s.template_id
        WHERE w.name = $1 ORDER BY s.step_order`,
      [template],
    );
    return rows.filter((s) => !handlers.has(s.handler)).map((s) => `${s.name} (handler ${s.handler})`);
  };
  /** A template whose second step has no handler in this cesar. */
  const applyHalf = async () => {
    const steps = builtInStepHandlers();
    const doc = {
      name: 'api_half',
      cron: '0 0 1 1 *',
      steps: [
        { name: 'first', agent_type: 'monitor', handler: 'canary' },
        { name: 'later', agent_type: 'monitor', handler: 'not_built' },
      ],
    };
    await applyTemplates(t.handle.pool, steps, parseTemplates(doc, steps));
  };
  const applyCanary = async () => {
    const steps = builtInStepHandlers();
    const doc = {
      name: 'api_canary',
      cron: '0 0 1 1 *',
      steps: [
        { name: 'first', agent_type: 'monitor', handler: 'canary' },
        { name: 'second', agent_type: 'monitor', handler: 'canary', config: { sleep_ms: 5 } },
        { name: 'third', agent_type: 'monitor', handler: 'canary' },
      ],
    };
    await applyTemplates(t.handle.pool, steps, parseTemplates(doc, steps));
  };

  describe('reads', () => {
    it('GET /api/workflows lists the 5 reference templates, each runnable exactly when every step has a handler', async () => {
      const response = await get('/api/workflows');
      assert.equal(response.statusCode, 200, response.body);
      const body = response.json() as {
        schedulers_live: number;
        templates: Array<{ name: string; runnable: boolean; missing_steps: string[]; steps: string[] }>;
      };
      assert.equal(body.schedulers_live, 0, 'no scheduler runs in this test');
      const names = (await sql<{ name: string }>(t.url, 'SELECT name FROM workflow_templates ORDER BY id')).map((r) => r.name);
      assert.equal(names.length, 5);
      assert.deepEqual(
        body.templates.map((x) => x.name),
        names,
      );
      // Each runnable exactly when every one of its steps has a handler here.
      for (const template of body.templates) {
        const missing = await missingOf(template.name);
        assert.equal(template.runnable, missing.length === 0, template.name);
        assert.deepEqual(template.missing_steps, missing, template.name);
      }
    });

    it('GET /api/workflows/:name answers one template with its history; 404 for an unknown one', async () => {
      await applyHalf();
      const response = await get('/api/workflows/api_half');
      assert.equal(response.statusCode, 200, response.body);
      const template = response.json();
      assert.equal(template.name, 'api_half');
      assert.equal(template.runnable, false);
      assert.deepEqual(template.missing_steps, ['later (handler not_built)']);
      assert.deepEqual(template.history, [], 'it never fired');
      const missing = assertError(await get('/api/workflows/no_such_template'), 404, 'not_found');
      assert.match(missing.message, /no workflow template "no_such_template"/);
      assertError(await get('/api/workflows/no_such_template/history'), 404, 'not_found');
    });

    it('GET /api/executions/:id is 404 for an execution that does not exist', async () => {
      const error = assertError(await get('/api/executions/999999999'), 404, 'not_found');
      assert.match(error.message, /no workflow execution 999999999/);
      assertError(await post('/api/executions/999999999/retry'), 404, 'not_found');
      assertError(await post('/api/executions/999999999/cancel'), 404, 'not_found');
    });
  });

  describe('a canary workflow, end to end', () => {
    let executionId: number;

    before(applyCanary);

    it('is listed as runnable once applied', async () => {
      const template = (await get('/api/workflows/api_canary')).json();
      assert.deepEqual([template.runnable, template.missing_steps, template.steps], [true, [], ['first', 'second', 'third']]);
    });

    it('POST /api/workflows/:name/run without the token is 401 and creates nothing; with it 201', async () => {
      const before = await count('workflow_executions');
      assertError(await post('/api/workflows/api_canary/run', {}, { token: null }), 401, 'unauthorized');
      assertError(await post('/api/workflows/api_canary/run', {}, { token: 'wrong-token' }), 401, 'unauthorized');
      assert.equal(await count('workflow_executions'), before, 'nothing created');
      const response = await post('/api/workflows/api_canary/run', { input: { hello: 'api' } });
      assert.equal(response.statusCode, 201, response.body);
      executionId = response.json().execution_id;
      assert.ok(Number.isInteger(executionId) && executionId > 0, response.body);
      assert.deepEqual(Object.keys(response.json()), ['execution_id']);
      assert.equal(await count('workflow_executions'), before + 1);
      assert.equal(await executionStatus(executionId), 'pending');
    });

    it('a worker runs it; GET /api/executions/:id shows 3 succeeded steps, each with its agent and duration', async () => {
      await runWorkerUntil(
        t.url,
        builtInJobTypes(),
        'the execution to succeed',
        async () => (await executionStatus(executionId)) === 'succeeded',
      );
      const response = await get(`/api/executions/${executionId}`);
      assert.equal(response.statusCode, 200, response.body);
      const execution = response.json();
      assert.equal(execution.id, executionId);
      assert.equal(execution.template, 'api_canary');
      assert.equal(execution.trigger, 'manual');
      assert.equal(execution.status, 'succeeded');
      assert.deepEqual(execution.input, { hello: 'api' });
      assert.deepEqual(
        execution.steps.map((s: { order: number; name: string; status: string }) => [s.order, s.name, s.status]),
        [
          [1, 'first', 'succeeded'],
          [2, 'second', 'succeeded'],
          [3, 'third', 'succeeded'],
        ],
      );
      const agents = await sql<{ name: string }>(t.url, `SELECT name FROM agents WHERE agent_type = 'monitor'`);
      for (const step of execution.steps as Array<{ agent: string | null; agent_type: string; duration_ms: number | null; name: string }>) {
        assert.equal(step.agent_type, 'monitor', step.name);
        assert.ok(step.agent !== null && agents.some((a) => a.name === step.agent), `${step.name}: agent ${step.agent} is a monitor`);
        assert.equal(typeof step.duration_ms, 'number', step.name);
        assert.ok(step.duration_ms! >= 0, step.name);
      }
    });

    it('lists it in GET /api/executions (filtered) and in the template history', async () => {
      const listed = await get('/api/executions?template=api_canary&status=succeeded&limit=5');
      assert.equal(listed.statusCode, 200, listed.body);
      assert.deepEqual(
        listed.json().executions.map((e: { id: number }) => e.id),
        [executionId],
      );
      const none = await get('/api/executions?template=api_canary&status=failed');
      assert.deepEqual(none.json(), { executions: [] });
      const history = await get('/api/workflows/api_canary/history?limit=5');
      assert.equal(history.statusCode, 200, history.body);
      assert.deepEqual(
        history.json().history.map((h: { fate: string; execution: { id: number } | null }) => [h.fate, h.execution?.id]),
        [['manual', executionId]],
      );
      const detail = (await get('/api/workflows/api_canary')).json();
      assert.equal(detail.last_execution_id, executionId);
      assert.equal(detail.history.length, 1);
    });

    it('409 for a retry without from_step or a cancel of a finished execution, and nothing changes', async () => {
      const jobs = await count('job_queue');
      const retry = assertError(await post(`/api/executions/${executionId}/retry`), 409, 'invalid_state');
      assert.match(retry.message, new RegExp(`execution ${executionId} is succeeded`));
      const cancel = assertError(await post(`/api/executions/${executionId}/cancel`), 409, 'invalid_state');
      assert.match(cancel.message, new RegExp(`execution ${executionId} is succeeded`));
      assert.equal(await executionStatus(executionId), 'succeeded');
      assert.equal(await count('job_queue'), jobs, 'no step job enqueued');
    });

    it('400 naming from_step for a step the execution does not have, and nothing changes', async () => {
      const jobs = await count('job_queue');
      const refused = await post(`/api/executions/${executionId}/retry`, { from_step: 'fourth' });
      assert.equal(refused.statusCode, 400, refused.body);
      assert.equal(refused.json().error.field, 'from_step');
      assert.match(refused.json().error.message, /has no step "fourth"; its steps: first, second, third/);
      assert.equal(await executionStatus(executionId), 'succeeded');
      assert.equal(await count('job_queue'), jobs);
    });

    it('POST retry with from_step reruns a succeeded execution from that step (200)', async () => {
      const response = await post(`/api/executions/${executionId}/retry`, { from_step: 'third' });
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(response.json(), { execution_id: executionId, from_step: 'third' });
      assert.equal(await executionStatus(executionId), 'running');
    });

    it('POST cancel of a running execution answers it cancelled (200); a second cancel is 409', async () => {
      const response = await post(`/api/executions/${executionId}/cancel`);
      assert.equal(response.statusCode, 200, response.body);
      const execution = response.json();
      assert.equal(execution.id, executionId);
      assert.equal(execution.status, 'cancelled');
      assert.equal(execution.steps.find((s: { name: string }) => s.name === 'third').status, 'cancelled');
      assert.equal(execution.steps.find((s: { name: string }) => s.name === 'first').status, 'succeeded');
      assertError(await post(`/api/executions/${executionId}/cancel`), 409, 'invalid_state');
    });

    it('a body-less run or retry (no body, any Content-Type) counts as {}', async () => {
      const run = await post('/api/workflows/api_canary/run', undefined, { contentType: null });
      assert.equal(run.statusCode, 201, run.body);
      const id = run.json().execution_id as number;
      const [stored] = await sql(t.url, 'SELECT input FROM workflow_executions WHERE id = $1', [id]);
      assert.deepEqual(stored!.input, {});
      const cancelled = await post(`/api/executions/${id}/cancel`, undefined, { contentType: 'text/plain' });
      assert.equal(cancelled.statusCode, 200, cancelled.body);
      const retried = await post(`/api/executions/${id}/retry`, undefined, { raw: '' });
      assert.equal(retried.statusCode, 200, retried.body);
      assert.deepEqual(retried.json(), { execution_id: id, from_step: 'first' });
      assert.equal((await post(`/api/executions/${id}/cancel`)).statusCode, 200);
    });
  });

  describe('refusals', () => {
    it('POST run of a template that is not runnable is 409 naming its missing steps, and creates nothing', async () => {
      await applyHalf();
      const before = await count('workflow_executions');
      for (const name of ['api_half']) {
        const error = assertError(await post(`/api/workflows/${name}/run`, {}), 409, 'invalid_state');
        const missing = await missingOf(name);
        assert.ok(missing.length > 0);
        for (const step of missing) assert.ok(error.message.includes(step), `${error.message} names ${step}`);
      }
      assertError(await post('/api/workflows/no_such_template/run', {}), 404, 'not_found');
      assert.equal(await count('workflow_executions'), before);
    });

    it('400 naming the field for a bad id, status, limit, name or template, before the database', async () => {
      const cases: Array<[string, string, unknown, string]> = [
        ['GET', '/api/executions/abc', undefined, 'id'],
        ['GET', '/api/executions/0', undefined, 'id'],
        ['GET', '/api/executions/-1', undefined, 'id'],
        ['GET', '/api/executions/1234567890123456', undefined, 'id'],
        ['POST', '/api/executions/abc/retry', undefined, 'id'],
        ['POST', '/api/executions/1.5/cancel', undefined, 'id'],
        ['GET', '/api/executions?status=done', undefined, 'status'],
        ['GET', '/api/executions?status=pending&status=failed', undefined, 'status'],
        ['GET', '/api/executions?limit=0', undefined, 'limit'],
        ['GET', '/api/executions?limit=1001', undefined, 'limit'],
        ['GET', '/api/executions?template=Not-Snake', undefined, 'template'],
        ['GET', `/api/executions?template=${encodeURIComponent("x'; DROP TABLE agents;--")}`, undefined, 'template'],
        ['GET', '/api/workflows/Supabase_Sync', undefined, 'name'],
        ['GET', `/api/workflows/${'a'.repeat(64)}`, undefined, 'name'],
        ['GET', `/api/workflows/${encodeURIComponent("x'; DROP TABLE agents;--")}`, undefined, 'name'],
        ['GET', '/api/workflows/supabase_sync/history?limit=0', undefined, 'limit'],
        ['GET', '/api/workflows/supabase_sync/history?limit=ten', undefined, 'limit'],
        ['GET', `/api/workflows/${encodeURIComponent("x'; DROP TABLE agents;--")}/history`, undefined, 'name'],
        ['POST', `/api/workflows/${encodeURIComponent("x'; DROP TABLE agents;--")}/run`, {}, 'name'],
        ['POST', '/api/workflows/api_canary/run', { input: [1, 2] }, 'input'],
        ['POST', '/api/workflows/api_canary/run', { input: 'hello' }, 'input'],
        ['POST', '/api/workflows/api_canary/run', { input: null }, 'input'],
        ['POST', '/api/workflows/api_canary/run', { inputs: {} }, 'inputs'],
        ['POST', '/api/workflows/api_canary/run', { input: {}, evil: "'; DROP TABLE agents; --" }, 'evil'],
        ['POST', '/api/workflows/api_canary/run', { input: { pad: 'x'.repeat(70 * 1024) } }, 'input'],
        ['POST', '/api/workflows/api_canary/run', [{ input: {} }], 'body'],
        ['POST', '/api/executions/1/retry', { from_step: "x'; DROP TABLE agents;--" }, 'from_step'],
        ['POST', '/api/executions/1/retry', { from_step: 3 }, 'from_step'],
        ['POST', '/api/executions/1/retry', { from: 'first' }, 'from'],
      ];
      const agents = await count('agents');
      assert.equal(agents, 48);
      const executions = await count('workflow_executions');
      for (const [method, url, body, field] of cases) {
        const response = method === 'GET' ? await get(url) : await post(url, body);
        assert.equal(response.statusCode, 400, `${method} ${url} ${JSON.stringify(body)?.slice(0, 80)}: ${response.body}`);
        assertError(response, 400, 'invalid_input', field);
      }
      const unknown = assertError(await post('/api/workflows/api_canary/run', { evil: 1 }), 400, 'invalid_input', 'evil');
      assert.match(unknown.message, /unknown field "evil"; allowed: input/);
      const status = assertError(await get('/api/executions?status=done'), 400, 'invalid_input', 'status');
      assert.match(status.message, /^status must be one of pending, running, succeeded, failed, cancelled/);
      assertError(await post('/api/workflows/api_canary/run', undefined, { raw: '{"input": ' }), 400, 'invalid_json');
      assert.equal(await count('agents'), 48, 'the agents table is intact');
      assert.equal(await count('workflow_executions'), executions, 'nothing created');
    });
  });

  describe('GET /openapi.json', () => {
    it('documents the workflow routes, their parameters, bodies and the token on mutations', async () => {
      const doc = (await get('/openapi.json')).json() as {
        paths: Record<
          string,
          Record<
            string,
            {
              summary: string;
              parameters?: Array<{ name: string; in: string }>;
              requestBody?: unknown;
              responses: Record<string, unknown>;
              security?: unknown;
            }
          >
        >;
      };
      const expected: Array<[string, string, boolean]> = [
        ['/api/workflows', 'get', false],
        ['/api/workflows/{name}', 'get', false],
        ['/api/workflows/{name}/history', 'get', false],
        ['/api/workflows/{name}/run', 'post', true],
        ['/api/executions', 'get', false],
        ['/api/executions/{id}', 'get', false],
        ['/api/executions/{id}/retry', 'post', true],
        ['/api/executions/{id}/cancel', 'post', true],
      ];
      for (const [path, method, mutation] of expected) {
        const op = doc.paths[path]?.[method];
        assert.ok(op, `${method.toUpperCase()} ${path} is documented`);
        assert.match(op.summary, /\S/);
        assert.equal(op.security !== undefined, mutation, `${method} ${path}`);
        assert.equal('401' in op.responses, mutation, `${method} ${path}`);
      }
      const list = doc.paths['/api/executions']!.get!;
      assert.deepEqual(list.parameters!.map((p) => [p.name, p.in]).sort(), [
        ['limit', 'query'],
        ['status', 'query'],
        ['template', 'query'],
      ]);
      assert.ok(doc.paths['/api/workflows/{name}/run']!.post!.requestBody);
      assert.ok(doc.paths['/api/workflows/{name}/run']!.post!.responses['409']);
      assert.ok(doc.paths['/api/executions/{id}/retry']!.post!.requestBody);
      assert.ok(doc.paths['/api/executions/{id}']!.get!.responses['404']);
    });
  });
});

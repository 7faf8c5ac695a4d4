import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { maxWrongTokensPerMinute } from '../../src/dashboard/auth.js';
import { createDashboardApp } from '../../src/dashboard/server.js';
import type { HttpApp } from '../../src/http/app.js';
import { builtInJobTypes } from '../../src/jobs/index.js';
import { silentLogger } from '../../src/log.js';
import { makeTemplatesRunnable, sql, useTestDatabase } from '../helpers/db.js';
import { manualFeed, memoryPublisher } from './helpers.js';

describe('dashboard over HTTP (in process, app.inject)', () => {
  const database = useTestDatabase();
  const token = `test-${randomBytes(12).toString('hex')}`;
  const events = memoryPublisher();
  let app: HttpApp;

  before(async () => {
    app = createDashboardApp({
      pool: database.handle.pool,
      db: await database.handle.kysely(),
      log: silentLogger,
      token,
      version: '0.0.0-test',
      registry: builtInJobTypes(),
      changes: manualFeed(),
      events,
    });
    await app.ready();
  });
  after(async () => {
    await app?.close();
  });

  const get = (url: string, headers: Record<string, string> = {}) => app.inject({ method: 'GET', url, headers });
  const post = (url: string, body: unknown, headers: Record<string, string>) =>
    app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', ...headers },
      payload: body === undefined ? '' : JSON.stringify(body),
    });
  const dashboard = { 'x-cesar-dashboard': '1' };
  const signIn = async () => {
    const response = await post('/dashboard-api/login', { token }, dashboard);
    assert.equal(response.statusCode, 200, response.body);
    const cookie = String(response.headers['set-cookie']).split(';')[0]!;
    return { cookie, ...dashboard };
  };
  const insertJob = async (fields: { type?: string; status?: string; error?: string; key?: string } = {}) => {
    const status = fields.status ?? 'pending';
    const rows = await sql<{ id: string }>(
      database.url,
      `INSERT INTO job_queue (job_type, status, attempts, max_attempts, finished_at, last_error, dedupe_key)
       VALUES ($1, $2, CASE WHEN $2 = 'failed' THEN 5 ELSE 0 END, 5,
               CASE WHEN $2 IN ('completed', 'failed', 'cancelled') THEN now() END, $3, $4)
       RETURNING id`,
      [fields.type ?? 'canary', status, fields.error ?? null, fields.key ?? null],
    );
    return Number(rows[0]!.id);
  };
  const actions = () =>
    sql<{ action: string; target: string; actor: string; ok: boolean; detail: string }>(
      database.url,
      'SELECT action, target, actor, ok, detail FROM dashboard_actions ORDER BY id',
    );
  const assertError = (response: { statusCode: number; json(): unknown }, status: number, code: string) => {
    const body = response.json() as { error: { code: string; message: string } };
    assert.equal(response.statusCode, status, JSON.stringify(body));
    assert.equal(body.error.code, code);
    assert.doesNotMatch(body.error.message, /\n/, 'one line');
    return body.error.message;
  };

  describe('the page and its assets', () => {
    it('serves the page with a strict Content-Security-Policy and no inline script', async () => {
      const response = await get('/');
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers['content-type']), /^text\/html/);
      const csp = String(response.headers['content-security-policy']);
      assert.match(csp, /script-src 'self'/);
      assert.match(csp, /default-src 'none'/);
      assert.doesNotMatch(csp, /unsafe-inline/);
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
      assert.doesNotMatch(response.body, /<script(?![^>]*\bsrc=)[^>]*>/, 'every script has a src');
      assert.doesNotMatch(response.body, /\sstyle=|<style/, 'no inline style');
      assert.doesNotMatch(response.body, /https?:\/\//, 'no CDN: everything from this server');
    });

    it('serves its modules, styles and uPlot from the package, revalidated by ETag', async () => {
      for (const [url, type] of [
        ['/assets/app.js', /^text\/javascript/],
        ['/assets/style.css', /^text\/css/],
        ['/vendor/uplot.esm.js', /^text\/javascript/],
        ['/vendor/uplot.min.css', /^text\/css/],
      ] as const) {
        const response = await get(url);
        assert.equal(response.statusCode, 200, url);
        assert.match(String(response.headers['content-type']), type, url);
        const again = await get(url, { 'if-none-match': String(response.headers.etag) });
        assert.equal(again.statusCode, 304, url);
      }
      assert.match((await get('/vendor/uplot.esm.js')).body, /export \{ uPlot as default \}|export default/);
    });

    it('serves nothing outside its files', async () => {
      for (const url of ['/assets/..%2Fserver.js', '/assets/nope.js', '/vendor/uPlot.cjs.js', '/assets/%2e%2e%2f%2e%2e%2fpackage.json']) {
        assert.equal((await get(url)).statusCode, 404, url);
      }
    });
  });

  describe('reads', () => {
    it('GET /dashboard-api/overview: live counts, backlog, throughput, workers, sync, ingestion errors, agents', async () => {
      await insertJob({ status: 'pending' });
      await insertJob({ status: 'failed', error: 'boom' });
      const response = await get('/dashboard-api/overview');
      assert.equal(response.statusCode, 200, response.body);
      const o = response.json();
      assert.deepEqual(Object.keys(o).sort(), ['agents', 'backlog', 'ingestion_errors', 'queue', 'sync', 'throughput', 'workers']);
      assert.ok(o.queue.pending >= 1 && o.queue.runnable >= 1 && o.queue.failed >= 1);
      assert.equal(o.queue.in_progress, 0);
      assert.equal(o.queue.cap, 100_000);
      assert.ok(Array.isArray(o.backlog));
      for (const row of o.backlog) {
        assert.deepEqual(Object.keys(row).sort(), [
          'job_type',
          'jobs',
          'max_wait_seconds',
          'oldest_run_at',
          'queue',
          'refreshed_at',
          'runnable',
          'status',
        ]);
      }
      assert.equal(o.throughput.minutes.length, 60);
      assert.ok(Array.isArray(o.workers));
      assert.ok(o.sync.length > 0, 'the reference sync configuration');
      assert.ok(Array.isArray(o.ingestion_errors));
      assert.equal(
        o.agents.reduce((n: number, a: { count: number }) => n + a.count, 0),
        48,
      );
    });

    it('the overview charts the last hour from job_throughput, and the backlog from its monitoring view', async () => {
      await sql(
        database.url,
        `INSERT INTO job_throughput (minute, queue, job_type, outcome, jobs) VALUES
           (date_trunc('minute', now()), 'default', 'canary', 'completed', 7),
           (date_trunc('minute', now()), 'other', 'canary', 'completed', 3),
           (date_trunc('minute', now()) - interval '5 minutes', 'default', 'canary', 'failed', 2),
           (date_trunc('minute', now()) - interval '5 minutes', 'default', 'market_data', 'retried', 4),
           (date_trunc('minute', now()) - interval '5 minutes', 'default', 'market_data', 'cancelled', 1),
           (date_trunc('minute', now()) - interval '2 hours', 'default', 'canary', 'failed', 100)`,
      );
      await sql(database.url, 'REFRESH MATERIALIZED VIEW mv_job_queue_backlog');
      const o = (await get('/dashboard-api/overview')).json();
      const t = o.throughput;
      assert.equal(t.minutes.length, 60);
      assert.equal(new Date(t.minutes[59]).getUTCSeconds(), 0);
      assert.equal(t.completed[59], 10);
      assert.equal(t.failed[54], 2);
      assert.equal(t.retried[54], 4);
      assert.equal(t.cancelled[54], 1);
      assert.equal(
        t.failed.reduce((a: number, b: number) => a + b, 0),
        2,
        'two hours ago is not in the last hour',
      );
      assert.deepEqual(t.failures_by_type, [
        { job_type: 'canary', failed: 2, retried: 0, cancelled: 0 },
        { job_type: 'market_data', failed: 0, retried: 4, cancelled: 1 },
      ]);
      const pending = o.backlog.find((r: { status: string; job_type: string }) => r.status === 'pending' && r.job_type === 'canary');
      assert.ok(pending.jobs >= 1 && pending.runnable >= 1);
      const completed = o.backlog.filter((r: { status: string }) => r.status === 'completed');
      assert.deepEqual(
        completed.map((r: { queue: string; jobs: number }) => [r.queue, r.jobs]),
        [
          ['default', 7],
          ['other', 3],
        ],
      );
    });

    it('GET /dashboard-api/workflows: templates with schedule and policies, executions, skipped ticks with reasons', async () => {
      await sql(
        database.url,
        `INSERT INTO workflow_ticks (template_id, tick_at, fate, reason, source, recorded_by)
         SELECT id, now() - interval '1 hour', 'skipped', 'not runnable: no step handler', 'scheduler', 'test'
           FROM workflow_templates WHERE name = 'supabase_sync'`,
      );
      const w = (await get('/dashboard-api/workflows')).json();
      assert.equal(w.templates.length, 5);
      const t = w.templates.find((x: { name: string }) => x.name === 'supabase_sync');
      for (const field of [
        'cron_expression',
        'timezone',
        'catchup',
        'overlap',
        'last_fired_at',
        'next_due_at',
        'late_by_seconds',
        'runnable',
      ]) {
        assert.ok(field in t, field);
      }
      assert.equal(w.schedulers_live, 0);
      assert.ok(Array.isArray(w.executions));
      assert.deepEqual(w.skipped_ticks[0], {
        template: 'supabase_sync',
        tick_at: w.skipped_ticks[0].tick_at,
        reason: 'not runnable: no step handler',
        source: 'scheduler',
        recorded_at: w.skipped_ticks[0].recorded_at,
      });
    });

    it('GET /dashboard-api/agents: counts and the newest events first, paged by id', async () => {
      await sql(
        database.url,
        `INSERT INTO agent_events (agent_id, event_type, payload)
         SELECT (SELECT min(id) FROM agents), 'step.succeeded', jsonb_build_object('n', g) FROM generate_series(1, 60) g`,
      );
      const first = (await get('/dashboard-api/agents')).json();
      assert.ok(first.agents.length > 0);
      assert.equal(first.events.length, 50);
      assert.ok(first.events[0].id > first.events[49].id);
      assert.ok(first.events[0].agent && first.events[0].agent_type);
      const older = (await get(`/dashboard-api/agents?before=${first.events[49].id}`)).json();
      assert.ok(older.events.length >= 10);
      assert.ok(older.events.every((e: { id: number }) => e.id < first.events[49].id));
      assertError(await get('/dashboard-api/agents?before=x'), 400, 'invalid_input');
    });

    it('GET /dashboard-api/jobs/:id and /executions/:id: one with its attempts or steps; 404 for none', async () => {
      const id = await insertJob({ status: 'failed', error: 'it broke' });
      const job = (await get(`/dashboard-api/jobs/${id}`)).json();
      assert.equal(job.id, id);
      assert.equal(job.last_error, 'it broke');
      assert.deepEqual(job.attempts, []);
      assertError(await get('/dashboard-api/jobs/999999999'), 404, 'not_found');
      assertError(await get('/dashboard-api/executions/999999999'), 404, 'not_found');
      assertError(await get('/dashboard-api/jobs/abc'), 400, 'invalid_input');
    });
  });

  describe('job search', () => {
    let ids: { market: number[]; failed: number; keyed: number };
    before(async () => {
      const market: number[] = [];
      for (let i = 0; i < 7; i++) market.push(await insertJob({ type: 'market_data', status: 'completed' }));
      ids = {
        market,
        failed: await insertJob({ type: 'supabase_sync', status: 'failed', error: 'Connection REFUSED by upstream' }),
        keyed: await insertJob({ type: 'canary', status: 'pending', key: 'nightly-report-2026' }),
      };
    });

    const search = async (query: string) => {
      const response = await get(`/dashboard-api/jobs${query}`);
      assert.equal(response.statusCode, 200, response.body);
      return response.json() as { jobs: Array<{ id: number; type: string; status: string }>; next_before: number | null };
    };

    it('filters by type, state and text (id, type, dedupe key, last error; any case)', async () => {
      assert.deepEqual(
        (await search('?type=market_data')).jobs.map((j) => j.id),
        [...ids.market].reverse(),
      );
      assert.ok((await search('?state=failed')).jobs.some((j) => j.id === ids.failed));
      assert.ok((await search('?state=failed')).jobs.every((j) => j.status === 'failed'));
      assert.deepEqual(
        (await search('?q=refused')).jobs.map((j) => j.id),
        [ids.failed],
      );
      assert.deepEqual(
        (await search('?q=NIGHTLY-report')).jobs.map((j) => j.id),
        [ids.keyed],
      );
      assert.deepEqual(
        (await search(`?q=${ids.keyed}`)).jobs.map((j) => j.id),
        [ids.keyed],
      );
      assert.equal((await search('?q=market_d&state=completed')).jobs.length, 7);
      assert.deepEqual((await search('?q=%25')).jobs, [], 'a % is text, not a wildcard');
      assert.deepEqual((await search('?type=market_data&state=failed')).jobs, []);
    });

    it('pages newest first by id with before=, without overlap or gap', async () => {
      const all = (await search('?limit=200')).jobs.map((j) => j.id);
      const seen: number[] = [];
      let before: number | null = null;
      for (;;) {
        const page = await search(`?limit=3${before ? `&before=${before}` : ''}`);
        seen.push(...page.jobs.map((j) => j.id));
        if (page.next_before === null) break;
        before = page.next_before;
      }
      assert.deepEqual(seen, all);
      assert.deepEqual(
        [...seen].sort((a, b) => b - a),
        seen,
      );
    });

    it('refuses a bad state, limit or cursor', async () => {
      assertError(await get('/dashboard-api/jobs?state=done'), 400, 'invalid_input');
      assertError(await get('/dashboard-api/jobs?limit=0'), 400, 'invalid_input');
      assertError(await get('/dashboard-api/jobs?limit=201'), 400, 'invalid_input');
      assertError(await get('/dashboard-api/jobs?before=-1'), 400, 'invalid_input');
      assertError(await get(`/dashboard-api/jobs?q=${'x'.repeat(201)}`), 400, 'invalid_input');
    });
  });

  describe('signing in', () => {
    it('says who is signed in: nobody at first', async () => {
      assert.deepEqual((await get('/dashboard-api/session')).json(), { signed_in: false, label: null, expires_at: null });
    });

    it('refuses a wrong token with 401 and one line, and sets no cookie', async () => {
      const response = await post('/dashboard-api/login', { token: 'wrong' }, dashboard);
      const message = assertError(response, 401, 'unauthorized');
      assert.match(message, /not the API token/);
      assert.equal(response.headers['set-cookie'], undefined);
    });

    it('refuses a sign-in without the dashboard header (a form of another site)', async () => {
      assertError(await post('/dashboard-api/login', { token }, {}), 403, 'forbidden');
      assertError(await post('/dashboard-api/login', { token }, { ...dashboard, origin: 'https://evil.example' }), 403, 'forbidden');
    });

    it('refuses sign-ins from an address that sent too many wrong tokens, for a minute', async () => {
      const other = createDashboardApp({
        pool: database.handle.pool,
        db: await database.handle.kysely(),
        log: silentLogger,
        token,
        version: '0.0.0-test',
        registry: builtInJobTypes(),
        changes: manualFeed(),
      });
      try {
        const login = (given: string, remoteAddress = '192.0.2.1') =>
          other.inject({
            method: 'POST',
            url: '/dashboard-api/login',
            remoteAddress,
            headers: { 'content-type': 'application/json', ...dashboard },
            payload: JSON.stringify({ token: given }),
          });
        for (let i = 0; i < maxWrongTokensPerMinute; i++) assertError(await login('guess'), 401, 'unauthorized');
        assertError(await login(token), 429, 'too_many_requests');
        assert.equal((await login(token, '192.0.2.2')).statusCode, 200, 'another address is not blocked');
      } finally {
        await other.close();
      }
    });

    it('sets an HttpOnly, SameSite=Strict, Path=/ cookie holding a session id, never the token', async () => {
      const response = await post('/dashboard-api/login', { token }, dashboard);
      assert.equal(response.statusCode, 200);
      const cookie = String(response.headers['set-cookie']);
      assert.match(cookie, /^cesar_dashboard_session=[A-Za-z0-9_-]{43};/);
      assert.match(cookie, /; HttpOnly/);
      assert.match(cookie, /; SameSite=Strict/);
      assert.match(cookie, /; Path=\//);
      assert.ok(!cookie.includes(token));
      const session = (await get('/dashboard-api/session', { cookie: cookie.split(';')[0]! })).json();
      assert.equal(session.signed_in, true);
      assert.match(session.label, /^dashboard session [0-9a-f]{8}$/);
    });

    it('signing out ends the session and clears the cookie', async () => {
      const headers = await signIn();
      const response = await post('/dashboard-api/logout', undefined, headers);
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers['set-cookie']), /^cesar_dashboard_session=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0/);
      assert.equal((await get('/dashboard-api/session', { cookie: headers.cookie })).json().signed_in, false);
      const id = await insertJob({ status: 'failed' });
      assertError(await post(`/dashboard-api/jobs/${id}/retry`, undefined, headers), 401, 'unauthorized');
    });
  });

  describe('actions', () => {
    it('need a session: 401 without one, and nothing changes', async () => {
      const id = await insertJob({ status: 'failed' });
      assertError(await post(`/dashboard-api/jobs/${id}/retry`, undefined, dashboard), 401, 'unauthorized');
      assertError(
        await post(`/dashboard-api/jobs/${id}/retry`, undefined, { ...dashboard, cookie: 'cesar_dashboard_session=forged' }),
        401,
        'unauthorized',
      );
      assertError(await post('/dashboard-api/jobs', { type: 'canary' }, dashboard), 401, 'unauthorized');
      assertError(await post('/dashboard-api/workflows/supabase_sync/pause', undefined, dashboard), 401, 'unauthorized');
      const rows = await sql(database.url, 'SELECT status FROM job_queue WHERE id = $1', [id]);
      assert.equal(rows[0]!.status, 'failed');
    });

    it('need the X-Cesar-Dashboard header and this origin, even with a session (CSRF)', async () => {
      const { cookie } = await signIn();
      const id = await insertJob({ status: 'failed' });
      assertError(await post(`/dashboard-api/jobs/${id}/retry`, undefined, { cookie }), 403, 'forbidden');
      assertError(
        await post(`/dashboard-api/jobs/${id}/retry`, undefined, { cookie, ...dashboard, origin: 'http://evil.example' }),
        403,
        'forbidden',
      );
      const rows = await sql(database.url, 'SELECT status FROM job_queue WHERE id = $1', [id]);
      assert.equal(rows[0]!.status, 'failed');
    });

    it('retry of a failed job: it runs again, and the action is recorded with who and when, and published', async () => {
      const headers = await signIn();
      const session = (await get('/dashboard-api/session', { cookie: headers.cookie })).json();
      const id = await insertJob({ status: 'failed', error: 'boom' });
      const before = (await actions()).length;
      const response = await post(`/dashboard-api/jobs/${id}/retry`, undefined, {
        ...headers,
        host: 'localhost:80',
        origin: 'http://localhost:80',
      });
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.json().status, 'pending');
      const rows = await sql(database.url, 'SELECT status FROM job_queue WHERE id = $1', [id]);
      assert.equal(rows[0]!.status, 'pending');
      const recorded = (await actions()).slice(before);
      assert.equal(recorded.length, 1);
      assert.deepEqual(recorded[0], {
        action: 'job.retry',
        target: `job ${id}`,
        actor: session.label,
        ok: true,
        detail: `job ${id} (canary) is pending again`,
      });
      const at = await sql(database.url, 'SELECT at FROM dashboard_actions ORDER BY id DESC LIMIT 1');
      assert.ok(Date.now() - (at[0]!.at as Date).getTime() < 60_000);
      const event = events.events.at(-1)!;
      assert.equal(event.type, 'action.performed');
      assert.deepEqual({ ...event.data, at: undefined }, { ...recorded[0], at: undefined });
    });

    it('a refused action (retry of a completed job) answers 409 and is recorded as refused', async () => {
      const headers = await signIn();
      const id = await insertJob({ status: 'completed' });
      assertError(await post(`/dashboard-api/jobs/${id}/retry`, undefined, headers), 409, 'invalid_state');
      const last = (await actions()).at(-1)!;
      assert.equal(last.action, 'job.retry');
      assert.equal(last.ok, false);
      assert.match(last.detail, /completed/);
    });

    it('cancel, enqueue, run a workflow now, pause and resume its schedule', async () => {
      const headers = await signIn();
      const pending = await insertJob({ status: 'pending' });
      assert.equal((await post(`/dashboard-api/jobs/${pending}/cancel`, undefined, headers)).json().status, 'cancelled');

      const enqueued = await post('/dashboard-api/jobs', { type: 'canary', payload: {} }, headers);
      assert.equal(enqueued.statusCode, 201, enqueued.body);
      assert.equal(enqueued.json().type, 'canary');
      assertError(await post('/dashboard-api/jobs', { type: 'nope' }, headers), 400, 'invalid_input');

      await makeTemplatesRunnable(database.url);
      const run = await post('/dashboard-api/workflows/supabase_sync/run', undefined, headers);
      assert.equal(run.statusCode, 200, run.body);
      assert.ok(Number.isInteger(run.json().execution_id));
      const execution = (await get(`/dashboard-api/executions/${run.json().execution_id}`)).json();
      assert.equal(execution.template, 'supabase_sync');
      assert.ok(execution.steps.length > 0);

      assert.deepEqual((await post('/dashboard-api/workflows/supabase_sync/pause', undefined, headers)).json(), {
        template: 'supabase_sync',
        changed: true,
      });
      const paused = (await get('/dashboard-api/workflows')).json().templates.find((t: { name: string }) => t.name === 'supabase_sync');
      assert.equal(paused.is_active, false);
      assert.deepEqual((await post('/dashboard-api/workflows/supabase_sync/resume', undefined, headers)).json(), {
        template: 'supabase_sync',
        changed: true,
      });
      assertError(await post('/dashboard-api/workflows/no_such/pause', undefined, headers), 404, 'not_found');

      const recorded = (await actions()).slice(-7).map((a) => `${a.action} ${a.ok}`);
      assert.deepEqual(recorded, [
        'job.cancel true',
        'job.enqueue true',
        'job.enqueue false',
        'workflow.run true',
        'workflow.pause true',
        'workflow.resume true',
        'workflow.pause false',
      ]);
    });
  });
});

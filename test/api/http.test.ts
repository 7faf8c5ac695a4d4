import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import * as v from 'valibot';
import { ConfigError, ExitCode, InputError, StateError } from '../../src/errors.js';
import { createHttpApp, type HttpApp } from '../../src/http/app.js';
import { closeHttp, listenHttp } from '../../src/http/listen.js';
import { buildOpenApi } from '../../src/http/openapi.js';
import { createLogger } from '../../src/log.js';
import { registerSecret } from '../../src/mask.js';

const token = 'layer-test-token';

function testApp(): { app: HttpApp; lines: string[] } {
  const lines: string[] = [];
  const app = createHttpApp({
    name: 'dashboard',
    log: createLogger({ level: 'debug', format: 'text', proc: 'test', write: (line) => lines.push(line) }),
    token,
    bodyLimit: 1024,
  });
  const docs = { summary: 'a test route', responses: { 200: 'ok' } };
  app.get('/boom', { config: { docs } }, async () => {
    throw new Error('kaboom with password=hunter2');
  });
  app.get('/state', { config: { docs } }, async () => {
    throw new StateError('job 1 is completed and cannot be retried');
  });
  app.get('/db-down', { config: { docs } }, async () => {
    throw Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
  });
  app.post(
    '/things/:n',
    {
      schema: {
        params: v.object({ n: v.pipe(v.string(), v.regex(/^\d+$/, 'must be digits'), v.transform(Number)) }),
        body: v.strictObject({
          inner: v.strictObject({ size: v.pipe(v.number('must be a number'), v.maxValue(10, 'must be 10 at most')) }),
        }),
      },
      config: { mutation: true, docs },
    },
    async (request) => ({ n: request.params.n + 1, size: request.body.inner.size }),
  );
  return { app, lines };
}

describe('the HTTP layer (src/http)', () => {
  it('checks valibot route schemas, naming nested fields, and hands handlers their output', async () => {
    const { app } = testApp();
    const send = (url: string, payload: unknown) =>
      app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${token}` }, payload: payload as object });
    const ok = await send('/things/41', { inner: { size: 3 } });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(ok.json(), { n: 42, size: 3 });
    const cases: Array<[string, unknown, string, RegExp]> = [
      ['/things/x', { inner: { size: 3 } }, 'n', /^n must be digits$/],
      ['/things/1', { inner: { size: 11 } }, 'inner.size', /^inner\.size must be 10 at most$/],
      ['/things/1', { inner: { size: 'big' } }, 'inner.size', /^inner\.size must be a number$/],
      ['/things/1', { inner: { size: 1, more: 2 } }, 'inner.more', /^unknown field "inner\.more"; allowed: size$/],
      ['/things/1', { inner: 5 }, 'inner', /^inner: /],
      ['/things/1', {}, 'inner', /^inner is required$/],
    ];
    for (const [url, body, field, message] of cases) {
      const response = await send(url, body);
      assert.equal(response.statusCode, 400, response.body);
      assert.equal(response.json().error.code, 'invalid_input');
      assert.equal(response.json().error.field, field);
      assert.match(response.json().error.message, message);
    }
    await app.close();
  });

  it('maps errors to the documented shape; an unexpected one is logged with its stack and masked', async () => {
    const { app, lines } = testApp();
    registerSecret(token);
    const boom = await app.inject({ url: '/boom' });
    assert.equal(boom.statusCode, 500);
    assert.deepEqual(boom.json(), { error: { code: 'internal', message: 'internal error; see the dashboard log' } });
    const logged = lines.filter((l) => l.startsWith('ERROR: '));
    assert.equal(logged.length, 1);
    assert.match(logged[0]!, /dashboard request failed: Error: kaboom/);
    assert.match(logged[0]!, /at .*http\.test\.ts/, 'the stack');
    assert.doesNotMatch(logged[0]!, /hunter2/);
    const state = await app.inject({ url: '/state' });
    assert.equal(state.statusCode, 409);
    assert.equal(state.json().error.code, 'invalid_state');
    const down = await app.inject({ url: '/db-down' });
    assert.equal(down.statusCode, 503);
    assert.equal(down.json().error.code, 'database_unavailable');
    await app.close();
  });

  it('InputError thrown by a handler is a 400 naming its field', async () => {
    const { app } = testApp();
    app.get('/input', async () => {
      throw new InputError('limit must be an integer from 1 to 1000', undefined, 'limit');
    });
    const response = await app.inject({ url: '/input' });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), {
      error: { code: 'invalid_input', message: 'limit must be an integer from 1 to 1000', field: 'limit' },
    });
    await app.close();
  });

  it('answers 413 over the body limit and 401 before reading a body', async () => {
    const { app } = testApp();
    const big = { inner: { size: 1, pad: 'x'.repeat(2000) } };
    const tooBig = await app.inject({ method: 'POST', url: '/things/1', headers: { authorization: `Bearer ${token}` }, payload: big });
    assert.equal(tooBig.statusCode, 413);
    assert.deepEqual(tooBig.json().error.code, 'body_too_large');
    const anonymous = await app.inject({ method: 'POST', url: '/things/1', payload: big });
    assert.equal(anonymous.statusCode, 401);
    await app.close();
  });

  it('builds an OpenAPI document of its routes, and lists a route without docs without a summary', async () => {
    const { app } = testApp();
    app.get('/undocumented', async () => 'x');
    await app.ready();
    const doc = buildOpenApi(app, { title: 'test', version: '1' });
    assert.equal(doc.paths['/undocumented']!.get!.summary, undefined);
    const things = doc.paths['/things/{n}']!.post!;
    assert.deepEqual(Object.keys(things.responses as object).sort(), ['200', '400', '401', '413']);
    assert.deepEqual(things.security, [{ bearer: [] }]);
    await app.close();
  });

  it('answers a malformed request with 400 and closes the connection', async () => {
    const { app } = testApp();
    assert.deepEqual([app.server.headersTimeout, app.server.requestTimeout], [10_000, 30_000]);
    const { port } = await listenHttp(app, { host: '127.0.0.1', port: 0, flag: '--dashboard-port' });
    try {
      const answer = await new Promise<string>((resolve, reject) => {
        let text = '';
        const socket = net.connect(port, '127.0.0.1', () => socket.write('THIS IS NOT HTTP\r\n\r\n'));
        socket.on('data', (chunk) => {
          text += chunk.toString();
        });
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
      });
      assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
      assert.match(answer, /Connection: close/);
      assert.match(answer, /\{"error":\{"code":"bad_request","message":"malformed HTTP request"\}\}$/);
    } finally {
      await closeHttp(app, new AbortController().signal);
    }
  });

  it('turns a busy port into ConfigError (exit 78) naming the flag', async () => {
    const first = testApp().app;
    const second = testApp().app;
    const { port, url } = await listenHttp(first, { host: '127.0.0.1', port: 0, flag: '--dashboard-port' });
    try {
      assert.ok(port > 0);
      assert.equal(url, `http://127.0.0.1:${port}`);
      await assert.rejects(listenHttp(second, { host: '127.0.0.1', port, flag: '--api-port' }), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.exitCode, ExitCode.config);
        assert.equal(err.exitCode, 78);
        assert.equal(err.message, `port ${port} on 127.0.0.1 is in use; choose another with --api-port`);
        return true;
      });
    } finally {
      await second.close();
      await closeHttp(first, new AbortController().signal);
    }
  });

  it('stops: idle connections at once, busy ones when force aborts', async () => {
    const { app } = testApp();
    let release: () => void = () => {};
    app.get('/slow', { config: { docs: { summary: 'slow', responses: { 200: 'ok' } } } }, async () => {
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return { ok: true };
    });
    const { url } = await listenHttp(app, { host: '127.0.0.1', port: 0, flag: '--api-port' });
    const slow = fetch(`${url}/slow`).then(
      (r) => r.status,
      () => 'aborted',
    );
    await new Promise((r) => setTimeout(r, 100));
    const force = new AbortController();
    let closed = false;
    const stopping = closeHttp(app, force.signal).then(() => {
      closed = true;
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(closed, false, 'waits for the request in flight');
    force.abort();
    await stopping;
    assert.equal(await slow, 'aborted');
    release();
  });
});

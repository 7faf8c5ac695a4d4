import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import * as v from 'valibot';
import { ConfigError, ExitCode, InputError, StateError } from '../../src/errors.js';
import { createHttpApp, type HttpApp, type HttpAppOptions } from '../../src/http/app.js';
import { errorAnswer } from '../../src/http/errors.js';
import { defaultMaxConnections, maxConnectionsFor, openFileLimit } from '../../src/http/limits.js';
import { closeHttp, listenHttp } from '../../src/http/listen.js';
import { buildOpenApi } from '../../src/http/openapi.js';
import { createLogger } from '../../src/log.js';
import { registerSecret } from '../../src/mask.js';

const token = 'layer-test-token';

const openConnections = (app: HttpApp) =>
  new Promise<number>((resolve, reject) => app.server.getConnections((err, count) => (err ? reject(err) : resolve(count))));

/** Poll until check holds; fail after a generous 10 s. */
async function waitUntil(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function testApp(extra: Pick<HttpAppOptions, 'timeouts' | 'maxConnections'> = {}): { app: HttpApp; lines: string[] } {
  const lines: string[] = [];
  const app = createHttpApp({
    name: 'dashboard',
    log: createLogger({ level: 'debug', format: 'text', proc: 'test', write: (line) => lines.push(line) }),
    token,
    bodyLimit: 1024,
    ...extra,
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
    const { headersTimeout, requestTimeout, keepAliveTimeout, timeout } = app.server;
    assert.deepEqual([headersTimeout, requestTimeout, keepAliveTimeout, timeout], [10_000, 30_000, 5_000, 60_000]);
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
  it('answers 408 to a body that never ends, logs it at warn, and destroys the connection', async () => {
    const { app, lines } = testApp({ timeouts: { request: 600, headers: 400, check: 100 } });
    const { port } = await listenHttp(app, { host: '127.0.0.1', port: 0, flag: '--api-port' });
    try {
      const slowRequests = [
        // the body never ends
        `POST /things/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"inner":`,
        // the headers never end
        'GET /state HTTP/1.1\r\nHost: x\r\n',
      ];
      for (const request of slowRequests) {
        // The client never closes its side: a half-closed server socket would stay open.
        const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => socket.write(request));
        let answer = '';
        socket.on('data', (chunk) => {
          answer += chunk.toString();
        });
        await new Promise((resolve) => socket.once('end', resolve));
        assert.match(answer, /^HTTP\/1\.1 408 Request Timeout\r\n/);
        assert.match(answer, /\{"error":\{"code":"request_timeout","message":"[^"]+"\}\}$/);
        assert.equal(await openConnections(app), 0, 'the server destroyed its side');
        socket.destroy();
      }
      assert.equal(lines.filter((l) => l.startsWith('WARN: ') && /408/.test(l)).length, 2, lines.join('\n'));
      assert.deepEqual(
        lines.filter((l) => l.startsWith('ERROR')),
        [],
      );
    } finally {
      await closeHttp(app, new AbortController().signal);
    }
  });

  it('destroys a connection whose client stops reading the answer', async () => {
    const { app } = testApp({ timeouts: { idle: 300 } });
    app.get('/big', async () => ({ pad: 'x'.repeat(16 * 1024 * 1024) }));
    const { port } = await listenHttp(app, { host: '127.0.0.1', port: 0, flag: '--api-port' });
    try {
      const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () =>
        socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n'),
      );
      socket.pause();
      socket.on('error', () => {});
      await waitUntil('the connection', async () => (await openConnections(app)) === 1);
      await waitUntil('the server to destroy the connection', async () => (await openConnections(app)) === 0);
      socket.destroy();
    } finally {
      await closeHttp(app, new AbortController().signal);
    }
  });

  it('answers a body cut short (the client dropped the connection) as a client error, not "database unavailable"', () => {
    // What Fastify hands the error handler when the request stream aborts mid-body.
    const aborted = Object.assign(new Error('aborted'), { code: 'ECONNRESET', statusCode: 400 });
    const { statusCode, body } = errorAnswer(aborted, {
      log: createLogger({ level: 'error', format: 'text', proc: 'test' }),
      name: 'API',
      bodyLimit: 1024,
    });
    assert.deepEqual([statusCode, body.error.code], [400, 'bad_request']);
  });

  it('caps open connections, dropping the oldest one without a request in progress', async () => {
    const { app } = testApp({ maxConnections: 3 });
    app.get('/ok', async () => ({ ok: true }));
    const { port, url } = await listenHttp(app, { host: '127.0.0.1', port: 0, flag: '--api-port' });
    const sockets: net.Socket[] = [];
    try {
      const closed: boolean[] = [];
      for (let i = 0; i < 5; i++) {
        const socket = net.connect(port, '127.0.0.1');
        socket.on('error', () => {});
        socket.on('close', () => {
          closed[i] = true;
        });
        await new Promise((resolve) => socket.once('connect', resolve));
        socket.write('GET /ok HTTP/1.1\r\nHost: x\r\n');
        sockets.push(socket);
        await new Promise((r) => setTimeout(r, 20));
      }
      const response = await fetch(`${url}/ok`);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { ok: true });
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual([...closed], [true, true, true], 'the three oldest were dropped to make room');
    } finally {
      for (const socket of sockets) socket.destroy();
      await closeHttp(app, new AbortController().signal);
    }
  });

  it('derives the default connection cap from the open-file limit', () => {
    const limits =
      'Limit                     Soft Limit           Hard Limit           Units\nMax open files            256                  1048576              files\n';
    assert.equal(openFileLimit(limits), 256);
    assert.equal(openFileLimit('Max open files            unlimited            unlimited            files\n'), undefined);
    assert.equal(maxConnectionsFor(256, 74), 182);
    assert.equal(maxConnectionsFor(50, 74), 16);
    assert.equal(maxConnectionsFor(1_048_576, 74), 4096);
    assert.equal(maxConnectionsFor(undefined, 74), 512);
    if (process.platform === 'linux') assert.equal(defaultMaxConnections(74), maxConnectionsFor(openFileLimit(), 74));
  });

  it('answers a path that is not valid percent-encoding with 400 in the documented shape', async () => {
    const { app } = testApp();
    for (const url of ['/things/%', '/things/%E0%A4%A', '/%']) {
      const response = await app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${token}` } });
      assert.equal(response.statusCode, 400, url);
      assert.deepEqual(Object.keys(response.json()), ['error']);
      assert.equal(response.json().error.code, 'invalid_input');
      assert.equal(response.json().error.field, 'path');
    }
    const long = await app.inject({ method: 'POST', url: `/things/${'1'.repeat(200)}` });
    assert.equal(long.statusCode, 414);
    assert.deepEqual(long.json(), { error: { code: 'uri_too_long', message: 'a path segment is over 100 characters', field: 'path' } });
    await app.close();
  });
});

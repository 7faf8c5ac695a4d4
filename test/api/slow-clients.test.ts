import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { execa, type ResultPromise } from 'execa';
import { cesarBin } from '../helpers/cli.js';
import { useTestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/queue.js';

const fdLimit = 256;
const slowClients = 300;
const token = 't0k3n-t0k3n-slow-clients';

interface Api {
  child: ResultPromise;
  port: number;
  output: () => string;
}

/** `cesar api` on a free port, as a real process under `ulimit -n 256`. */
async function startApi(databaseUrl: string, home: string): Promise<Api> {
  let output = '';
  const child = execa(
    'bash',
    ['-c', `ulimit -n ${fdLimit} && exec "$0" "$@"`, process.execPath, cesarBin, 'api', '--api-port', '0', '--host', '127.0.0.1'],
    {
      reject: false,
      extendEnv: false,
      all: true,
      env: { PATH: process.env.PATH, NO_COLOR: '1', CESAR_HOME: home, DATABASE_URL: databaseUrl, CESAR_API_TOKEN: token },
    },
  );
  child.all!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  await waitFor(
    'the API to listen',
    async () => /API listening on http:\/\/127\.0\.0\.1:\d+/.test(output) || child.exitCode !== null,
    60_000,
  );
  const port = Number(/API listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1]);
  assert.ok(port > 0, output);
  return { child, port, output: () => output };
}

/** What the slow clients send and never finish: headers, or (with the token) a body. */
const partialRequests = [
  'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n',
  'POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Le',
  `POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"type":`,
];

/** A client that never reads. */
function slowClient(port: number, i: number): Promise<net.Socket> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.pause();
    socket.once('connect', () => {
      socket.write(partialRequests[i % partialRequests.length]!);
      resolve(socket);
    });
    socket.once('close', () => resolve(socket));
  });
}

/** GET /health until it answers 200 (each try bounded), or the time is up. */
async function healthWithin(port: number, ms: number): Promise<{ status: number; tries: number; last: string }> {
  const deadline = Date.now() + ms;
  let tries = 0;
  let last = '';
  while (Date.now() < deadline) {
    tries++;
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2_000) });
      last = `${response.status} ${await response.text()}`;
      if (response.status === 200) return { status: 200, tries, last };
    } catch (err) {
      last = String((err as Error).cause ?? err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { status: 0, tries, last };
}

describe('slow clients cannot take the API down (cesar api under ulimit -n 256)', () => {
  const db = useTestDatabase();
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'cesar-slow-clients-'));
  const sockets: net.Socket[] = [];
  let api: Api | undefined;
  after(async () => {
    for (const socket of sockets) socket.destroy();
    if (api && api.child.exitCode === null) {
      api.child.kill('SIGTERM');
      await api.child;
    }
    fs.rmSync(home, { recursive: true, force: true });
  });

  it(`answers /health while ${slowClients} clients hold connections with partial requests and never read`, async () => {
    api = await startApi(db.url, home);
    for (let i = 0; i < slowClients; i++) sockets.push(await slowClient(api.port, i));
    // The headers timeout is 10 s: /health must answer while the slow clients are still held, well before.
    const health = await healthWithin(api.port, 8_000);
    assert.equal(health.status, 200, `after ${health.tries} tries: ${health.last}\n${api.output()}`);
    assert.equal(api.child.exitCode, null, 'the API still runs');
    assert.doesNotMatch(api.output(), /ERROR/);
  });
});

import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa, type ResultPromise } from 'execa';
import { cesar, cesarBin } from '../helpers/cli.js';
import { createTestDatabase, makeTemplatesRunnable, sql, type TestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/queue.js';

/** Child processes of pid, from /proc. */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}
const cmdline = (pid: number) => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
};
/** Running (not a zombie waiting to be reaped). */
const alive = (pid: number) => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};
/** A process may take a moment to vanish after its parent saw it stop (pg_ctl returns when the pid file goes). */
const gone = (pids: number[]) =>
  waitFor(`processes ${pids.join(', ')} to exit`, async () => pids.every((pid) => !alive(pid)), 5000).then(
    () => true,
    () => false,
  );

interface Started {
  child: ResultPromise;
  output: () => string;
  apiUrl: string;
  token: string;
  home: string;
}

async function startCesar(env: Record<string, string>, args: string[] = []): Promise<Started> {
  let output = '';
  const child = execa(process.execPath, [cesarBin, 'start', '--api-port', '0', '--dashboard-port', '0', ...args], {
    reject: false,
    extendEnv: false,
    all: true,
    env: { PATH: process.env.PATH, NO_COLOR: '1', CESAR_FIRST_RUNS: 'off', ...env },
  });
  child.all!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  await waitFor('the ready line', async () => /All systems initialized and ready!/.test(output) || child.exitCode !== null, 60_000);
  assert.match(output, /All systems initialized and ready! API: http:\/\/127\.0\.0\.1:\d+/, output);
  const apiUrl = /API: (http:\/\/127\.0\.0\.1:\d+)/.exec(output)![1]!;
  const token = fs.readFileSync(path.join(env.CESAR_HOME!, 'api-token'), 'utf8').trim();
  return { child, output: () => output, apiUrl, token, home: env.CESAR_HOME! };
}

const homes: string[] = [];
after(() => {
  for (const home of homes) fs.rmSync(home, { recursive: true, force: true });
});

/** A CESAR_HOME of its own, removed when the file's tests end. */
function tempHome(): string {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'cesar-start-test-'));
  fs.chmodSync(home, 0o755);
  homes.push(home);
  return home;
}

describe('cesar start (real processes, ephemeral ports)', () => {
  let d: TestDatabase;
  let s: Started;
  before(async () => {
    d = await createTestDatabase();
    await makeTemplatesRunnable(d.url); // so that verify's static checks pass, and verify --live with them
    s = await startCesar({ DATABASE_URL: d.url, CESAR_HOME: tempHome() });
  });
  after(async () => {
    if (s?.child.exitCode === null) s.child.kill('SIGKILL');
    await d?.drop();
  });

  const post = (route: string, body: unknown, token: string | null = s.token, raw?: string) =>
    fetch(`${s.apiUrl}${route}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: raw ?? JSON.stringify(body),
    });
  const jobCount = async () => Number((await sql(d.url, 'SELECT count(*) AS n FROM job_queue'))[0]!.n);

  it('answers /health with 200 and the database, workers and queue', async () => {
    const response = await fetch(`${s.apiUrl}/health`);
    assert.equal(response.status, 200);
    const health = await response.json();
    assert.equal(health.status, 'ok');
    assert.ok(health.database.round_trip_ms >= 0);
    assert.ok(health.workers.some((w: { live: boolean }) => w.live));
    assert.equal((await fetch(`${s.apiUrl}/ready`)).status, 200);
    const metrics = await (await fetch(`${s.apiUrl}/metrics`)).text();
    assert.match(metrics, /# TYPE cesar_jobs gauge/);
    assert.match(metrics, /cesar_workers_live 1/);
  });

  it('runs a job enqueued through the API', async () => {
    const response = await post('/api/jobs', { type: 'canary', payload: { sleep_ms: 5 } });
    assert.equal(response.status, 201);
    const { id } = await response.json();
    await waitFor('the job', async () => (await (await fetch(`${s.apiUrl}/api/jobs/${id}`)).json()).status === 'completed');
    const job = await (await fetch(`${s.apiUrl}/api/jobs/${id}`)).json();
    assert.deepEqual(
      job.attempts.map((a: { outcome: string }) => a.outcome),
      ['succeeded'],
    );
  });

  it('refuses bad requests with 401, 400, 404 and 413, and the queue is unchanged', async () => {
    const before = await jobCount();
    const cases: Array<[Promise<Response>, number, string, string?]> = [
      [post('/api/jobs', { type: 'canary' }, null), 401, 'unauthorized'],
      [post('/api/jobs', { type: 'canary' }, 'wrong-token'), 401, 'unauthorized'],
      [post('/api/jobs/1/cancel', {}, null), 401, 'unauthorized'],
      [post('/api/jobs', undefined, s.token, '{"type": "canary",'), 400, 'invalid_json'],
      [post('/api/jobs', undefined, s.token, ''), 400, 'invalid_json'],
      [post('/api/jobs', [1, 2]), 400, 'invalid_input'],
      [post('/api/jobs', { type: 'nope' }), 400, 'invalid_input', 'type'],
      [post('/api/jobs', { type: 'canary', priority: 'high' }), 400, 'invalid_input', 'priority'],
      [post('/api/jobs', { type: 'canary', payload: { sleep_ms: -5 } }), 400, 'invalid_input', 'payload.sleep_ms'],
      [post('/api/jobs', { type: 'canary', evil: "'; DROP TABLE job_queue; --" }), 400, 'invalid_input', 'evil'],
      [post('/api/jobs', { type: "canary'; DROP TABLE job_queue; --" }), 400, 'invalid_input', 'type'],
      [post('/api/jobs', { type: 'canary', run_at: 'tomorrow' }), 400, 'invalid_input', 'run_at'],
      [fetch(`${s.apiUrl}/api/jobs/abc`), 400, 'invalid_input', 'id'],
      [fetch(`${s.apiUrl}/nowhere`), 404, 'not_found'],
      [fetch(`${s.apiUrl}/api/jobs/999999`), 404, 'not_found'],
      [post('/api/jobs/999999/retry', {}), 404, 'not_found'],
      [post('/api/jobs', { type: 'canary', payload: { pad: 'x'.repeat(200_000) } }), 413, 'body_too_large'],
      [fetch(`${s.apiUrl}/api/jobs`, { method: 'DELETE' }), 405, 'method_not_allowed'],
    ];
    for (const [request, status, code, field] of cases) {
      const response = await request;
      assert.equal(response.status, status, `${code}`);
      const body = await response.json();
      assert.equal(body.error.code, code);
      assert.equal(typeof body.error.message, 'string');
      if (field) assert.equal(body.error.field, field);
    }
    assert.equal(await jobCount(), before, 'nothing enqueued');
    assert.equal((await fetch(`${s.apiUrl}/health`)).status, 200, 'still serving');
  });

  it('passes verify --live, finding the API and the dashboard through CESAR_HOME', async () => {
    const r = await cesar(['verify', '--live', '--json'], { DATABASE_URL: d.url, CESAR_HOME: s.home });
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout);
    assert.deepEqual(
      report.live.map((c: { name: string; status: string }) => [c.name, c.status]),
      [
        ['API', 'PASS'],
        ['DASHBOARD', 'PASS'],
        ['WORKER', 'PASS'],
        ['CANARY', 'PASS'],
        ['SCHEDULER', 'PASS'],
      ],
    );
    assert.match(report.live[1].summary, /^http:\/\/127\.0\.0\.1:\d+ served its page and the overview's data in [\d.]+ ms$/);
    assert.match(report.live[3].summary, /canary job \d+ completed in [\d.]+ ms/);
  });

  it('refuses a second cesar start for the same CESAR_HOME (exit 75)', async () => {
    const r = await cesar(['start', '--api-port', '0', '--dashboard-port', '0'], { DATABASE_URL: d.url, CESAR_HOME: s.home });
    assert.equal(r.exitCode, 75);
    assert.match(r.stderr, /cesar start is already running for .* \(pid \d+\)/);
  });

  it('restarts a worker killed by SIGKILL, and a new job completes', async () => {
    const worker = childrenOf(s.child.pid!).find((pid) => / worker /.test(cmdline(pid)));
    assert.ok(worker, 'a worker child');
    process.kill(worker, 'SIGKILL');
    await waitFor('the restart', async () => /worker was killed by SIGKILL unexpectedly; restarting it/.test(s.output()));
    await waitFor('the new worker', async () => childrenOf(s.child.pid!).some((pid) => pid !== worker && / worker /.test(cmdline(pid))));
    const { id } = await (await post('/api/jobs', { type: 'canary' })).json();
    await waitFor(
      'the job after the restart',
      async () => (await sql(d.url, 'SELECT status FROM job_queue WHERE id = $1', [id]))[0]!.status === 'completed',
      30_000,
    );
  });

  it('stops every child on SIGTERM and exits 0', async () => {
    const children = childrenOf(s.child.pid!);
    assert.ok(children.length >= 2);
    s.child.kill('SIGTERM');
    const result = await s.child;
    assert.equal(result.exitCode, 0, s.output());
    assert.ok(await gone(children), `children gone: ${children.filter(alive).map(cmdline).join('; ')}`);
    assert.equal(fs.existsSync(path.join(s.home, 'start.json')), false);
    assert.match(s.output(), /All parts stopped/);
  });

  it('verify --live fails naming the API when nothing runs (exit 1)', async () => {
    const r = await cesar(['verify', '--live'], { DATABASE_URL: d.url, CESAR_HOME: s.home });
    assert.equal(r.exitCode, 1);
    assert.match(r.stdout, /❌ API: FAIL - no running `cesar start` found/);
    assert.match(r.stdout, /❌ DASHBOARD: FAIL - no running `cesar start` found .*give --dashboard-port/);
    // (The worker killed above may still count as live: its last heartbeat is seconds old.)
    assert.match(r.stdout, /LIVE: FAIL \(API/);
  });
});

describe('cesar start on the embedded PostgreSQL', () => {
  it('boots, and SIGTERM leaves no child and no PostgreSQL behind (exit 0)', async () => {
    const home = tempHome();
    try {
      const s = await startCesar({ CESAR_HOME: home });
      const pgdata = path.join(home, 'pgdata');
      const postmaster = Number(fs.readFileSync(path.join(pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);
      assert.ok(alive(postmaster));
      const children = childrenOf(s.child.pid!);
      s.child.kill('SIGTERM');
      assert.equal((await s.child).exitCode, 0, s.output());
      assert.ok(await gone([...children, postmaster]), 'every child and the postmaster are gone');
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it('names the busy port and the flag that changes it (exit 78)', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as net.AddressInfo;
    const d = await createTestDatabase();
    try {
      const r = await cesar(['start', '--api-port', String(port), '--dashboard-port', '0'], {
        DATABASE_URL: d.url,
        CESAR_HOME: tempHome(),
      });
      assert.equal(r.exitCode, 78);
      assert.match(r.stderr, new RegExp(`port ${port} on 127.0.0.1 is in use; choose another with --api-port`));
    } finally {
      blocker.close();
      await d.drop();
    }
  });

  it('takes over a stale start.json left by a dead process', async () => {
    const home = tempHome();
    const d = await createTestDatabase();
    try {
      fs.writeFileSync(path.join(home, 'start.json'), JSON.stringify({ pid: 2 ** 22 + 12345, started_at: '2026-01-01T00:00:00Z' }));
      // Nothing to run: start takes the lock, then finds no part left (exit 78) and releases it.
      const r = await cesar(['start', '--only', 'scheduler', '--no-scheduler'], { DATABASE_URL: d.url, CESAR_HOME: home });
      assert.equal(r.exitCode, 78, r.stderr);
      assert.doesNotMatch(r.stderr, /already running/);
      assert.equal(fs.existsSync(path.join(home, 'start.json')), false);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
      await d.drop();
    }
  });

  it('stops everything and exits 1 when a part crash-loops (5 exits within 60 s)', async () => {
    const d = await createTestDatabase();
    const home = tempHome();
    let output = '';
    const child = execa(process.execPath, [cesarBin, 'start', '--only', 'worker'], {
      reject: false,
      extendEnv: false,
      all: true,
      env: { PATH: process.env.PATH, NO_COLOR: '1', DATABASE_URL: d.url, CESAR_HOME: home },
    });
    child.all!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    try {
      const killed = new Set<number>();
      while (killed.size < 5 && child.exitCode === null) {
        const worker = await waitFor(
          'a worker child',
          async () => childrenOf(child.pid!).find((pid) => !killed.has(pid) && / worker /.test(cmdline(pid))),
          30_000,
        );
        // Kill it once it is up (its ready line counted), as a crash would.
        await waitFor('the worker to be ready', async () => (output.match(/Polling for jobs/g) ?? []).length > killed.size, 30_000);
        killed.add(worker);
        process.kill(worker, 'SIGKILL');
      }
      const result = await child;
      assert.equal(result.exitCode, 1, output);
      assert.match(output, /worker crash-looped: 5 exits within 60 s \(last: was killed by SIGKILL\)/);
      assert.equal((output.match(/restarting it in/g) ?? []).length, 4);
      assert.ok(await gone([...killed]));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      fs.rmSync(home, { recursive: true, force: true });
      await d.drop();
    }
  });

  it('with --no-migrate, refuses to start while migrations are pending (exit 2)', async () => {
    const d = await createTestDatabase({ migrated: false });
    try {
      const r = await cesar(['start', '--no-migrate', '--api-port', '0', '--dashboard-port', '0'], {
        DATABASE_URL: d.url,
        CESAR_HOME: tempHome(),
      });
      assert.equal(r.exitCode, 2, r.stderr);
      assert.match(r.stderr, /cesar: \d+ migrations are pending and --no-migrate was given \(next: run `cesar migrate`/);
      assert.equal((await sql(d.url, `SELECT to_regclass('agents') IS NULL AS untouched`))[0]!.untouched, true);
    } finally {
      await d.drop();
    }
  });
});

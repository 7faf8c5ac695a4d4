import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa, type ResultPromise } from 'execa';
import pg from 'pg';
import { acquireEmbedded, type EmbeddedLease } from '../../src/db/embedded.js';
import { migrate } from '../../src/db/migrator.js';
import { silentLogger } from '../../src/log.js';
import { cesar, cesarBin } from '../helpers/cli.js';
import { sql } from '../helpers/db.js';

/**
 * A PostgreSQL server this file owns (never the shared test server): an embedded one in a home of
 * its own, stopped and started again on the same port, so DATABASE_URL stays valid.
 */
const serverSettings = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' };
// As long as the outside probe's outage, and longer than the workers' 30 s lease.
const outageMs = 60_000;

/** Child processes of pid, from /proc, with their command lines. */
function childrenOf(pid: number): Array<{ pid: number; cmd: string }> {
  const found: Array<{ pid: number; cmd: string }> = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(after[1]) !== pid || after[0] === 'Z') continue;
      found.push({ pid: Number(entry), cmd: fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ') });
    } catch {
      // gone
    }
  }
  return found;
}

/** Alive and not a zombie. */
function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Poll probe every 250 ms until it gives a truthy value. */
async function until<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await Promise.resolve()
      .then(probe)
      .catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const tempDirs: string[] = [];
function tempHome(): string {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'cesar-outage-test-'));
  fs.chmodSync(home, 0o755); // the OS user postgres must reach it when we run as root
  tempDirs.push(home);
  return home;
}

describe('cesar start through a database outage (a PostgreSQL server of its own)', () => {
  let serverHome: string;
  let lease: EmbeddedLease;
  let url: string;
  before(async () => {
    serverHome = tempHome();
    lease = await acquireEmbedded({ home: serverHome, port: 0, log: silentLogger, serverSettings });
    url = lease.url;
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    await migrate(pool, silentLogger);
    await pool.end();
  });
  after(async () => {
    await lease?.release({ force: true });
    for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('waits for the database, restarts a worker killed meanwhile, and runs jobs again once it is back', async () => {
    let output = '';
    const child: ResultPromise = execa(
      process.execPath,
      [cesarBin, 'start', '--workers', '2', '--api-port', '0', '--dashboard-port', '0'],
      {
        reject: false,
        extendEnv: false,
        all: true,
        env: { PATH: process.env.PATH, NO_COLOR: '1', DATABASE_URL: url, CESAR_HOME: tempHome(), CESAR_FIRST_RUNS: 'off' },
      },
    );
    child.all!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    try {
      await until('the ready line', () => /All systems initialized and ready!/.test(output) || child.exitCode !== null);
      const apiUrl = /API: (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
      assert.ok(apiUrl, output);

      await lease.release({ force: true });
      const outageEnds = Date.now() + outageMs;
      const workers = childrenOf(child.pid!).filter((c) => / worker /.test(c.cmd));
      assert.equal(workers.length, 2, output);
      process.kill(workers[0]!.pid, 'SIGKILL');
      const health = await until('/health to answer 503', async () => {
        const response = await fetch(`${apiUrl}/health`);
        return response.status === 503 && ((await response.json()) as { reason: string });
      });
      assert.match(health.reason, /database/);
      await until('the restarted worker to wait for the database', () =>
        /worker-\d\s+\| WARN: the worker is waiting for the database: cannot reach the database at 127\.0\.0\.1:\d+: connection refused/.test(
          output,
        ),
      );
      await new Promise((r) => setTimeout(r, Math.max(0, outageEnds - Date.now())));
      assert.equal(child.exitCode, null, output);

      lease = await acquireEmbedded({ home: serverHome, port: lease.port, log: silentLogger, serverSettings });
      assert.equal(lease.url, url, 'the server is back on the same port');
      await until('the killed worker to be ready again', () => /worker-\d is ready again/.test(output), 90_000);
      const enqueued = await cesar(['enqueue', 'canary', '--json'], { DATABASE_URL: url, CESAR_HOME: tempHome() });
      assert.equal(enqueued.exitCode, 0, enqueued.stderr);
      const { id } = JSON.parse(enqueued.stdout) as { id: number };
      await until(
        'the canary job to complete',
        async () => (await sql(url, 'SELECT status FROM job_queue WHERE id = $1', [id]))[0]?.status === 'completed',
      );
      await until('/health to answer 200', async () => (await fetch(`${apiUrl}/health`)).status === 200);
      const parts = childrenOf(child.pid!);
      assert.equal(parts.filter((c) => / worker /.test(c.cmd)).length, 2, output);
      assert.equal(parts.filter((c) => / api /.test(c.cmd)).length, 1, output);
      assert.equal(child.exitCode, null, output);
      assert.doesNotMatch(output, /crash-looped|exited with code 2/);

      child.kill('SIGTERM');
      assert.equal((await child).exitCode, 0, output);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('on the embedded PostgreSQL, stops every part and exits 1 when that server dies', async () => {
    const home = tempHome();
    let output = '';
    let postmaster: number | undefined;
    const child = execa(process.execPath, [cesarBin, 'start', '--only', 'worker'], {
      reject: false,
      extendEnv: false,
      all: true,
      env: { PATH: process.env.PATH, NO_COLOR: '1', CESAR_HOME: home },
    });
    child.all!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    try {
      await until('the ready line', () => /All systems initialized and ready!/.test(output) || child.exitCode !== null, 120_000);
      const workers = childrenOf(child.pid!).map((c) => c.pid);
      postmaster = Number(fs.readFileSync(path.join(home, 'pgdata', 'postmaster.pid'), 'utf8').split('\n')[0]);
      process.kill(postmaster, 'SIGINT'); // fast shutdown, as if the server died
      const result = await child;
      assert.equal(result.exitCode, 1, output);
      assert.match(output, /cesar: the embedded PostgreSQL stopped answering \(.*\); see .*postgres\.log, then run `cesar start` again/);
      await until('every part to be gone', () => workers.every((pid) => !running(pid)), 10_000);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      if (postmaster && running(postmaster)) process.kill(postmaster, 'SIGKILL');
    }
  });

  it('fails fast on a wrong password or a missing database (exit 2), without waiting', async () => {
    const wrongPassword = new URL(url);
    wrongPassword.password = 'not-the-password';
    const missing = new URL(url);
    missing.pathname = '/no_such_database';
    for (const [target, message] of [
      [wrongPassword, /refused user "postgres": wrong password/],
      [missing, /database "no_such_database" does not exist/],
    ] as const) {
      for (const args of [['worker'], ['start', '--api-port', '0', '--dashboard-port', '0']]) {
        const r = await cesar(args, { DATABASE_URL: target.toString(), CESAR_HOME: tempHome() }, { timeoutMs: 20_000 });
        assert.equal(r.exitCode, 2, `${args[0]}: ${r.stderr}`);
        assert.match(r.stderr, message);
        assert.doesNotMatch(r.stderr, /waiting for the database|not-the-password/);
      }
    }
  });
});

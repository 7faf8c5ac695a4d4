import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { acquireEmbedded } from '../../src/db/embedded.js';
import { silentLogger } from '../../src/log.js';
import { cesar, failedChecks } from '../helpers/cli.js';

/** PIDs of postmasters running on this data directory, read from /proc. */
function postmastersOf(pgdata: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith('/postgres') && argv.includes(pgdata)) pids.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return pids;
}

function uidOf(pid: number): number {
  const line = fs
    .readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Uid:'))!;
  return Number(line.split(/\s+/)[1]);
}

describe('the embedded PostgreSQL of a CESAR_HOME', () => {
  let home: string;
  let pgdata: string;
  before(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'cesar-embedded-test-'));
    fs.chmodSync(home, 0o755);
    pgdata = path.join(home, 'pgdata');
  });
  after(() => {
    for (const pid of postmastersOf(pgdata)) process.kill(pid, 'SIGKILL');
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('two commands started at the same moment on a new home: one cluster, one start, both succeed, server stopped after', async () => {
    const env = { CESAR_HOME: home };
    const [a, b] = await Promise.all([cesar(['migrate'], env, { timeoutMs: 120_000 }), cesar(['migrate'], env, { timeoutMs: 120_000 })]);
    assert.equal(a.exitCode, 0, a.stderr);
    assert.equal(b.exitCode, 0, b.stderr);
    const initialised = [a, b].filter((r) => /Initialising the embedded PostgreSQL/.test(r.stderr)).length;
    assert.equal(initialised, 1, 'initdb ran exactly once');
    assert.ok(fs.existsSync(path.join(pgdata, 'PG_VERSION')));
    assert.deepEqual(postmastersOf(pgdata), [], 'the last command stopped the server');
    const verify = await cesar(['verify'], env);
    assert.deepEqual([verify.exitCode, failedChecks(verify.stdout)], [0, []], verify.stderr);
    assert.match(verify.stdout, /PostgreSQL 18\.\d+ at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/cesar \(embedded\)/);
    assert.deepEqual(postmastersOf(pgdata), []);
  });

  it('keeps its data between runs, its password in a 0600 file, and listens on loopback only', async () => {
    const mode = fs.statSync(path.join(home, 'embedded-password')).mode & 0o777;
    assert.equal(mode, 0o600);
    const lease = await acquireEmbedded({ home, port: 0, log: silentLogger });
    try {
      const client = new pg.Client({ connectionString: lease.url });
      await client.connect();
      const { rows } = await client.query(`SELECT current_setting('listen_addresses') AS listen, (SELECT count(*) FROM agents) AS agents`);
      await client.end();
      assert.deepEqual(rows[0], { listen: '127.0.0.1', agents: '48' });
      const [pid] = postmastersOf(pgdata);
      assert.ok(pid);
      if (process.getuid?.() === 0) {
        const postgresUid = Number(fs.statSync(pgdata).uid);
        assert.notEqual(postgresUid, 0);
        assert.equal(uidOf(pid), postgresUid, 'as root, the server runs as the OS user postgres');
      } else {
        assert.equal(uidOf(pid), process.getuid?.());
      }
    } finally {
      await lease.release();
    }
    assert.deepEqual(postmastersOf(pgdata), []);
  });

  it('a command finds the running server, uses it, and leaves it running for its other user', async () => {
    const lease = await acquireEmbedded({ home, port: 0, log: silentLogger });
    try {
      assert.equal(lease.startedHere, true);
      const r = await cesar(['status', '--json'], { CESAR_HOME: home });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(JSON.parse(r.stdout).database, new RegExp(`127\\.0\\.0\\.1:${lease.port}/cesar$`));
      assert.equal(postmastersOf(pgdata).length, 1, 'still running for the lease holder');
    } finally {
      await lease.release();
    }
    assert.deepEqual(postmastersOf(pgdata), [], 'stopped once its last user released it');
  });

  it('recovers from an owner killed by SIGKILL: the next command uses the orphaned server and stops it', async () => {
    const { execa } = await import('execa');
    const { cesarBin } = await import('../helpers/cli.js');
    const watcher = execa(process.execPath, [cesarBin, 'verify', '--watch', '60', '--json'], {
      reject: false,
      extendEnv: false,
      env: { PATH: process.env.PATH, CESAR_HOME: home },
    });
    await new Promise<void>((resolve) => watcher.stdout!.once('data', () => resolve()));
    assert.equal(postmastersOf(pgdata).length, 1);
    watcher.kill('SIGKILL');
    await watcher;
    assert.equal(postmastersOf(pgdata).length, 1, 'the orphaned server survives its owner');
    const r = await cesar(['verify'], { CESAR_HOME: home });
    assert.deepEqual([r.exitCode, failedChecks(r.stdout)], [0, []], r.stderr);
    assert.deepEqual(postmastersOf(pgdata), []);
  });

  it('works as an ordinary user too (as root, the test runs cesar as the OS user postgres)', async (t) => {
    const { execa } = await import('execa');
    const { cesarBin } = await import('../helpers/cli.js');
    if (process.getuid?.() !== 0) {
      t.diagnostic('the whole suite already runs as an ordinary user; nothing more to check here');
      return;
    }
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'cesar-user-test-'));
    fs.chmodSync(base, 0o755);
    const postgresUid = fs.statSync(pgdata).uid;
    const postgresGid = fs.statSync(pgdata).gid;
    fs.chownSync(base, postgresUid, postgresGid);
    const userHome = path.join(base, 'home');
    try {
      const run = (args: string[]) =>
        execa(process.execPath, [cesarBin, ...args], {
          reject: false,
          extendEnv: false,
          uid: postgresUid,
          gid: postgresGid,
          cwd: base,
          env: { PATH: process.env.PATH, CESAR_HOME: userHome, NO_COLOR: '1' },
        });
      const migrate = await run(['migrate']);
      assert.equal(migrate.exitCode, 0, String(migrate.stderr));
      const verify = await run(['verify']);
      assert.deepEqual([verify.exitCode, failedChecks(String(verify.stdout))], [0, []], String(verify.stderr));
      assert.equal(fs.statSync(path.join(userHome, 'pgdata')).uid, postgresUid);
      assert.deepEqual(postmastersOf(path.join(userHome, 'pgdata')), []);
    } finally {
      for (const pid of postmastersOf(path.join(userHome, 'pgdata'))) process.kill(pid, 'SIGKILL');
      fs.rmSync(base, { recursive: true, force: true });
    }
  });
});

import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { cesar } from '../helpers/cli.js';
import { adminUrl, createTestDatabase } from '../helpers/db.js';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  return lines[0]!;
}

describe('cesar errors: one line, a documented exit code, no secrets', () => {
  it('prints the version quickly and exits 0', async () => {
    const r = await cesar(['--version']);
    assert.equal(r.exitCode, 0);
    assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+$/);
  });

  it('exits 64 on an unknown flag', async () => {
    const r = await cesar(['verify', '--frobnicate']);
    assert.equal(r.exitCode, 64);
    assert.match(oneLine(r.stderr), /unknown option '--frobnicate'/);
  });

  it('exits 64 on an unknown command', async () => {
    const r = await cesar(['launch']);
    assert.equal(r.exitCode, 64);
    assert.match(r.stderr, /unknown command 'launch'/);
  });

  it('exits 64 on a bad flag value', async () => {
    const r = await cesar(['verify', '--watch', 'soon']);
    assert.equal(r.exitCode, 64);
    assert.match(oneLine(r.stderr), /expected seconds/);
  });

  it('exits 78 on a bad setting, naming it and what is allowed', async () => {
    const r = await cesar(['status'], { CESAR_LOG_LEVEL: 'loud', DATABASE_URL: 'postgres://x@127.0.0.1/y' });
    assert.equal(r.exitCode, 78);
    assert.match(oneLine(r.stderr), /CESAR_LOG_LEVEL must be one of debug, info, warn, error; got "loud"/);
  });

  it('exits 2 when the database is unreachable, without the password', async () => {
    const port = await closedPort();
    const r = await cesar(['verify'], { DATABASE_URL: `postgres://postgres:Sup3rSecretPw@127.0.0.1:${port}/cesar` });
    assert.equal(r.exitCode, 2);
    const line = oneLine(r.stderr);
    assert.match(line, new RegExp(`cannot reach the database at 127.0.0.1:${port}: connection refused`));
    assert.doesNotMatch(r.stderr + r.stdout, /Sup3rSecretPw/);
  });

  it('exits 2 on a wrong password, without the password', async (t) => {
    // The embedded server and most servers check passwords; a trust-auth server (like CI's
    // PostgreSQL 15 on 127.0.0.1) accepts any, so there we check only that nothing leaks.
    const url = new URL(adminUrl);
    url.password = 'Wr0ngPassw0rd!';
    const r = await cesar(['verify'], { DATABASE_URL: url.toString() });
    assert.doesNotMatch(r.stderr + r.stdout, /Wr0ngPassw0rd/);
    if (r.exitCode !== 2 || !/wrong password/.test(r.stderr)) {
      t.diagnostic(`this server accepted the wrong password (trust auth: ${r.stderr.trim()}); only the masking was checked`);
      return;
    }
    assert.match(oneLine(r.stderr), /refused user "postgres": wrong password/);
  });

  it('exits 2 when the database does not exist, pointing at cesar migrate', async () => {
    const url = new URL(adminUrl);
    url.pathname = '/cesar_no_such_database';
    const r = await cesar(['status'], { DATABASE_URL: url.toString() });
    assert.equal(r.exitCode, 2);
    assert.match(oneLine(r.stderr), /database "cesar_no_such_database" does not exist.*cesar migrate/);
  });

  it('adds the stack trace with --verbose', async () => {
    const port = await closedPort();
    const r = await cesar(['verify', '--verbose'], { DATABASE_URL: `postgres://postgres:pw12345@127.0.0.1:${port}/cesar` });
    assert.equal(r.exitCode, 2);
    assert.match(r.stderr, /\n\s+at /);
    assert.doesNotMatch(r.stderr, /pw12345/);
  });

  it('says in one line that --only and --no-scheduler left nothing to start (exit 78)', async () => {
    const d = await createTestDatabase();
    try {
      const r = await cesar(['start', '--only', 'scheduler', '--no-scheduler'], { DATABASE_URL: d.url });
      assert.equal(r.exitCode, 78);
      assert.match(r.stderr, /^cesar: nothing to start: --only scheduler with --no-scheduler leaves no part$/m);
      assert.doesNotMatch(r.stderr, /issue/i);
    } finally {
      await d.drop();
    }
  });

  it('prints errors as JSON on stderr with --json', async () => {
    const port = await closedPort();
    const r = await cesar(['status', '--json'], { DATABASE_URL: `postgres://u:pw98765@127.0.0.1:${port}/x` });
    assert.equal(r.exitCode, 2);
    const error = JSON.parse(r.stderr).error;
    assert.equal(error.code, 'db_unreachable');
    assert.equal(error.exit_code, 2);
    assert.doesNotMatch(r.stderr, /pw98765/);
  });
});

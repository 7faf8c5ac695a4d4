import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { builtInJobTypes } from '../../src/jobs/index.js';
import { enqueue } from '../../src/queue/enqueue.js';
import { cesar } from '../helpers/cli.js';
import { sql, useTestDatabase } from '../helpers/db.js';

function oneLine(stderr: string): string {
  const lines = stderr.replace(/\n$/, '').split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting there are none is the point
  assert.doesNotMatch(lines[0]!, /[\u0000-\u001f\u007f]/, 'no raw control character');
  return lines[0]!;
}

describe('cesar enqueue: hostile input, flag errors, dates', () => {
  const t = useTestDatabase();
  const env = () => ({ DATABASE_URL: t.url });
  const jobCount = async () => Number((await sql(t.url, 'SELECT count(*) AS n FROM job_queue'))[0]!.n);

  it('prints one escaped line for input holding newlines, escape sequences or NUL, and enqueues nothing', async () => {
    const before = await jobCount();
    const forged = await cesar(['enqueue', 'canary', '--payload', '{"sleep_ms":1,"x\\n\\u001b[31mFAKE LOG LINE":1}'], env());
    assert.equal(forged.exitCode, 65);
    assert.match(oneLine(forged.stderr), /unknown field "x\\n\\u001b\[31mFAKE LOG LINE"/);
    const type = await cesar(['enqueue', 'canary\ncesar: all good'], env());
    assert.equal(type.exitCode, 65);
    assert.match(oneLine(type.stderr), /unknown job type "canary\\ncesar: all good"/);
    const nul = await cesar(['enqueue', 'canary', '--payload', '{"\\u0000":1}'], env());
    assert.equal(nul.exitCode, 65);
    assert.match(oneLine(nul.stderr), /unknown field "\\u0000"/);
    const key = await cesar(['enqueue', 'canary', '--key', 'k\u001b[2J'], env());
    assert.equal(key.exitCode, 0, key.stderr);
    assert.match(oneLine(key.stderr), /Enqueued canary job/);
    assert.equal(await jobCount(), before + 1, 'only the valid job');
  });

  it('sends flag errors of every command through the one error format, as JSON with --json', async () => {
    const json = await cesar(['enqueue', 'canary', '--priority', 'x', '--json'], env());
    assert.equal(json.exitCode, 64);
    const error = JSON.parse(oneLine(json.stderr)).error;
    assert.equal(error.code, 'usage');
    assert.equal(error.exit_code, 64);
    assert.match(error.message, /option '--priority <n>' argument 'x' is invalid/);
    const cases: string[][] = [
      ['enqueue', 'canary', '--priority', 'x\nFORGED'],
      ['worker', '--concurrency', '0'],
      ['jobs', 'show', 'abc'],
      ['jobs', 'list', '--limit', '5000'],
      ['verify', '--watch', 'soon'],
      ['start', '--only', 'nothing'],
      ['api', '--api-port', '99999'],
      ['migrate', '--bogus'],
      ['status', '--json', '--bogus'],
    ];
    for (const args of cases) {
      const r = await cesar(args, env());
      assert.equal(r.exitCode, 64, args.join(' '));
      const line = oneLine(r.stderr);
      if (args.includes('--json')) assert.equal(JSON.parse(line).error.code, 'usage');
      else assert.match(line, /^cesar: .* \(next: see `cesar .*--help`\)$/, args.join(' '));
    }
  });

  it('refuses impossible dates, and takes real ones', async () => {
    for (const bad of ['2026-02-30T00:00:00Z', '2026-04-31', '2026-12-01T24:00:00Z', '2027-02-29T00:00:00Z']) {
      const r = await cesar(['enqueue', 'canary', '--run-at', bad], env());
      assert.equal(r.exitCode, 64, bad);
      assert.match(oneLine(r.stderr), /--run-at <iso>.*expected an ISO 8601 time like .*, with a real date and time/);
    }
    const leap = await cesar(['enqueue', 'canary', '--run-at', '2028-02-29T12:00:00Z', '--json'], env());
    assert.equal(leap.exitCode, 0, leap.stderr);
    assert.equal(JSON.parse(leap.stdout).run_at, '2028-02-29T12:00:00.000Z');
  });
});

describe('cesar enqueue --unique-for: cron firing twice makes one job', () => {
  const t = useTestDatabase();
  const env = () => ({ DATABASE_URL: t.url });
  const finish = (id: number, agoSeconds = 1) =>
    sql(t.url, `UPDATE job_queue SET status = 'completed', finished_at = now() - $2 * interval '1 second' WHERE id = $1`, [id, agoSeconds]);

  it('holds the key for the window after the job finished', async () => {
    const first = await cesar(['enqueue', 'canary', '--key', 'min-1200', '--unique-for', '1m', '--json'], env());
    assert.equal(first.exitCode, 0, first.stderr);
    const id = JSON.parse(first.stdout).id as number;
    await finish(id);
    const again = await cesar(['enqueue', 'canary', '--key', 'min-1200', '--unique-for', '1m', '--json'], env());
    assert.equal(again.exitCode, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout), { ...JSON.parse(again.stdout), id, deduplicated: true, status: 'completed' });
    const text = await cesar(['enqueue', 'canary', '--key', 'min-1200', '--unique-for', '1m'], env());
    assert.equal(text.stdout.trim(), String(id));
    assert.match(
      oneLine(text.stderr),
      new RegExp(`Deduplicated: job ${id} with key "min-1200" is completed, within the --unique-for window`),
    );
    // Without a window the key holds only while its job is pending or running (as before).
    const plain = await cesar(['enqueue', 'canary', '--key', 'min-1200', '--json'], env());
    assert.equal(JSON.parse(plain.stdout).deduplicated, false);
  });

  it('lets the key go once the window is over', async () => {
    const first = JSON.parse((await cesar(['enqueue', 'canary', '--key', 'min-1201', '--unique-for', '1m', '--json'], env())).stdout);
    await finish(first.id, 61);
    const later = JSON.parse((await cesar(['enqueue', 'canary', '--key', 'min-1201', '--unique-for', '1m', '--json'], env())).stdout);
    assert.equal(later.deduplicated, false);
    assert.notEqual(later.id, first.id);
  });

  it('refuses a window without a key, or longer than the retention', async () => {
    const noKey = await cesar(['enqueue', 'canary', '--unique-for', '1m'], env());
    assert.equal(noKey.exitCode, 64);
    assert.match(oneLine(noKey.stderr), /--unique-for needs --key/);
    const tooLong = await cesar(['enqueue', 'canary', '--key', 'k', '--unique-for', '30d'], { ...env(), CESAR_JOB_RETENTION: '7d' });
    assert.equal(tooLong.exitCode, 64);
    assert.match(oneLine(tooLong.stderr), /--unique-for is longer than CESAR_JOB_RETENTION/);
  });

  it('makes one job when many enqueue the same key at once', async () => {
    const registry = builtInJobTypes();
    const results = await Promise.all(
      Array.from({ length: 10 }, () => enqueue(t.handle.pool, { type: 'canary', dedupeKey: 'race-1', uniqueForMs: 60_000 }, registry)),
    );
    assert.equal(new Set(results.map((r) => r.id)).size, 1);
    assert.equal(results.filter((r) => !r.deduplicated).length, 1);
  });
});

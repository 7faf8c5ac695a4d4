import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { execa, type ResultPromise } from 'execa';
import { cesar, cesarBin, failedChecks } from '../helpers/cli.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/queue.js';

const databases: TestDatabase[] = [];
const children: ResultPromise[] = [];
after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.allSettled(children);
  await Promise.all(databases.map((d) => d.drop()));
});
async function database(): Promise<TestDatabase> {
  const d = await createTestDatabase();
  databases.push(d);
  return d;
}

/** A real `cesar worker` process. */
function worker(url: string, args: string[] = []): ResultPromise & { output: () => string } {
  let output = '';
  const child = execa(process.execPath, [cesarBin, 'worker', ...args], {
    reject: false,
    extendEnv: false,
    all: true,
    env: { PATH: process.env.PATH, DATABASE_URL: url, NO_COLOR: '1' },
  });
  child.all!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  children.push(child);
  return Object.assign(child, { output: () => output });
}

const count = async (url: string, where: string, values: unknown[] = []) =>
  Number((await sql(url, `SELECT count(*) AS n FROM job_queue WHERE ${where}`, values))[0]!.n);

describe('cesar enqueue, worker and jobs (processes)', () => {
  it('does what the issue asks on a fresh database: fails twice, succeeds on the third attempt, shows both errors', async () => {
    const d = await database();
    const env = { DATABASE_URL: d.url };
    const enq = await cesar(['enqueue', 'canary', '--payload', '{"fail_attempts":2}'], env);
    assert.equal(enq.exitCode, 0, enq.stderr);
    const id = Number(enq.stdout.trim());
    assert.ok(id > 0);
    const w = worker(d.url);
    await waitFor('the third attempt', async () => (await count(d.url, `id = $1 AND status = 'completed'`, [id])) === 1, 30_000);
    w.kill('SIGTERM');
    assert.equal((await w).exitCode, 0);
    assert.match(w.output(), /Connected to PostgreSQL/);
    assert.match(w.output(), /Polling for jobs every 2\.0 seconds/);

    const show = await cesar(['jobs', 'show', String(id), '--json'], env);
    assert.equal(show.exitCode, 0, show.stderr);
    const job = JSON.parse(show.stdout);
    assert.equal(job.status, 'completed');
    assert.deepEqual(
      job.attempts.map((a: { attempt: number; outcome: string }) => [a.attempt, a.outcome]),
      [
        [1, 'failed'],
        [2, 'failed'],
        [3, 'succeeded'],
      ],
    );
    assert.match(job.attempts[0].error, /canary failing on purpose: attempt 1/);
    assert.match(job.attempts[1].error, /canary failing on purpose: attempt 2/);
    const text = await cesar(['jobs', 'show', String(id)], env);
    assert.match(text.stdout, /│ 1\s+│ failed\s+│.*canary failing on purpose/);
  });

  it('three worker processes on one queue run every job exactly once', async () => {
    const d = await database();
    await sql(d.url, `INSERT INTO job_queue (job_type, payload) SELECT 'canary', '{}' FROM generate_series(1, 600)`);
    const workers = [worker(d.url, ['--concurrency', '4']), worker(d.url, ['--concurrency', '4']), worker(d.url, ['--concurrency', '4'])];
    await waitFor('all 600 jobs', async () => (await count(d.url, `status = 'completed'`)) === 600, 60_000);
    // A worker still starting when the others finished would be interrupted (exit 130), not stopped.
    await waitFor('every worker to be polling', async () => workers.every((w) => /Polling for jobs/.test(w.output())), 30_000);
    for (const w of workers) w.kill('SIGTERM');
    for (const w of workers) assert.equal((await w).exitCode, 0);
    const [stats] = await sql(
      d.url,
      `SELECT count(*) AS attempts, count(DISTINCT job_id) AS jobs,
        count(*) FILTER (WHERE outcome = 'succeeded') AS succeeded, count(DISTINCT worker_id) AS workers FROM job_attempts`,
    );
    assert.deepEqual(
      { attempts: stats!.attempts, jobs: stats!.jobs, succeeded: stats!.succeeded },
      { attempts: '600', jobs: '600', succeeded: '600' },
    );
    assert.ok(Number(stats!.workers) >= 2, `work was shared (${stats!.workers} workers)`);
  });

  it('a job whose worker is SIGKILLed mid-job completes on another worker after its lease expires', async () => {
    const d = await database();
    const enq = await cesar(['enqueue', 'canary', '--payload', '{"sleep_ms":1500}', '--json'], { DATABASE_URL: d.url });
    const { id } = JSON.parse(enq.stdout);
    const doomed = worker(d.url, ['--lease-seconds', '3']);
    await waitFor('the job to start', async () => (await count(d.url, `id = $1 AND status = 'in_progress'`, [id])) === 1);
    doomed.kill('SIGKILL');
    await doomed;
    const survivor = worker(d.url, ['--lease-seconds', '3', '--poll-interval', '500ms']);
    await waitFor(
      'the job to complete elsewhere',
      async () => (await count(d.url, `id = $1 AND status = 'completed'`, [id])) === 1,
      30_000,
    );
    survivor.kill('SIGTERM');
    await survivor;
    const attempts = await sql(d.url, 'SELECT attempt, outcome, worker_id FROM job_attempts WHERE job_id = $1 ORDER BY attempt', [id]);
    assert.deepEqual(
      attempts.map((a) => [a.attempt, a.outcome]),
      [
        [1, 'lease_expired'],
        [2, 'succeeded'],
      ],
    );
    assert.notEqual(attempts[0]!.worker_id, attempts[1]!.worker_id);
    assert.match(survivor.output(), /Rescued 1 job/);
  });

  it('SIGTERM lets the running job finish, then exits 0', async () => {
    const d = await database();
    const { stdout } = await cesar(['enqueue', 'canary', '--payload', '{"sleep_ms":1000}'], { DATABASE_URL: d.url });
    const id = Number(stdout.trim());
    const w = worker(d.url);
    await waitFor('the job to start', async () => (await count(d.url, `id = $1 AND status = 'in_progress'`, [id])) === 1);
    w.kill('SIGTERM');
    const result = await w;
    assert.equal(result.exitCode, 0);
    assert.equal(await count(d.url, `id = $1 AND status = 'completed'`, [id]), 1);
    assert.match(w.output(), /Worker stopped/);
  });

  it('dedupes with --key and says so, in text and JSON', async () => {
    const d = await database();
    const env = { DATABASE_URL: d.url };
    const first = JSON.parse((await cesar(['enqueue', 'canary', '--key', 'nightly', '--json'], env)).stdout);
    const second = await cesar(['enqueue', 'canary', '--key', 'nightly', '--json'], env);
    assert.deepEqual([JSON.parse(second.stdout).id, JSON.parse(second.stdout).deduplicated, first.deduplicated], [first.id, true, false]);
    const text = await cesar(['enqueue', 'canary', '--key', 'nightly'], env);
    assert.equal(text.stdout.trim(), String(first.id));
    assert.match(text.stderr, /Deduplicated: job \d+ with key "nightly"/);
    assert.equal(await count(d.url, 'true'), 1);
  });

  it('refuses bad input with one line and a documented exit code, leaving the queue unchanged', async () => {
    const d = await database();
    const env = { DATABASE_URL: d.url };
    await cesar(['enqueue', 'canary'], env);
    const big = path.join(os.tmpdir(), `cesar-big-${process.pid}.json`);
    fs.writeFileSync(big, JSON.stringify({ sleep_ms: 1, pad: 'x'.repeat(70_000) }));
    const cases: Array<[string[], number, RegExp, string?]> = [
      [['enqueue', 'canary', '--payload', '{not json'], 65, /--payload is not valid JSON/],
      [['enqueue', 'no_such_job'], 65, /unknown job type "no_such_job"; known types: canary/],
      [['enqueue', 'canary', '--payload', '{"sleep_ms":"soon"}'], 65, /invalid payload for canary: sleep_ms must be an integer/],
      [['enqueue', 'canary', '--payload', "'; DROP TABLE job_queue; --"], 65, /not valid JSON/],
      [['enqueue', "canary'; DROP TABLE job_queue; --"], 65, /unknown job type/],
      [['enqueue', 'canary', '--payload-file', big], 65, /payload limit is 65536 bytes/],
      [['enqueue', 'canary', '--payload-file', '/nonexistent/p.json'], 65, /cannot read --payload-file/],
      [['enqueue', 'canary', '--payload', '-'], 65, /the payload on stdin is not valid JSON/, 'nope'],
      [['enqueue', 'canary', '--priority', 'high'], 64, /expected an integer/],
      [['enqueue', 'canary', '--max-attempts', '0'], 64, /expected an integer from 1 to 1000/],
      [['enqueue', 'canary', '--delay', 'later'], 64, /expected a duration/],
      [['enqueue', 'canary', '--run-at', 'tomorrow'], 64, /expected an ISO 8601 time/],
      [['enqueue', 'canary', '--run-at', '2030-01-01T00:00:00Z', '--delay', '5s'], 64, /cannot be used with/],
      [['enqueue', 'canary', '--queue', 'NOT OK'], 65, /queue "NOT OK"/],
      [['enqueue'], 64, /missing required argument 'type'/],
    ];
    try {
      for (const [args, code, message, input] of cases) {
        const r = await cesar(args, env, { input });
        assert.equal(r.exitCode, code, `${args.join(' ')}: ${r.stderr}`);
        assert.equal(r.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, message, args.join(' '));
        assert.equal(r.stdout, '');
      }
    } finally {
      fs.rmSync(big, { force: true });
    }
    assert.equal(await count(d.url, 'true'), 1, 'nothing enqueued, nothing lost');
    const verify = await cesar(['verify'], env);
    assert.deepEqual([verify.exitCode, failedChecks(verify.stdout)], [0, []], 'every check passes');
  });

  it('reads the payload from stdin and from a file', async () => {
    const d = await database();
    const file = path.join(os.tmpdir(), `cesar-payload-${process.pid}.json`);
    fs.writeFileSync(file, '{"sleep_ms": 3}');
    try {
      const a = await cesar(['enqueue', 'canary', '--payload', '-', '--json'], { DATABASE_URL: d.url }, { input: '{"fail_attempts": 1}' });
      const b = await cesar(['enqueue', 'canary', '--payload-file', file, '--json'], { DATABASE_URL: d.url });
      const rows = await sql(d.url, 'SELECT id, payload FROM job_queue ORDER BY id');
      assert.deepEqual(
        rows.map((r) => [Number(r.id), r.payload]),
        [
          [JSON.parse(a.stdout).id, { fail_attempts: 1 }],
          [JSON.parse(b.stdout).id, { sleep_ms: 3 }],
        ],
      );
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('lists, retries and cancels jobs; unknown ids and wrong states are refused', async () => {
    const d = await database();
    const env = { DATABASE_URL: d.url };
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(Number((await cesar(['enqueue', 'canary'], env)).stdout.trim()));
    await sql(d.url, `UPDATE job_queue SET status = 'failed', attempts = 5, finished_at = now(), last_error = 'x' WHERE id = $1`, [ids[0]]);
    const list = JSON.parse((await cesar(['jobs', 'list', '--status', 'failed', '--json'], env)).stdout);
    assert.deepEqual(
      list.jobs.map((j: { id: number }) => j.id),
      [ids[0]],
    );
    const byType = JSON.parse((await cesar(['jobs', 'list', '--type', 'canary', '--json'], env)).stdout);
    assert.deepEqual(
      byType.jobs.map((j: { id: number }) => j.id),
      [...ids].reverse(),
    );

    const retry = await cesar(['jobs', 'retry', String(ids[0])], env);
    assert.equal(retry.exitCode, 0, retry.stderr);
    assert.match(retry.stdout, /pending again and runs now \(up to 5 more attempts\)/);
    const cancel = await cesar(['jobs', 'cancel', String(ids[1])], env);
    assert.equal(cancel.exitCode, 0, cancel.stderr);
    const again = await cesar(['jobs', 'cancel', String(ids[1])], env);
    assert.equal(again.exitCode, 65);
    assert.match(again.stderr, /job \d+ is cancelled and cannot be cancelled/);
    const missing = await cesar(['jobs', 'show', '999999'], env);
    assert.equal(missing.exitCode, 65);
    assert.match(missing.stderr, /no job 999999/);
    const badId = await cesar(['jobs', 'show', 'abc'], env);
    assert.equal(badId.exitCode, 64);
    const badStatus = await cesar(['jobs', 'list', '--status', 'exploded'], env);
    assert.equal(badStatus.exitCode, 65);
    assert.match(badStatus.stderr, /unknown status "exploded"/);
  });
});

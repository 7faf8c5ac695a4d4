import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { enqueue, enqueueMany } from '../../src/queue/enqueue.js';
import type { JobTypeSpec } from '../../src/queue/job-types.js';
import { cancelJob, retryJob } from '../../src/queue/jobs.js';
import { getJob, listJobs } from '../../src/read-model/index.js';
import { sql, useTestDatabase } from '../helpers/db.js';
import { inlineJobType, registryOf, runWorkerUntil, startWorker, waitFor } from '../helpers/queue.js';

const order: number[] = [];
const record = inlineJobType<{ n: number }>({
  name: 'record',
  description: 'records its n',
  timeoutMs: 10_000,
  async run({ payload }) {
    order.push(payload.n);
  },
});
const alwaysFail = inlineJobType({
  name: 'always_fail',
  description: 'fails',
  timeoutMs: 10_000,
  async run({ attempt }) {
    throw new Error(`boom on attempt ${attempt}`);
  },
});
const sleepy = inlineJobType<{ ms: number }>({
  name: 'sleepy',
  description: 'sleeps, honouring its signal',
  timeoutMs: 10_000,
  run: ({ payload, signal }) =>
    new Promise((resolve, reject) => {
      const t = setTimeout(resolve, payload.ms);
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          reject(signal.reason);
        },
        { once: true },
      );
    }),
});
const slow: JobTypeSpec = { ...sleepy, name: 'slow', timeoutMs: 100 };
const deaf = inlineJobType({
  name: 'deaf',
  description: 'sleeps 3 s and never reads its signal',
  timeoutMs: 100,
  run: () =>
    new Promise((resolve) =>
      setTimeout(() => {
        deafReturned = true;
        resolve(undefined);
      }, 3000),
    ),
});
let deafReturned = false;
// Handlers written in plain JavaScript: one throws before returning a promise, one returns a value.
const throwsAtOnce = inlineJobType({
  name: 'throws_at_once',
  description: 'throws synchronously',
  timeoutMs: 10_000,
  run() {
    throw new Error('thrown before any promise');
  },
});
const returnsValue = inlineJobType({
  name: 'returns_value',
  description: 'returns a plain value',
  timeoutMs: 10_000,
  run: () => 42,
});
// A handler whose error holds a NUL, which PostgreSQL cannot store in text.
const nulError = inlineJobType({
  name: 'nul_error',
  run() {
    throw new Error('bad\u0000byte');
  },
});
const registry = registryOf(record, alwaysFail, sleepy, slow, deaf, throwsAtOnce, returnsValue, nulError);

async function jobRow(url: string, id: number) {
  return (await sql(url, 'SELECT status, attempts, max_attempts, last_error FROM job_queue WHERE id = $1', [id]))[0]!;
}
async function attempts(url: string, id: number) {
  return sql(url, 'SELECT attempt, outcome, error, error_stack FROM job_attempts WHERE job_id = $1 ORDER BY attempt', [id]);
}

describe('worker (library, real PostgreSQL)', () => {
  const t = useTestDatabase();

  it('runs jobs in priority, then run_at, then id order', async () => {
    order.length = 0;
    const [{ now }] = (await sql(t.url, 'SELECT now() AS now')) as [{ now: Date }];
    const past = (s: number) => new Date(now.getTime() - s * 1000);
    await enqueueMany(
      t.handle.pool,
      [
        { type: 'record', payload: { n: 5 }, priority: 1, runAt: past(50) },
        { type: 'record', payload: { n: 3 }, priority: 0, runAt: past(10) },
        { type: 'record', payload: { n: 1 }, priority: -1, runAt: past(1) },
        { type: 'record', payload: { n: 2 }, priority: 0, runAt: past(30) },
        { type: 'record', payload: { n: 4 }, priority: 0, runAt: past(10) },
        { type: 'record', payload: { n: 9 }, priority: -9, delayMs: 3_600_000 },
      ],
      registry,
    );
    const w = await startWorker(t.url, registry, { concurrency: 1, prefetch: 0 });
    try {
      await waitFor('five jobs', async () => order.length >= 5);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(order, [1, 2, 3, 4, 5], 'the job due in an hour has not run');
    } finally {
      await w.stop();
    }
  });

  it('retries with backoff and marks the job failed (dead) after 5 attempts, recording each error', async () => {
    const { id } = await enqueue(t.handle.pool, { type: 'always_fail' }, registry);
    await runWorkerUntil(t.url, registry, 'the job to fail for good', async () => (await jobRow(t.url, id)).status === 'failed');
    const row = await jobRow(t.url, id);
    assert.deepEqual({ ...row }, { status: 'failed', attempts: 5, max_attempts: 5, last_error: 'boom on attempt 5' });
    const history = await attempts(t.url, id);
    assert.deepEqual(
      history.map((a) => [a.attempt, a.outcome, a.error]),
      [1, 2, 3, 4, 5].map((n) => [n, 'failed', `boom on attempt ${n}`]),
    );
    assert.ok(history.every((a) => /boom on attempt/.test(a.error_stack)));
    assert.ok(
      (await listJobs(await t.handle.kysely(), { status: 'failed' })).some((j) => j.id === id),
      'dead jobs are kept and listed',
    );

    const retried = await retryJob(t.handle.pool, id);
    assert.deepEqual([retried.status, retried.max_attempts], ['pending', 10]);
  });

  it('records a failure whose error text holds a NUL, and the failures after it', async () => {
    const nul = await enqueue(t.handle.pool, { type: 'nul_error', maxAttempts: 1 }, registry);
    const after = await enqueue(t.handle.pool, { type: 'always_fail', maxAttempts: 1 }, registry);
    await runWorkerUntil(
      t.url,
      registry,
      'both failures to be recorded',
      async () => (await jobRow(t.url, nul.id)).status === 'failed' && (await jobRow(t.url, after.id)).status === 'failed',
      { concurrency: 1, prefetch: 0 },
    );
    assert.equal((await jobRow(t.url, nul.id)).last_error, 'bad\\0byte');
    assert.deepEqual(
      (await attempts(t.url, nul.id)).map((a) => [a.outcome, a.error]),
      [['failed', 'bad\\0byte']],
    );
  });

  it('times out a slow attempt and counts it as timed_out', async () => {
    const { id } = await enqueue(t.handle.pool, { type: 'slow', payload: { ms: 5000 }, maxAttempts: 1 }, registry);
    await runWorkerUntil(t.url, registry, 'the timeout', async () => (await jobRow(t.url, id)).status === 'failed');
    assert.deepEqual(
      (await attempts(t.url, id)).map((a) => [a.outcome, a.error]),
      [['timed_out', 'timed out after 100 ms']],
    );
  });

  it('times out a handler that ignores its signal, without waiting for it', async () => {
    const { id } = await enqueue(t.handle.pool, { type: 'deaf', maxAttempts: 1 }, registry);
    const w = await startWorker(t.url, registry);
    try {
      await waitFor('the timeout', async () => (await jobRow(t.url, id)).status === 'failed');
      assert.equal(deafReturned, false, 'the attempt was recorded before the handler itself returned');
    } finally {
      await w.stop();
    }
    assert.deepEqual(
      (await attempts(t.url, id)).map((a) => [a.outcome, a.error]),
      [['timed_out', 'timed out after 100 ms']],
    );
  });

  it('records a handler that throws synchronously as a failed attempt, and one that returns a plain value as a success', async () => {
    const thrown = await enqueue(t.handle.pool, { type: 'throws_at_once', maxAttempts: 1 }, registry);
    const plain = await enqueue(t.handle.pool, { type: 'returns_value' }, registry);
    await runWorkerUntil(
      t.url,
      registry,
      'both jobs to finish',
      async () => (await jobRow(t.url, thrown.id)).status === 'failed' && (await jobRow(t.url, plain.id)).status === 'completed',
    );
    assert.deepEqual(
      (await attempts(t.url, thrown.id)).map((a) => [a.outcome, a.error]),
      [['failed', 'thrown before any promise']],
    );
    assert.deepEqual(
      (await attempts(t.url, plain.id)).map((a) => a.outcome),
      ['succeeded'],
    );
  });

  it('graceful stop: lets a running job finish within the grace period', async () => {
    const { id } = await enqueue(t.handle.pool, { type: 'sleepy', payload: { ms: 400 } }, registry);
    const w = await startWorker(t.url, registry, { shutdownGraceMs: 5000 });
    await waitFor('the job to start', async () => (await jobRow(t.url, id)).status === 'in_progress');
    await w.stop();
    assert.equal((await jobRow(t.url, id)).status, 'completed');
  });

  it('graceful stop: returns a job still running after the grace period, without counting the attempt', async () => {
    const { id } = await enqueue(t.handle.pool, { type: 'sleepy', payload: { ms: 8000 } }, registry);
    const w = await startWorker(t.url, registry, { shutdownGraceMs: 100 });
    await waitFor('the job to start', async () => (await jobRow(t.url, id)).status === 'in_progress');
    await w.stop();
    const row = await jobRow(t.url, id);
    assert.deepEqual([row.status, row.attempts], ['pending', 0]);
    assert.deepEqual(
      (await attempts(t.url, id)).map((a) => a.outcome),
      ['returned'],
    );

    // Run again (quickly this time): a new attempt row, numbered after the returned one; one attempt counted.
    await sql(t.url, `UPDATE job_queue SET payload = '{"ms": 10}' WHERE id = $1`, [id]);
    await runWorkerUntil(t.url, registry, 'the returned job to complete', async () => (await jobRow(t.url, id)).status === 'completed');
    assert.equal((await jobRow(t.url, id)).attempts, 1);
    assert.deepEqual(
      (await attempts(t.url, id)).map((a) => [a.attempt, a.outcome]),
      [
        [1, 'returned'],
        [2, 'succeeded'],
      ],
    );
  });

  it('takes over a job whose worker died once its lease expired, counting the attempt', async () => {
    const { id } = await enqueue(t.handle.pool, { type: 'record', payload: { n: 42 } }, registry);
    // A worker that claimed it and died: in progress, lease run out, attempt open.
    await sql(
      t.url,
      `UPDATE job_queue SET status = 'in_progress', attempts = 1, claims = 1, locked_by = 'dead-worker', lease_expires_at = now() - interval '1 second' WHERE id = $1`,
      [id],
    );
    await sql(t.url, `INSERT INTO job_attempts (job_id, attempt, worker_id) VALUES ($1, 1, 'dead-worker')`, [id]);
    await runWorkerUntil(t.url, registry, 'the rescued job to complete', async () => (await jobRow(t.url, id)).status === 'completed');
    assert.equal((await jobRow(t.url, id)).attempts, 2);
    const history = await attempts(t.url, id);
    assert.deepEqual(
      history.map((a) => a.outcome),
      ['lease_expired', 'succeeded'],
    );
    assert.match(history[0]!.error, /lease expired: worker dead-worker/);
  });

  it('a cancelled running job is aborted through its lost lease and stays cancelled', async () => {
    const { id } = await enqueue(t.handle.pool, { type: 'sleepy', payload: { ms: 20_000 } }, registry);
    const w = await startWorker(t.url, registry, { leaseSeconds: 3 });
    try {
      await waitFor('the job to start', async () => (await jobRow(t.url, id)).status === 'in_progress');
      await cancelJob(t.handle.pool, id);
      await waitFor('the worker to let go', async () => w.worker.idle().then(() => true), 5000);
    } finally {
      await w.stop();
    }
    assert.equal((await jobRow(t.url, id)).status, 'cancelled');
    const job = await getJob(await t.handle.kysely(), id);
    assert.deepEqual(
      job!.attempts.map((a) => a.outcome),
      ['cancelled'],
    );
  });

  it('wakes on NOTIFY: a job enqueued while the worker idles starts long before the next poll', async () => {
    order.length = 0;
    const w = await startWorker(t.url, registry, { pollIntervalMs: 60_000 });
    try {
      await new Promise((r) => setTimeout(r, 300)); // let LISTEN connect
      const started = Date.now();
      await enqueue(t.handle.pool, { type: 'record', payload: { n: 7 } }, registry);
      await waitFor('the job', async () => order.includes(7), 10_000);
      assert.ok(Date.now() - started < 30_000);
    } finally {
      await w.stop();
    }
  });
});

describe('retention', () => {
  const t = useTestDatabase();

  it('deletes completed and cancelled jobs older than the retention period (with their attempts), keeps failed ones and recent ones', async () => {
    await sql(
      t.url,
      `INSERT INTO job_queue (id, job_type, status, attempts, finished_at, last_error) OVERRIDING SYSTEM VALUE VALUES
        (1001, 'canary', 'completed', 1, now() - interval '10 days', NULL),
        (1002, 'canary', 'cancelled', 0, now() - interval '10 days', NULL),
        (1003, 'canary', 'failed', 5, now() - interval '10 days', 'boom'),
        (1004, 'canary', 'completed', 1, now() - interval '1 day', NULL)`,
    );
    await sql(
      t.url,
      `INSERT INTO job_attempts (job_id, attempt, worker_id, outcome, finished_at) VALUES (1001, 1, 'w', 'succeeded', now())`,
    );
    await runWorkerUntil(
      t.url,
      registry,
      'the pruner',
      async () => (await sql(t.url, 'SELECT count(*) AS n FROM job_queue WHERE id IN (1001, 1002)'))[0]!.n === '0',
      { retentionMs: 7 * 86_400_000 },
      10_000,
    );
    assert.deepEqual(
      (await sql(t.url, 'SELECT id FROM job_queue ORDER BY id')).map((r) => Number(r.id)),
      [1003, 1004],
    );
    assert.equal((await sql(t.url, 'SELECT count(*) AS n FROM job_attempts WHERE job_id = 1001'))[0]!.n, '0');
  });
});

describe('worker maintenance', () => {
  const t = useTestDatabase();

  it('prunes in one worker at a time, under the prune_jobs lease, which it releases on stop', async () => {
    const workers = [await startWorker(t.url, registry), await startWorker(t.url, registry)];
    const running = new Set(workers);
    const holder = async () =>
      (await sql(t.url, `SELECT holder FROM leader_leases WHERE name = 'prune_jobs'`))[0]?.holder as string | undefined;
    try {
      const elected = await waitFor('a worker to take the prune lease', holder, 10_000);
      const leader = workers.find((w) => w.worker.id === elected);
      assert.ok(leader, `the holder ${elected} is one of the workers`);
      await new Promise((r) => setTimeout(r, 1500)); // both workers have tried by now
      assert.equal(await holder(), elected, 'the other worker did not take it');
      running.delete(leader);
      await leader.stop();
      assert.equal(await holder(), undefined, 'released on stop');
    } finally {
      for (const w of running) await w.stop();
    }
  });
});

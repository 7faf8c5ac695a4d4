import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import type { Queryable } from '../../src/db/queryable.js';
import { ThroughputCounter } from '../../src/monitoring/throughput.js';
import { enqueueMany } from '../../src/queue/enqueue.js';
import { cancelJob } from '../../src/queue/jobs.js';
import type { JobOutcome } from '../../src/queue/observer.js';
import { sql, useTestDatabase } from '../helpers/db.js';
import { memoryLogger, registryOf, startWorker, waitFor } from '../helpers/queue.js';

/** job_throughput summed by outcome, for one job type. */
async function counted(url: string, type: string): Promise<Record<string, number>> {
  const rows = await sql(url, 'SELECT outcome, sum(jobs) AS jobs FROM job_throughput WHERE job_type = $1 GROUP BY outcome', [type]);
  return Object.fromEntries(rows.map((r) => [r.outcome, Number(r.jobs)]));
}

const outcome = (status: JobOutcome['status'], type = 'canary'): JobOutcome => ({
  id: 1,
  queue: 'default',
  job_type: type,
  attempt: 1,
  status,
});

describe('job throughput counters', () => {
  const t = useTestDatabase();

  it('count exactly the jobs a worker completed, retried and failed, in the current minute', async () => {
    const counter = new ThroughputCounter({ pool: t.handle.pool, log: memoryLogger(), flushEveryMs: 100 });
    counter.start();
    const w = await startWorker(t.url, registryOf(), { observers: [counter] });
    try {
      await enqueueMany(t.handle.pool, [
        ...Array.from({ length: 20 }, () => ({ type: 'canary' })),
        ...Array.from({ length: 5 }, () => ({ type: 'canary', payload: { fail_attempts: 1 } })),
        ...Array.from({ length: 3 }, () => ({ type: 'canary', payload: { fail_attempts: 5 }, maxAttempts: 2 })),
      ]);
      await waitFor(
        'every job to finish',
        async () => (await sql(t.url, `SELECT count(*) AS n FROM job_queue WHERE status IN ('pending', 'in_progress')`))[0]!.n === '0',
      );
    } finally {
      await w.stop();
      await counter.stop();
    }
    // The truth, from the queue's own records: each failed attempt of a job that ran again is a retry.
    const [truth] = await sql(
      t.url,
      `SELECT (SELECT count(*) FROM job_queue WHERE status = 'completed') AS completed,
              (SELECT count(*) FROM job_queue WHERE status = 'failed') AS failed,
              (SELECT count(*) FROM job_attempts WHERE outcome = 'failed')
                - (SELECT count(*) FROM job_queue WHERE status = 'failed') AS retried`,
    );
    assert.deepEqual(
      { completed: 25, retried: 8, failed: 3 },
      { completed: Number(truth!.completed), retried: Number(truth!.retried), failed: Number(truth!.failed) },
    );
    assert.deepEqual(await counted(t.url, 'canary'), { completed: 25, retried: 8, failed: 3 });
    const [minutes] = await sql(
      t.url,
      `SELECT bool_and(minute >= date_trunc('minute', now()) - interval '1 minute' AND minute <= now()) AS recent FROM job_throughput`,
    );
    assert.equal(minutes!.recent, true, 'counted in the current minute, by the database clock');
  });

  it('keep the counts of a failed flush for the next one', async () => {
    let failNext = true;
    const pool: Queryable = t.handle.pool;
    const flaky: Queryable = {
      query: (config) => {
        if (!failNext) return pool.query(config);
        failNext = false;
        return Promise.reject(new Error('simulated failure'));
      },
    };
    const log = memoryLogger();
    const counter = new ThroughputCounter({ pool: flaky, log });
    counter.finished([outcome('completed', 'flaky'), outcome('completed', 'flaky')]);
    await counter.flush();
    assert.ok(
      log.lines.some((l) => /adding to job_throughput failed \(the counts are kept for the next try\): simulated failure/.test(l)),
      log.lines.join('\n'),
    );
    assert.deepEqual(await counted(t.url, 'flaky'), {});
    counter.finished([outcome('completed', 'flaky'), outcome('failed', 'flaky')]);
    await counter.stop();
    assert.deepEqual(await counted(t.url, 'flaky'), { completed: 3, failed: 1 });
  });

  it('keep at most maxRows rows through failures, dropping the oldest minutes', async () => {
    const failing: Queryable = { query: () => Promise.reject(new Error('down')) };
    const log = memoryLogger();
    const counter = new ThroughputCounter({ pool: failing, log, maxRows: 2 });
    const now = mock.method(Date, 'now');
    try {
      for (const minute of [100, 101, 102]) {
        now.mock.mockImplementation(() => minute * 60_000 + 1000);
        counter.finished([outcome('completed'), outcome('completed')]);
      }
      await counter.flush();
    } finally {
      now.mock.restore();
    }
    assert.ok(
      log.lines.some((l) => /dropped 2 job outcome count\(s\) of the oldest minutes: more than 2 rows were waiting/.test(l)),
      log.lines.join('\n'),
    );
    await counter.stop();
    assert.ok(
      log.lines.some((l) => /4 job outcome\(s\) were not added to job_throughput/.test(l)),
      log.lines.join('\n'),
    );
  });

  it("count an operator's cancel", async () => {
    const [job] = await enqueueMany(t.handle.pool, [{ type: 'cancelled_kind', queue: 'ops' }]);
    await cancelJob(t.handle.pool, job!.id);
    const rows = await sql(t.url, `SELECT queue, outcome, jobs FROM job_throughput WHERE job_type = 'cancelled_kind'`);
    assert.deepEqual(
      rows.map((r) => ({ ...r })),
      [{ queue: 'ops', outcome: 'cancelled', jobs: '1' }],
    );
  });
});

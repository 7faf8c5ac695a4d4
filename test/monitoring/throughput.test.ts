import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import type { Queryable } from '../../src/db/queryable.js';
import { pruneThroughputTask } from '../../src/maintenance/prune-throughput.js';
import { ThroughputCounter } from '../../src/monitoring/throughput.js';
import { enqueueMany } from '../../src/queue/enqueue.js';
import { cancelJob } from '../../src/queue/jobs.js';
import type { JobOutcome } from '../../src/queue/observer.js';
import { sql, useTestDatabase } from '../helpers/db.js';
import { memoryLogger, registryOf, startWorker, waitFor } from '../helpers/queue.js';
import { napMs, napperAttempts, napTimeoutMs, runNappers } from './napper-jobs.js';

/** job_throughput summed by outcome, for one job type. */
async function counted(url: string, type: string): Promise<Record<string, number>> {
  const rows = await sql(url, 'SELECT outcome, sum(jobs) AS jobs FROM job_throughput WHERE job_type = $1 GROUP BY outcome', [type]);
  return Object.fromEntries(rows.map((r) => [r.outcome, Number(r.jobs)]));
}

/** job_attempt_durations summed by outcome, for one job type: attempts, total seconds (to the µs: float sums), and the attempts by bucket. */
async function durations(url: string, type: string) {
  const rows = await sql(
    url,
    `SELECT outcome, le, sum(attempts) AS attempts, sum(total_seconds) AS seconds
       FROM job_attempt_durations WHERE job_type = $1 GROUP BY outcome, le ORDER BY outcome, le`,
    [type],
  );
  const result: Record<string, { attempts: number; seconds: number; buckets: Record<string, number> }> = {};
  for (const r of rows) {
    result[r.outcome] ??= { attempts: 0, seconds: 0, buckets: {} };
    const o = result[r.outcome]!;
    o.attempts += Number(r.attempts);
    o.seconds = Math.round((o.seconds + r.seconds) * 1e6) / 1e6;
    o.buckets[String(r.le)] = Number(r.attempts);
  }
  return result;
}

const outcome = (status: JobOutcome['status'], type = 'canary', durationMs = 3): JobOutcome => ({
  id: 1,
  queue: 'default',
  job_type: type,
  attempt: 1,
  status,
  attempt_outcome: status === 'completed' ? 'succeeded' : 'failed',
  duration_ms: durationMs,
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

  it("count each attempt by its own outcome and duration bucket, beside its job's outcome, as the queue recorded them", async () => {
    await runNappers(t);
    const truth = await napperAttempts(t.url);
    assert.deepEqual(truth, { succeeded: 4, failed: 4, timed_out: 4 });
    assert.deepEqual(await counted(t.url, 'napper'), { completed: 4, retried: 4, failed: 4 });
    const byOutcome = await durations(t.url, 'napper');
    assert.deepEqual(Object.fromEntries(Object.entries(byOutcome).map(([o, d]) => [o, d.attempts])), truth);
    // Each attempt lasted at least its sleep (or its timeout, less any early timer): none is in a bucket of 0.1 s or less.
    assert.ok(byOutcome.succeeded!.seconds >= (4 * napMs) / 1000, String(byOutcome.succeeded!.seconds));
    assert.ok(byOutcome.failed!.seconds >= (4 * napMs) / 1000, String(byOutcome.failed!.seconds));
    assert.ok(byOutcome.timed_out!.seconds >= (4 * (napTimeoutMs - 100)) / 1000, String(byOutcome.timed_out!.seconds));
    for (const d of Object.values(byOutcome)) {
      assert.deepEqual(
        Object.keys(d.buckets).filter((le) => Number(le) <= 0.1),
        [],
      );
    }
  });

  it('count a duration in the bucket of the first bound at or above it, and a longer one than every bound in +Inf', async () => {
    const counter = new ThroughputCounter({ pool: t.handle.pool, log: memoryLogger() });
    counter.finished([
      outcome('completed', 'bucketed', 5),
      outcome('completed', 'bucketed', 5.5),
      outcome('completed', 'bucketed', 10),
      outcome('failed', 'bucketed', 301_000),
    ]);
    await counter.stop();
    assert.deepEqual(await durations(t.url, 'bucketed'), {
      succeeded: { attempts: 3, seconds: 0.0205, buckets: { '0.005': 1, '0.01': 2 } },
      failed: { attempts: 1, seconds: 301, buckets: { Infinity: 1 } },
    });
  });

  it('are pruned with job_throughput: the minutes older than 7 days go', async () => {
    await sql(
      t.url,
      `INSERT INTO job_attempt_durations (minute, job_type, outcome, le, attempts, total_seconds)
       SELECT date_trunc('minute', now()) - d * interval '1 day' - m * interval '1 minute', 'pruned', 'succeeded', 1, 1, 0.5
         FROM unnest(ARRAY[0, 6, 8, 30]) AS d, generate_series(0, 119) AS m`,
    );
    await pruneThroughputTask({ pool: t.handle.pool, log: memoryLogger() }).run(new AbortController().signal);
    const [left] = await sql(
      t.url,
      `SELECT round(extract(epoch FROM date_trunc('minute', now()) - min(minute)) / 86400) AS oldest_days, count(*) AS n
         FROM job_attempt_durations WHERE job_type = 'pruned'`,
    );
    assert.deepEqual({ ...left }, { oldest_days: '6', n: '240' });
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

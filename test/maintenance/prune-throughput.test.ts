import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pruneThroughputTask } from '../../src/maintenance/prune-throughput.js';
import { sql, useTestDatabase } from '../helpers/db.js';
import { memoryLogger } from '../helpers/queue.js';

describe('job throughput retention (prune_throughput)', () => {
  const t = useTestDatabase();

  it('deletes the minutes older than 7 days, an hour of them per statement, and keeps the rest', async () => {
    await sql(
      t.url,
      `INSERT INTO job_throughput (minute, queue, job_type, outcome, jobs)
       SELECT date_trunc('minute', now()) - d * interval '1 day' - m * interval '1 minute', 'default', 'canary', 'completed', 1
         FROM unnest(ARRAY[0, 6, 8, 30]) AS d, generate_series(0, 119) AS m`,
    );
    await pruneThroughputTask({ pool: t.handle.pool, log: memoryLogger() }).run(new AbortController().signal);
    const left = await sql(
      t.url,
      `SELECT round(extract(epoch FROM date_trunc('minute', now()) - min(minute)) / 86400) AS oldest_days, count(*) AS n FROM job_throughput`,
    );
    assert.deepEqual({ ...left[0] }, { oldest_days: '6', n: '240' });
  });
});

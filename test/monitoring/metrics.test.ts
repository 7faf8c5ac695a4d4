import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics } from '../../src/monitoring/metrics.js';
import { sql, useTestDatabase } from '../helpers/db.js';

describe('/metrics', () => {
  const t = useTestDatabase();

  it('reports job counts and a monotonic attempt-duration histogram per type, from one snapshot', async () => {
    // Three finished attempts of canary (0.002 s, 0.2 s, 20 s) and one still running.
    await sql(
      t.url,
      `INSERT INTO job_queue (id, job_type, status, attempts, claims, finished_at, locked_by, lease_expires_at) OVERRIDING SYSTEM VALUE VALUES
         (501, 'canary', 'completed', 1, 1, now(), NULL, NULL),
         (502, 'canary', 'failed', 2, 2, now(), NULL, NULL),
         (503, 'canary', 'in_progress', 1, 1, NULL, 'w', now() + interval '1 minute')`,
    );
    await sql(
      t.url,
      `INSERT INTO job_attempts (job_id, attempt, worker_id, outcome, started_at, finished_at) VALUES
         (501, 1, 'w', 'succeeded', now() - interval '2 milliseconds', now()),
         (502, 1, 'w', 'failed', now() - interval '200 milliseconds', now()),
         (502, 2, 'w', 'failed', now() - interval '20 seconds', now()),
         (503, 1, 'w', 'running', now(), NULL)`,
    );
    const text = await createMetrics(await t.handle.kysely()).render();
    assert.match(text, /^cesar_jobs\{type="canary",status="completed"\} 1$/m);
    assert.match(text, /^cesar_job_attempts\{type="canary",outcome="failed"\} 2$/m);
    const bucket = (le: string) =>
      Number(
        new RegExp(`^cesar_job_attempt_duration_seconds_bucket\\{type="canary",le="${le.replace('+', '\\+')}"\\} (\\d+)$`, 'm').exec(
          text,
        )?.[1],
      );
    assert.deepEqual(['0.005', '0.1', '0.5', '10', '30', '+Inf'].map(bucket), [1, 1, 2, 2, 3, 3]);
    assert.match(text, /^cesar_job_attempt_duration_seconds_count\{type="canary"\} 3$/m);
    const sum = Number(/^cesar_job_attempt_duration_seconds_sum\{type="canary"\} ([\d.]+)$/m.exec(text)?.[1]);
    assert.ok(sum > 20.1 && sum < 20.3, String(sum));
  });
});

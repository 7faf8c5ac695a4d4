import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canary } from '../../src/jobs/canary.js';
import { JobTypeRegistry } from '../../src/queue/job-types.js';
import { runLiveChecks } from '../../src/verify/live.js';
import { sql, useTestDatabase } from '../helpers/db.js';
import { startWorker, waitFor } from '../helpers/queue.js';

describe('verify --live', () => {
  const t = useTestDatabase();

  it('cancels a canary it gave up on while it ran through the queue: no attempt is left running', async () => {
    // A worker whose canary sleeps far longer than the live check waits.
    const w = await startWorker(t.url, new JobTypeRegistry().add(canary), { leaseSeconds: 3 });
    try {
      const checks = await runLiveChecks({
        pool: t.handle.pool,
        db: await t.handle.kysely(),
        apiUrl: undefined,
        apiMissingReason: 'no API in this test',
        dashboardUrl: undefined,
        dashboardMissingReason: 'no dashboard in this test',
        heartbeatMaxAgeSeconds: 30,
        canaryTimeoutMs: 1500,
        canaryPayload: { sleep_ms: 60_000 },
      });
      const check = checks.find((c) => c.name === 'CANARY')!;
      assert.equal(check.passed, false);
      assert.match(check.summary, /was taken by a worker but did not complete within 1.5 s \(cancelled it\)/);
      const [job] = await sql(t.url, `SELECT id, status FROM job_queue WHERE job_type = 'canary'`);
      assert.equal(job!.status, 'cancelled');
      assert.deepEqual(
        (await sql(t.url, 'SELECT outcome FROM job_attempts WHERE job_id = $1', [job!.id])).map((a) => a.outcome),
        ['cancelled'],
      );
      // The worker learns through its lease and lets the job go without writing an outcome.
      await waitFor('the worker to let the cancelled canary go', async () => w.worker.idle().then(() => true), 10_000);
      assert.deepEqual(
        (await sql(t.url, `SELECT outcome FROM job_attempts WHERE outcome = 'running'`)).map((a) => a.outcome),
        [],
      );
    } finally {
      await w.stop();
    }
  });

  it('SCHEDULER passes only while a scheduler heartbeat is fresh, and says what to run otherwise', async () => {
    const live = async () =>
      (
        await runLiveChecks({
          pool: t.handle.pool,
          db: await t.handle.kysely(),
          apiUrl: undefined,
          apiMissingReason: 'no API in this test',
          dashboardUrl: undefined,
          dashboardMissingReason: 'no dashboard in this test',
          heartbeatMaxAgeSeconds: 30,
          canaryTimeoutMs: 100,
        })
      ).find((c) => c.name === 'SCHEDULER')!;
    const none = await live();
    assert.equal(none.passed, false);
    assert.match(none.summary, /^no scheduler heartbeat in the last 30 s: no workflow template fires/);
    await sql(
      t.url,
      `INSERT INTO schedulers (id, hostname, pid, version, last_heartbeat_at) VALUES ('old', 'h', 1, 't', now() - interval '5 minutes')`,
    );
    assert.equal((await live()).passed, false, 'a stale heartbeat does not count');
    await sql(t.url, `INSERT INTO schedulers (id, hostname, pid, version) VALUES ('fresh', 'h', 2, 't')`);
    const one = await live();
    assert.equal(one.passed, true);
    assert.equal(one.summary, '1 scheduler(s) with a heartbeat in the last 30 s');
  });
});

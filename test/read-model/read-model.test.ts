import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import type { Database } from '../../src/db/types.js';
import {
  getJob,
  getStatus,
  jobCounts,
  listJobs,
  listWorkers,
  liveWorkerSeconds,
  queueSummary,
  workerCounts,
} from '../../src/read-model/index.js';
import { createTestDatabase, openTestDatabase, sql, type TestDatabase } from '../helpers/db.js';

describe('read model', () => {
  let d: TestDatabase;
  let handle: Awaited<ReturnType<typeof openTestDatabase>>;
  let db: Kysely<Database>;
  before(async () => {
    d = await createTestDatabase();
    handle = await openTestDatabase(d.url);
    db = await handle.kysely();
    await sql(
      d.url,
      `INSERT INTO job_queue (job_type, status, run_at, attempts, claims, finished_at, locked_by, lease_expires_at) VALUES
         ('canary', 'pending', now() - interval '1 minute', 0, 0, NULL, NULL, NULL),
         ('canary', 'pending', now() + interval '1 hour', 1, 1, NULL, NULL, NULL),
         ('canary', 'completed', now(), 1, 1, now(), NULL, NULL),
         ('supabase_sync', 'failed', now(), 5, 5, now(), NULL, NULL),
         ('supabase_sync', 'in_progress', now(), 1, 1, NULL, 'w', now() + interval '1 minute')`,
    );
    // One worker of each state, by the one definition of "live".
    await sql(
      d.url,
      `INSERT INTO workers (id, hostname, pid, queues, concurrency, version, started_at, last_heartbeat_at, stopped_at) VALUES
         ('live', 'h', 1, '{default}', 10, 't', now(), now() - ($1 - 5) * interval '1 second', NULL),
         ('lost', 'h', 2, '{default}', 10, 't', now(), now() - ($1 + 5) * interval '1 second', NULL),
         ('stopped', 'h', 3, '{default}', 10, 't', now(), now(), now())`,
      [liveWorkerSeconds],
    );
  });
  after(async () => {
    await handle?.close();
    await d?.drop();
  });

  it('counts jobs by type and state', async () => {
    assert.deepEqual(await jobCounts(db), [
      { job_type: 'canary', status: 'completed', count: 1 },
      { job_type: 'canary', status: 'pending', count: 2 },
      { job_type: 'supabase_sync', status: 'failed', count: 1 },
      { job_type: 'supabase_sync', status: 'in_progress', count: 1 },
    ]);
    assert.deepEqual(await queueSummary(db), { pending: 2, runnable: 1, in_progress: 1, failed: 1 });
  });

  it('tells live, lost and stopped workers apart by one definition', async () => {
    const workers = await listWorkers(db);
    assert.deepEqual(Object.fromEntries(workers.map((w) => [w.id, w.state])), { live: 'live', lost: 'lost', stopped: 'stopped' });
    const counts = await workerCounts(db, 30);
    assert.deepEqual({ live: counts.live, fresh: counts.fresh, total: counts.total }, { live: 1, fresh: 0, total: 3 });
  });

  it('lists and shows jobs in snake_case with ISO times', async () => {
    const failed = await listJobs(db, { status: 'failed' });
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.type, 'supabase_sync');
    assert.equal(failed[0]!.max_attempts, 5);
    assert.match(failed[0]!.created_at, /^\d{4}-\d{2}-\d{2}T.*Z$/);
    const page = await listJobs(db, { limit: 2 });
    const next = await listJobs(db, { limit: 2, beforeId: page[1]!.id });
    assert.ok(next.every((j) => j.id < page[1]!.id));
    const detail = await getJob(db, failed[0]!.id);
    assert.deepEqual([detail!.attempt_count, detail!.attempts], [5, []]);
    assert.equal(await getJob(db, 999_999), undefined);
    await assert.rejects(listJobs(db, { status: 'bogus' as never }), /unknown status "bogus"/);
    await assert.rejects(listJobs(db, { limit: 0 }), /limit must be an integer from 1 to 1000/);
  });

  it('gives the whole status in snake_case', async () => {
    const status = await getStatus(db, new Set(['canary']));
    assert.equal(status.templates.length, 5);
    assert.equal(
      status.agents.reduce((n, a) => n + a.count, 0),
      48,
    );
    assert.ok(status.templates.every((t) => t.next_run_at === null || t.next_run_at > status.generated_at));
    assert.deepEqual(
      status.sync.map((s) => [s.system, s.status, s.lag_seconds]),
      [
        ['email_ingest', 'never_run', null],
        ['financial_api', 'never_run', null],
        ['supabase', 'never_run', null],
      ],
    );
    const keys = JSON.stringify(status).match(/"[a-zA-Z_]+":/g) ?? [];
    assert.deepEqual(
      keys.filter((k) => /[A-Z]/.test(k)),
      [],
      'every key is snake_case',
    );
  });
});

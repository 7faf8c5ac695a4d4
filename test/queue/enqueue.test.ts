import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InputError } from '../../src/errors.js';
import { builtInJobTypes } from '../../src/jobs/index.js';
import { enqueue, enqueueMany } from '../../src/queue/enqueue.js';
import { sql, useTestDatabase } from '../helpers/db.js';

describe('enqueue (library)', () => {
  const t = useTestDatabase();
  const registry = builtInJobTypes();

  it('enqueues many jobs in one statement, each result matching its input', async () => {
    const jobs = Array.from({ length: 50 }, (_, i) => ({ type: 'canary', payload: { sleep_ms: i }, priority: i % 3 }));
    const results = await enqueueMany(t.handle.pool, jobs, registry);
    assert.equal(results.length, 50);
    const rows = await sql(t.url, 'SELECT id, payload, priority FROM job_queue WHERE id = ANY($1)', [results.map((r) => r.id)]);
    const byId = new Map(rows.map((r) => [Number(r.id), r]));
    results.forEach((r, i) => {
      assert.equal(r.deduplicated, false);
      assert.deepEqual(byId.get(r.id)!.payload, { sleep_ms: i });
      assert.equal(byId.get(r.id)!.priority, i % 3);
    });
  });

  it('dedupes by key while the job is pending or running, and only then', async () => {
    const first = await enqueue(t.handle.pool, { type: 'canary', dedupeKey: 'cron:sync:0915' }, registry);
    const again = await enqueue(t.handle.pool, { type: 'canary', dedupeKey: 'cron:sync:0915' }, registry);
    assert.equal(first.deduplicated, false);
    assert.deepEqual([again.id, again.deduplicated], [first.id, true]);
    await sql(
      t.url,
      `UPDATE job_queue SET status = 'in_progress', locked_by = 'w', lease_expires_at = now() + interval '1 minute' WHERE id = $1`,
      [first.id],
    );
    assert.equal((await enqueue(t.handle.pool, { type: 'canary', dedupeKey: 'cron:sync:0915' }, registry)).id, first.id);
    await sql(
      t.url,
      `UPDATE job_queue SET status = 'completed', locked_by = NULL, lease_expires_at = NULL, finished_at = now() WHERE id = $1`,
      [first.id],
    );
    const later = await enqueue(t.handle.pool, { type: 'canary', dedupeKey: 'cron:sync:0915' }, registry);
    assert.notEqual(later.id, first.id);
    assert.equal(later.deduplicated, false);
  });

  it('makes one job when the same key is enqueued from 10 connections at once', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, () => enqueue(t.handle.pool, { type: 'canary', dedupeKey: 'race' }, registry)),
    );
    assert.equal(new Set(results.map((r) => r.id)).size, 1);
    assert.equal(results.filter((r) => !r.deduplicated).length, 1);
    assert.equal((await sql(t.url, `SELECT count(*) AS n FROM job_queue WHERE dedupe_key = 'race'`))[0]!.n, '1');
  });

  it('dedupes within one batch', async () => {
    const [a, b] = await enqueueMany(
      t.handle.pool,
      [
        { type: 'canary', dedupeKey: 'twin' },
        { type: 'canary', dedupeKey: 'twin' },
      ],
      registry,
    );
    assert.equal(a!.id, b!.id);
    assert.deepEqual([a!.deduplicated, b!.deduplicated], [false, true]);
  });

  it("enqueues inside the caller's transaction: nothing is left when it rolls back", async () => {
    const client = await t.handle.pool.connect();
    let id: number;
    try {
      await client.query('BEGIN');
      id = (await enqueue(client, { type: 'canary' }, registry)).id;
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    assert.equal((await sql(t.url, 'SELECT count(*) AS n FROM job_queue WHERE id = $1', [id]))[0]!.n, '0');
    const kept = await (await t.handle.kysely())
      .transaction()
      .execute(async (trx) => enqueue(trx, { type: 'canary', payload: { sleep_ms: 1 } }, registry));
    assert.equal((await sql(t.url, 'SELECT count(*) AS n FROM job_queue WHERE id = $1', [kept.id]))[0]!.n, '1');
  });

  it('sets run_at from a delay or a time, and priority and max attempts', async () => {
    const [{ now }] = (await sql(t.url, 'SELECT now() AS now')) as [{ now: Date }];
    const delayed = await enqueue(t.handle.pool, { type: 'canary', delayMs: 60_000, maxAttempts: 2, priority: -5 }, registry);
    const at = new Date('2030-01-01T00:00:00Z');
    const timed = await enqueue(t.handle.pool, { type: 'canary', runAt: at }, registry);
    assert.ok(delayed.runAt.getTime() - now.getTime() >= 59_000);
    assert.equal(timed.runAt.toISOString(), at.toISOString());
    const [row] = await sql(t.url, 'SELECT max_attempts, priority FROM job_queue WHERE id = $1', [delayed.id]);
    assert.deepEqual({ ...row }, { max_attempts: 2, priority: -5 });
  });

  it('refuses bad jobs with InputError before writing anything', async () => {
    const before = (await sql(t.url, 'SELECT count(*) AS n FROM job_queue'))[0]!.n;
    const bad: Array<[object, RegExp]> = [
      [{ type: 'no_such_type' }, /unknown job type "no_such_type"; known types: canary/],
      [{ type: 'canary', payload: { sleep_ms: -1 } }, /sleep_ms must be an integer/],
      [{ type: 'canary', payload: { nope: 1 } }, /unknown field "nope"/],
      [{ type: 'canary', payload: [1] }, /must be a JSON object/],
      [{ type: 'canary', maxAttempts: 0 }, /max attempts must be an integer from 1 to 1000/],
      [{ type: 'canary', queue: 'Bad Queue' }, /queue "Bad Queue"/],
      [{ type: 'canary', delayMs: 5, runAt: new Date() }, /not both/],
    ];
    for (const [job, message] of bad) {
      await assert.rejects(enqueueMany(t.handle.pool, [{ type: 'canary' }, job as never], registry), (err: Error) => {
        assert.ok(err instanceof InputError);
        assert.match(err.message, message);
        return true;
      });
    }
    await assert.rejects(enqueue(t.handle.pool, { type: 'bulk', payload: { blob: 'x'.repeat(70_000) } }), /limit is 65536 bytes/);
    assert.equal((await sql(t.url, 'SELECT count(*) AS n FROM job_queue'))[0]!.n, before);
  });
});

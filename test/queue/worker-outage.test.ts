import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Queryable } from '../../src/db/queryable.js';
import { enqueue } from '../../src/queue/enqueue.js';
import { sql, useTestDatabase } from '../helpers/db.js';
import { inlineJobType, memoryLogger, registryOf, startWorker, waitFor } from '../helpers/queue.js';

let sleeperAborted = false;
const sleeper = inlineJobType({
  name: 'sleeper',
  description: 'sleeps until aborted',
  timeoutMs: 600_000,
  run: ({ signal }) =>
    new Promise((_, reject) =>
      signal.addEventListener(
        'abort',
        () => {
          sleeperAborted = true;
          reject(signal.reason);
        },
        { once: true },
      ),
    ),
});

/** The test database's pool, but refusing every query (as a stopped server does) while `down`. */
function switchablePool(pool: Queryable) {
  const names: string[] = [];
  return {
    down: false,
    names,
    query(config: { text: string; values?: unknown[]; name?: string }) {
      if (this.down) return Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
      names.push(config.name ?? 'other');
      return pool.query(config);
    },
  } as Queryable & { down: boolean; names: string[] };
}

describe('a worker through a database outage longer than its lease', () => {
  const db = useTestDatabase();

  it('drops the jobs it held, then claims again at the next poll once the database answers, not at the next heartbeat', async () => {
    const pool = switchablePool(db.handle.pool);
    const log = memoryLogger();
    // A lease of 300 s: the heartbeat timer (every 100 s) never fires during the test.
    const w = await startWorker(db.url, registryOf(sleeper), { pool, log, listenUrl: undefined, leaseSeconds: 300 });
    try {
      const held = await enqueue(db.handle.pool, { type: 'sleeper', payload: {} });
      await waitFor('the sleeper to run', async () => w.worker.stats.claimed === 1);

      pool.down = true;
      // As if no heartbeat had succeeded for longer than the lease.
      (w.worker as unknown as { lastHeartbeatOk: number }).lastHeartbeatOk = Date.now() - 301_000;
      await waitFor('the held job to be dropped', async () => sleeperAborted);
      await waitFor('a claim attempt during the outage', async () =>
        log.lines.some((l) => /the worker is waiting for the database/.test(l)),
      );

      pool.names.length = 0;
      pool.down = false;
      const next = await enqueue(db.handle.pool, { type: 'canary', payload: {} });
      await waitFor(
        'the canary to complete',
        async () => (await sql(db.url, 'SELECT status FROM job_queue WHERE id = $1', [next.id]))[0]!.status === 'completed',
      );
      const firstClaim = pool.names.indexOf('cesar_claim');
      assert.ok(firstClaim > 0 && pool.names.slice(0, firstClaim).includes('cesar_heartbeat'), pool.names.join(', '));
      assert.equal(w.worker.stats.succeeded, 1, 'the dropped job was not run again here');
      const [row] = await sql(db.url, 'SELECT status, attempts FROM job_queue WHERE id = $1', [held.id]);
      assert.deepEqual(row, { status: 'in_progress', attempts: 1 }, 'left to the rescuer once its lease expires');
      assert.equal(log.lines.filter((l) => /waiting for the database/.test(l)).length, 1, log.lines.join('\n'));
      assert.ok(log.lines.some((l) => /the worker: the database answers again/.test(l)));
    } finally {
      await w.stop();
    }
  });
});

describe('a result that cannot be written yet', () => {
  const t = useTestDatabase();

  it('keeps its job leased by the heartbeat until it is written: the job is not rescued and runs once', async () => {
    // Completions fail as in an outage (SQLSTATE 08006) while the trigger is there; heartbeats work.
    await sql(
      t.url,
      `CREATE FUNCTION refuse_completion() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'connection failure (test)' USING ERRCODE = '08006'; END $$;
       CREATE TRIGGER refuse_completion BEFORE UPDATE ON job_queue
          FOR EACH ROW WHEN (NEW.status = 'completed') EXECUTE FUNCTION refuse_completion()`,
    );
    let runs = 0;
    const once = inlineJobType({
      name: 'once',
      run: () => {
        runs += 1;
      },
    });
    const registry = registryOf(once);
    const { id } = await enqueue(t.handle.pool, { type: 'once' }, registry);
    const w = await startWorker(t.url, registry, { leaseSeconds: 3, log: memoryLogger() });
    try {
      await waitFor('the job to run', async () => runs === 1);
      // Three lease lengths with the result unwritten: the heartbeat renews the lease meanwhile.
      await new Promise((r) => setTimeout(r, 9_000));
      assert.equal((await sql(t.url, 'SELECT status FROM job_queue WHERE id = $1', [id]))[0]!.status, 'in_progress');
      await sql(t.url, 'DROP TRIGGER refuse_completion ON job_queue');
      await waitFor(
        'the result to be written',
        async () => (await sql(t.url, 'SELECT status FROM job_queue WHERE id = $1', [id]))[0]!.status === 'completed',
      );
    } finally {
      await w.stop();
    }
    assert.equal(runs, 1);
    assert.deepEqual(
      (await sql(t.url, 'SELECT attempt, outcome FROM job_attempts WHERE job_id = $1 ORDER BY attempt', [id])).map((a) => [
        a.attempt,
        a.outcome,
      ]),
      [[1, 'succeeded']],
    );
  });
});

describe('a worker stopped while it waits for the database at start', () => {
  it('ends the wait with an interrupted error (exit 130), not a database error', async () => {
    const { createPool } = await import('../../src/db/connect.js');
    const { Worker } = await import('../../src/queue/worker.js');
    const { CesarError } = await import('../../src/errors.js');
    const pool = createPool('postgres://cesar@127.0.0.1:1/cesar', { poolMax: 1, connectTimeoutSeconds: 2 }, 'cesar-test');
    pool.on('error', () => {});
    const { Kysely, PostgresDialect } = await import('kysely');
    const log = memoryLogger();
    const worker = new Worker({
      pool,
      db: new Kysely({ dialect: new PostgresDialect({ pool }) }),
      registry: registryOf(),
      log,
      concurrency: 1,
      pollIntervalMs: 200,
      leaseSeconds: 30,
      queues: ['default'],
      shutdownGraceMs: 1000,
      retentionMs: 86_400_000,
      version: 'test',
    });
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error('test stops it')), 300);
    await assert.rejects(worker.start(stop.signal), (err: unknown) => {
      assert.ok(err instanceof CesarError, String(err));
      assert.equal(err.code, 'interrupted');
      assert.equal(err.exitCode, 130);
      assert.match(err.message, /the worker was stopped while waiting for the database/);
      return true;
    });
    assert.ok(
      log.lines.some((l) => /the worker is waiting for the database/.test(l)),
      log.lines.join('\n'),
    );
    await pool.end();
  });
});

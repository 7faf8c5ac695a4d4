import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MaintenanceRunner, type MaintenanceTask } from '../../src/maintenance/runner.js';
import { createTestDatabase, openTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { memoryLogger, waitFor } from '../helpers/queue.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('maintenance runner (real PostgreSQL)', () => {
  let d: TestDatabase;
  let a: Awaited<ReturnType<typeof openTestDatabase>>;
  let b: Awaited<ReturnType<typeof openTestDatabase>>;
  before(async () => {
    d = await createTestDatabase();
    // Two connection pools, as two processes would have.
    a = await openTestDatabase(d.url);
    b = await openTestDatabase(d.url);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await d?.drop();
  });

  it('runs a one-process task in one runner at a time; the other takes over when the holder stops', async () => {
    const runs: string[] = [];
    let active = 0;
    let maxActive = 0;
    const task = (who: string): MaintenanceTask => ({
      name: 'exclusive_chore',
      scope: 'one_process',
      everyMs: 20,
      firstRunMs: 0,
      leaseMs: 2000,
      async run() {
        active += 1;
        maxActive = Math.max(maxActive, active);
        runs.push(who);
        await sleep(15);
        active -= 1;
      },
    });
    const runnerA = new MaintenanceRunner({ pool: a.pool, holder: 'runner-a', log: memoryLogger() }).add(task('a'));
    const runnerB = new MaintenanceRunner({ pool: b.pool, holder: 'runner-b', log: memoryLogger() }).add(task('b'));
    runnerA.start();
    runnerB.start();
    let stopped = false;
    try {
      await waitFor('ten runs', async () => runs.length >= 10);
      assert.equal(maxActive, 1, 'never two runs at once');
      const first = runs[0]!;
      assert.ok(
        runs.every((r) => r === first),
        `one runner holds the lease across runs: ${runs.join('')}`,
      );
      const [holder, other] = first === 'a' ? [runnerA, runnerB] : [runnerB, runnerA];
      const [holderName, otherName] = first === 'a' ? ['runner-a', 'runner-b'] : ['runner-b', 'runner-a'];
      assert.equal((await sql(d.url, `SELECT holder FROM leader_leases WHERE name = 'exclusive_chore'`))[0]!.holder, holderName);

      await holder.stop();
      const handover = runs.length;
      await waitFor('the other runner to take over', async () => runs.length >= handover + 5);
      const later = runs.slice(handover);
      assert.ok(
        later.every((r) => r !== first),
        `only the other runner runs after the holder stopped: ${later.join('')}`,
      );
      assert.equal(maxActive, 1);
      assert.equal((await sql(d.url, `SELECT holder FROM leader_leases WHERE name = 'exclusive_chore'`))[0]!.holder, otherName);

      await other.stop();
      stopped = true;
      assert.equal(
        (await sql(d.url, `SELECT count(*) AS n FROM leader_leases WHERE name = 'exclusive_chore'`))[0]!.n,
        '0',
        'released on stop',
      );
    } finally {
      if (!stopped) await Promise.all([runnerA.stop(), runnerB.stop()]);
    }
  });

  it('logs a failing task at warn, without crashing, and runs it again', async () => {
    const log = memoryLogger();
    let runs = 0;
    const runner = new MaintenanceRunner({ pool: a.pool, holder: 'runner-f', log }).add({
      name: 'flaky_chore',
      scope: 'every_process',
      everyMs: 20,
      firstRunMs: 0,
      async run() {
        runs += 1;
        if (runs <= 2) throw new Error(`broken on run ${runs}`);
      },
    });
    runner.start();
    try {
      await waitFor('a third run', async () => runs >= 3);
    } finally {
      await runner.stop();
    }
    const warnings = log.lines.filter((l) => l.startsWith('WARN: maintenance task flaky_chore failed'));
    assert.equal(warnings.length, 2, log.lines.join('\n'));
    assert.match(warnings[0]!, /broken on run 1/);
    assert.match(warnings[1]!, /broken on run 2/);
  });

  it('a one-process task whose run fails keeps its lease and runs again', async () => {
    let runs = 0;
    const log = memoryLogger();
    const runner = new MaintenanceRunner({ pool: a.pool, holder: 'runner-g', log }).add({
      name: 'flaky_exclusive_chore',
      scope: 'one_process',
      everyMs: 20,
      firstRunMs: 0,
      async run() {
        runs += 1;
        if (runs === 1) throw new Error('broken once');
      },
    });
    runner.start();
    try {
      await waitFor('a second run', async () => runs >= 2);
    } finally {
      await runner.stop();
    }
    assert.ok(log.lines.some((l) => /WARN: maintenance task flaky_exclusive_chore failed.*broken once/.test(l)));
  });

  it('stop aborts the running task’s signal, waits for it to end, and runs nothing after', async () => {
    let started = 0;
    let finished = 0;
    let sawAbort = false;
    const runner = new MaintenanceRunner({ pool: a.pool, holder: 'runner-s', log: memoryLogger() }).add({
      name: 'slow_chore',
      scope: 'one_process',
      everyMs: 10,
      firstRunMs: 0,
      async run(signal) {
        started += 1;
        // Ignores its signal for 300 ms, as a statement in flight would.
        await sleep(300);
        sawAbort = signal.aborted;
        finished += 1;
      },
    });
    runner.start();
    await waitFor('the task to start', async () => started === 1);
    const t0 = Date.now();
    await runner.stop();
    assert.equal(finished, 1, 'stop resolved only once the run ended');
    assert.ok(Date.now() - t0 >= 200, 'stop waited');
    assert.equal(sawAbort, true, 'the run was told to stop');
    await sleep(100);
    assert.equal(started, 1, 'no run after stop');
    assert.equal((await sql(d.url, `SELECT count(*) AS n FROM leader_leases WHERE name = 'slow_chore'`))[0]!.n, '0', 'released on stop');
  });

  it('a task added twice is refused', () => {
    const runner = new MaintenanceRunner({ pool: a.pool, holder: 'runner-t', log: memoryLogger() });
    const task: MaintenanceTask = { name: 'twice', scope: 'every_process', everyMs: 1000, run: async () => {} };
    runner.add(task);
    assert.throws(() => runner.add(task), /added twice/);
  });
});

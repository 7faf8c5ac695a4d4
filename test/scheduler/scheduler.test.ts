import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { builtInJobTypes } from '../../src/jobs/index.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { builtInStepHandlers } from '../../src/steps/index.js';
import { applyTemplates, parseTemplates, setActive } from '../../src/workflows/admin.js';
import { sql, useTestDatabase } from '../helpers/db.js';
import { memoryLogger, runWorkerUntil, waitFor } from '../helpers/queue.js';

const steps = builtInStepHandlers();

type Pool = Parameters<typeof applyTemplates>[0];

/** A template of canary steps whose schedule began at `activeSince` (so that ticks since then are due). */
async function template(url: string, pool: Pool, doc: Record<string, unknown>, activeSince: string): Promise<void> {
  await applyTemplates(pool, steps, parseTemplates({ steps: [{ name: 'only', agent_type: 'monitor', handler: 'canary' }], ...doc }, steps));
  await sql(url, 'UPDATE workflow_templates SET active_since = $2 WHERE name = $1', [doc.name, activeSince]);
}

/** A scheduler whose clock is `now` (changeable), for one pass at a time. */
function schedulerAt(pool: Pool, now: { at: string }) {
  return new Scheduler({ pool, steps, log: memoryLogger(), version: 'test', now: () => new Date(now.at) });
}

async function ticksOf(url: string, name: string) {
  return sql(
    url,
    `SELECT to_char(k.tick_at AT TIME ZONE 'UTC', 'HH24:MI') AS at, k.fate, k.reason, k.execution_id
       FROM workflow_ticks k JOIN workflow_templates t ON t.id = k.template_id
      WHERE t.name = $1 ORDER BY k.tick_at`,
    [name],
  );
}

async function executionsOf(url: string, name: string) {
  return sql(
    url,
    `SELECT e.id, to_char(e.scheduled_for AT TIME ZONE 'UTC', 'HH24:MI') AS at, e.status, e.queued, e.started_at, e.finished_at
       FROM workflow_executions e JOIN workflow_templates t ON t.id = e.template_id
      WHERE t.name = $1 ORDER BY e.id`,
    [name],
  );
}

describe('the scheduler with an injected clock: catch-up policies', () => {
  const t = useTestDatabase();
  // Every 15 minutes from 10:00; the scheduler first looks at 11:07, so 10:15, 10:30, 10:45 and
  // 11:00 were missed (more than a minute late).
  const now = { at: '2026-01-01T11:07:00Z' };

  it('skip: records every missed tick as skipped, with the reason, and fires none', async () => {
    await template(t.url, t.handle.pool, { name: 'catchup_skip', cron: '*/15 * * * *', catchup: 'skip' }, '2026-01-01T10:00:00Z');
    await schedulerAt(t.handle.pool, now).pass();
    const ticks = await ticksOf(t.url, 'catchup_skip');
    assert.deepEqual(
      ticks.map((k) => [k.at, k.fate]),
      [
        ['10:15', 'skipped'],
        ['10:30', 'skipped'],
        ['10:45', 'skipped'],
        ['11:00', 'skipped'],
      ],
    );
    assert.match(ticks[0]!.reason, /missed by 52 min \(no scheduler ran then\); catch-up policy skip/);
    assert.equal((await executionsOf(t.url, 'catchup_skip')).length, 0);
  });

  it('latest: fires the newest missed tick once and records the others as coalesced', async () => {
    await template(t.url, t.handle.pool, { name: 'catchup_latest', cron: '*/15 * * * *' }, '2026-01-01T10:00:00Z');
    await schedulerAt(t.handle.pool, now).pass();
    const ticks = await ticksOf(t.url, 'catchup_latest');
    assert.deepEqual(
      ticks.map((k) => [k.at, k.fate]),
      [
        ['10:15', 'coalesced'],
        ['10:30', 'coalesced'],
        ['10:45', 'coalesced'],
        ['11:00', 'fired'],
      ],
    );
    const executions = await executionsOf(t.url, 'catchup_latest');
    assert.deepEqual(
      executions.map((e) => [e.at, e.status]),
      [['11:00', 'pending']],
    );
    assert.equal(ticks[3]!.execution_id, executions[0]!.id);
  });

  it('all: fires the newest catchup_max_count missed ticks, skips older ones, and a second pass adds nothing', async () => {
    await template(
      t.url,
      t.handle.pool,
      { name: 'catchup_all', cron: '*/15 * * * *', catchup: 'all', catchup_max_count: 2, overlap: 'allow' },
      '2026-01-01T10:00:00Z',
    );
    const scheduler = schedulerAt(t.handle.pool, now);
    await scheduler.pass();
    await scheduler.pass();
    await schedulerAt(t.handle.pool, now).pass(); // another scheduler, the same time
    const ticks = await ticksOf(t.url, 'catchup_all');
    assert.deepEqual(
      ticks.map((k) => [k.at, k.fate]),
      [
        ['10:15', 'skipped'],
        ['10:30', 'skipped'],
        ['10:45', 'fired'],
        ['11:00', 'fired'],
      ],
    );
    assert.match(ticks[0]!.reason, /beyond the catch-up limit \(the newest 2/);
    assert.deepEqual(
      (await executionsOf(t.url, 'catchup_all')).map((e) => e.at),
      ['10:45', '11:00'],
    );
  });

  it('on time: a tick seen within a minute of its time fires, whatever the policy', async () => {
    await template(t.url, t.handle.pool, { name: 'on_time', cron: '*/15 * * * *', catchup: 'skip' }, '2026-01-01T10:00:00Z');
    await schedulerAt(t.handle.pool, { at: '2026-01-01T10:15:00.400Z' }).pass();
    assert.deepEqual(
      (await ticksOf(t.url, 'on_time')).map((k) => [k.at, k.fate]),
      [['10:15', 'fired']],
    );
  });
});

describe('the scheduler with an injected clock: overlap policies', () => {
  const t = useTestDatabase();

  /** Fire 10:01 (its execution stays pending: no worker), then 10:02 while it is still under way. */
  async function twoTicks(name: string, overlap: string) {
    await template(t.url, t.handle.pool, { name, cron: '* * * * *', overlap }, '2026-01-01T10:00:30Z');
    const now = { at: '2026-01-01T10:01:00.200Z' };
    const scheduler = schedulerAt(t.handle.pool, now);
    await scheduler.pass();
    now.at = '2026-01-01T10:02:00.200Z';
    await scheduler.pass();
    return { ticks: await ticksOf(t.url, name), executions: await executionsOf(t.url, name) };
  }

  it('skip (the default): the second tick is recorded as skipped, naming the execution under way', async () => {
    const { ticks, executions } = await twoTicks('overlap_skip', 'skip');
    assert.deepEqual(
      ticks.map((k) => [k.at, k.fate]),
      [
        ['10:01', 'fired'],
        ['10:02', 'skipped'],
      ],
    );
    assert.equal(ticks[1]!.reason, `execution ${executions[0]!.id} still under way (overlap policy skip)`);
    assert.equal(executions.length, 1);
  });

  it('allow: both ticks make executions that run at once', async () => {
    const { ticks, executions } = await twoTicks('overlap_allow', 'allow');
    assert.deepEqual(
      ticks.map((k) => k.fate),
      ['fired', 'fired'],
    );
    assert.deepEqual(
      executions.map((e) => [e.at, e.queued]),
      [
        ['10:01', false],
        ['10:02', false],
      ],
    );
    const jobs = await sql(t.url, `SELECT count(*)::int AS n FROM job_queue WHERE job_type = 'workflow_step' AND dedupe_key = ANY($1)`, [
      executions.map((e) => `wf:${e.id}:1`),
    ]);
    assert.equal(jobs[0]!.n, 2, 'each has its first step enqueued');
  });

  it('queue: the second execution waits, and starts only when the first has ended', async () => {
    const { ticks, executions } = await twoTicks('overlap_queue', 'queue');
    assert.deepEqual(
      ticks.map((k) => k.fate),
      ['fired', 'fired'],
    );
    assert.match(ticks[1]!.reason, /queued behind execution \d+ \(overlap policy queue\)/);
    assert.deepEqual(
      executions.map((e) => e.queued),
      [false, true],
    );
    const queuedJobs = await sql(t.url, 'SELECT count(*)::int AS n FROM job_queue WHERE dedupe_key = $1', [`wf:${executions[1]!.id}:1`]);
    assert.equal(queuedJobs[0]!.n, 0, 'the queued execution has no job yet');
    await runWorkerUntil(t.url, builtInJobTypes(), 'both executions to succeed', async () =>
      (await executionsOf(t.url, 'overlap_queue')).every((e) => e.status === 'succeeded'),
    );
    const [first, second] = await executionsOf(t.url, 'overlap_queue');
    assert.ok(second!.started_at >= first!.finished_at, 'the queued one started after the first ended');
  });
});

describe('the scheduler on the real clock', () => {
  const t = useTestDatabase();

  it('records the ticks of a template that is not runnable as skipped, naming the missing steps', async () => {
    await applyTemplates(
      t.handle.pool,
      steps,
      parseTemplates(
        {
          name: 'no_handler_yet',
          cron: '* * * * * *',
          overlap: 'allow',
          steps: [
            { name: 'ok', agent_type: 'monitor', handler: 'canary' },
            { name: 'later', agent_type: 'monitor', handler: 'not_built_yet' },
          ],
        },
        steps,
      ),
    );
    const scheduler = new Scheduler({ pool: t.handle.pool, steps, log: memoryLogger(), version: 'test' });
    await scheduler.start();
    try {
      const [tick] = await waitFor('a tick', async () => {
        const ticks = await ticksOf(t.url, 'no_handler_yet');
        return ticks.length > 0 && ticks;
      });
      assert.equal(tick!.fate, 'skipped');
      assert.equal(tick!.reason, 'not runnable: no step handler for later (handler not_built_yet)');
      assert.equal((await executionsOf(t.url, 'no_handler_yet')).length, 0);
    } finally {
      await scheduler.stop();
    }
  });

  it('stops firing a template within seconds of its pause, with no restart', async () => {
    await template(t.url, t.handle.pool, { name: 'paused_live', cron: '* * * * * *', overlap: 'allow' }, new Date().toISOString());
    const scheduler = new Scheduler({ pool: t.handle.pool, steps, log: memoryLogger(), version: 'test', pollMs: 500 });
    await scheduler.start();
    try {
      await waitFor('two fired ticks', async () => (await ticksOf(t.url, 'paused_live')).length >= 2);
      assert.equal(await setActive(t.handle.pool, 'paused_live', false), true);
      const pausedAt = (await sql(t.url, 'SELECT now() AS paused_at'))[0]!.paused_at;
      await new Promise((r) => setTimeout(r, 2500));
      const late = await sql(
        t.url,
        `SELECT count(*)::int AS n FROM workflow_ticks k JOIN workflow_templates t ON t.id = k.template_id
          WHERE t.name = 'paused_live' AND k.recorded_at > $1::timestamptz + interval '1 second'`,
        [pausedAt],
      );
      assert.equal(late[0]!.n, 0, 'no tick recorded more than a second after the pause');
    } finally {
      await scheduler.stop();
    }
  });
});

describe('the scheduler across daylight-saving changes (injected clock, real database)', () => {
  const t = useTestDatabase();

  /** Pass every 5 minutes of local night from `from` to `to`, as a scheduler running all night would. */
  async function night(name: string, from: string, to: string): Promise<string[]> {
    const now = { at: from };
    const scheduler = schedulerAt(t.handle.pool, now);
    for (let at = new Date(from).getTime(); at <= new Date(to).getTime(); at += 5 * 60_000) {
      now.at = new Date(at).toISOString();
      await scheduler.pass();
    }
    const ticks = await sql(
      t.url,
      `SELECT k.tick_at, k.fate FROM workflow_ticks k JOIN workflow_templates t ON t.id = k.template_id
        WHERE t.name = $1 ORDER BY k.tick_at`,
      [name],
    );
    assert.ok(
      ticks.every((k) => k.fate === 'fired'),
      'every tick fired on time',
    );
    return ticks.map((k) => (k.tick_at as Date).toISOString());
  }

  it('New York, fall back (2026-11-01): every quarter hour of 01:xx fires once, not twice', async () => {
    await template(
      t.url,
      t.handle.pool,
      { name: 'ny_fall_back', cron: '*/15 1 * * *', timezone: 'America/New_York', overlap: 'allow' },
      '2026-11-01T04:00:00Z',
    );
    assert.deepEqual(await night('ny_fall_back', '2026-11-01T04:00:00Z', '2026-11-01T08:00:00Z'), [
      '2026-11-01T05:00:00.000Z',
      '2026-11-01T05:15:00.000Z',
      '2026-11-01T05:30:00.000Z',
      '2026-11-01T05:45:00.000Z',
    ]);
  });

  it('Berlin, spring forward (2026-03-29): 02:30, which does not exist, fires once at 03:00', async () => {
    await template(
      t.url,
      t.handle.pool,
      { name: 'berlin_spring', cron: '30 2 * * *', timezone: 'Europe/Berlin', overlap: 'allow' },
      '2026-03-28T23:00:00Z',
    );
    assert.deepEqual(await night('berlin_spring', '2026-03-28T23:00:00Z', '2026-03-29T03:00:00Z'), ['2026-03-29T01:00:00.000Z']);
  });
});

describe('the scheduler and a template whose schedule became invalid', () => {
  const t = useTestDatabase();

  it('warns once, fires nothing for it, and goes on with the others', async () => {
    await template(t.url, t.handle.pool, { name: 'broken_by_hand', cron: '* * * * *' }, '2026-01-01T10:00:00Z');
    await template(t.url, t.handle.pool, { name: 'still_fine', cron: '* * * * *' }, '2026-01-01T10:00:00Z');
    await sql(t.url, `UPDATE workflow_templates SET cron_expression = '61 * * * *' WHERE name = 'broken_by_hand'`);
    const log = memoryLogger();
    const scheduler = new Scheduler({ pool: t.handle.pool, steps, log, version: 'test', now: () => new Date('2026-01-01T10:01:00.300Z') });
    await scheduler.pass();
    await scheduler.pass();
    assert.equal((await ticksOf(t.url, 'broken_by_hand')).length, 0);
    assert.deepEqual(
      (await ticksOf(t.url, 'still_fine')).map((k) => k.fate),
      ['fired'],
    );
    const warnings = log.lines.filter((l) =>
      /template broken_by_hand cannot be scheduled: "61 \* \* \* \*" is not a valid cron expression/.test(l),
    );
    assert.equal(warnings.length, 1, log.lines.join('\n'));
  });
});

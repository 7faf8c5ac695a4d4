import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { execa, type ResultPromise } from 'execa';
import { builtInStepHandlers } from '../../src/steps/index.js';
import { applyTemplates, parseTemplates, runNow } from '../../src/workflows/admin.js';
import { cesarBin } from '../helpers/cli.js';
import { sql, useTestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/queue.js';

const steps = builtInStepHandlers();

interface Child {
  process: ResultPromise;
  output: () => string;
}

/** A `cesar` process of the built binary (scheduler, worker) on the test database. */
function spawnCesar(url: string, args: string[]): Child {
  let output = '';
  const child = execa(process.execPath, [cesarBin, ...args], {
    reject: false,
    extendEnv: false,
    all: true,
    env: { PATH: process.env.PATH, DATABASE_URL: url, NO_COLOR: '1', CESAR_FIRST_RUNS: 'off' },
  });
  child.all!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  return { process: child, output: () => output };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('three scheduler processes over a per-second template (real processes, 20 s)', () => {
  const t = useTestDatabase();

  it('record each tick exactly once and make exactly one execution per tick, even with two of them SIGKILLed on the way', async () => {
    await applyTemplates(
      t.handle.pool,
      steps,
      parseTemplates(
        {
          name: 'every_second',
          cron: '* * * * * *',
          overlap: 'allow',
          steps: [{ name: 'only', agent_type: 'monitor', handler: 'canary' }],
        },
        steps,
      ),
    );
    const schedulers = [1, 2, 3].map(() => spawnCesar(t.url, ['scheduler']));
    try {
      await waitFor('three schedulers', async () => schedulers.every((s) => /Workflow scheduler started/.test(s.output())), 30_000);
      await sleep(7_000);
      schedulers[0]!.process.kill('SIGKILL');
      await sleep(3_000);
      schedulers[1]!.process.kill('SIGKILL');
      await sleep(10_000);
    } finally {
      for (const s of schedulers) s.process.kill('SIGTERM');
    }
    const exits = await Promise.all(schedulers.map((s) => s.process));
    assert.equal(exits[2]!.exitCode, 0, schedulers[2]!.output());

    const ticks = await sql(
      t.url,
      `SELECT k.tick_at, k.fate, k.execution_id, k.recorded_by
         FROM workflow_ticks k JOIN workflow_templates t ON t.id = k.template_id
        WHERE t.name = 'every_second' ORDER BY k.tick_at`,
    );
    assert.ok(ticks.length >= 15, `ticks over about 20 s: ${ticks.length}`);
    const seconds = ticks.map((k) => (k.tick_at as Date).getTime() / 1000);
    for (let i = 1; i < seconds.length; i++)
      assert.equal(seconds[i]! - seconds[i - 1]!, 1, `no tick lost after ${ticks[i - 1]!.tick_at.toISOString()}`);
    assert.ok(
      ticks.every((k) => k.fate === 'fired'),
      'every tick fired',
    );
    assert.ok(new Set(ticks.map((k) => k.recorded_by)).size >= 2, 'more than one scheduler recorded ticks');

    const perTick = await sql(
      t.url,
      `SELECT e.scheduled_for, count(*)::int AS n
         FROM workflow_executions e JOIN workflow_templates t ON t.id = e.template_id
        WHERE t.name = 'every_second' GROUP BY e.scheduled_for`,
    );
    assert.equal(perTick.length, ticks.length, 'one execution per tick');
    assert.ok(
      perTick.every((r) => r.n === 1),
      'never two executions for one tick',
    );
  });
});

describe('a worker SIGKILLed during step 2 of 3 (real processes)', () => {
  const t = useTestDatabase();

  it('the execution completes on another worker, step 1 ran once and its output is kept', async () => {
    await applyTemplates(
      t.handle.pool,
      steps,
      parseTemplates(
        {
          name: 'killed_mid_way',
          cron: '0 0 1 1 *',
          steps: [
            { name: 'first', agent_type: 'monitor', handler: 'canary' },
            { name: 'second', agent_type: 'monitor', handler: 'canary', config: { sleep_ms: 5_000 } },
            { name: 'third', agent_type: 'monitor', handler: 'canary' },
          ],
        },
        steps,
      ),
    );
    const id = await runNow(t.handle.pool, steps, 'killed_mid_way');
    const stepStatus = async (order: number) =>
      (await sql(t.url, 'SELECT status FROM workflow_step_runs WHERE execution_id = $1 AND step_order = $2', [id, order]))[0]!.status;

    const doomed = spawnCesar(t.url, ['worker', '--lease-seconds', '3', '--poll-interval', '200ms']);
    await waitFor('step 2 to run', async () => (await stepStatus(2)) === 'running', 30_000);
    const firstOutput = (await sql(t.url, 'SELECT output FROM workflow_step_runs WHERE execution_id = $1 AND step_order = 1', [id]))[0]!
      .output;
    doomed.process.kill('SIGKILL');
    await doomed.process;

    const rescuer = spawnCesar(t.url, ['worker', '--lease-seconds', '3', '--poll-interval', '200ms']);
    try {
      await waitFor(
        'the execution to succeed',
        async () => (await sql(t.url, 'SELECT status FROM workflow_executions WHERE id = $1', [id]))[0]!.status === 'succeeded',
        60_000,
      );
    } finally {
      rescuer.process.kill('SIGTERM');
      await rescuer.process;
    }
    const started = await sql(
      t.url,
      `SELECT payload->>'step' AS step, count(*)::int AS n FROM agent_events
        WHERE execution_id = $1 AND event_type = 'step.started' GROUP BY 1 ORDER BY 1`,
      [id],
    );
    assert.deepEqual(
      started.map((r) => [r.step, r.n]),
      [
        ['first', 1],
        ['second', 2],
        ['third', 1],
      ],
    );
    const kept = (await sql(t.url, 'SELECT output FROM workflow_step_runs WHERE execution_id = $1 AND step_order = 1', [id]))[0]!.output;
    assert.deepEqual(kept, firstOutput, "step 1's output is the one from before the crash");
    const attempts = await sql(
      t.url,
      `SELECT a.outcome FROM job_attempts a JOIN job_queue j ON j.id = a.job_id
        WHERE j.dedupe_key = $1 ORDER BY a.attempt`,
      [`wf:${id}:2`],
    );
    assert.deepEqual(
      attempts.map((a) => a.outcome),
      ['lease_expired', 'succeeded'],
    );
  });
});

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { builtInStepHandlers } from '../../src/steps/index.js';
import { applyTemplates, parseTemplates } from '../../src/workflows/admin.js';
import { cesar, cesarBin, failedChecks } from '../helpers/cli.js';
import { createTestDatabase, sql, type TestDatabase, useTestDatabase } from '../helpers/db.js';
import { startOllamaStandIn } from '../helpers/ollama.js';
import { memoryLogger, waitFor } from '../helpers/queue.js';

const steps = builtInStepHandlers();
const originals = ['daily_financial_analysis', 'knowledge_graph_update', 'llm_cache_refresh', 'memory_consolidation', 'supabase_sync'];

async function ticksOf(url: string, name: string) {
  return sql(
    url,
    `SELECT to_char(k.tick_at AT TIME ZONE 'UTC', 'HH24:MI:SS') AS at, k.fate, k.reason, k.execution_id
       FROM workflow_ticks k JOIN workflow_templates t ON t.id = k.template_id
      WHERE t.name = $1 ORDER BY k.tick_at`,
    [name],
  );
}

describe('first runs, with an injected clock', () => {
  const t = useTestDatabase();
  const now = { at: '2026-01-01T10:00:30Z' };
  const schedulerAt = (firstRuns?: boolean) =>
    new Scheduler({ pool: t.handle.pool, steps, log: memoryLogger(), version: 'test', now: () => new Date(now.at), firstRuns });
  const template = async (name: string, firstRun?: string) => {
    const doc = { name, cron: '0 9 * * *', steps: [{ name: 'only', agent_type: 'monitor', handler: 'canary' }], first_run: firstRun };
    await applyTemplates(t.handle.pool, steps, parseTemplates(doc, steps));
    await sql(t.url, `UPDATE workflow_templates SET active_since = '2026-01-01T10:00:00Z' WHERE name = $1`, [name]);
  };

  it('a template marked at_once that never ran fires once, at the time it became active; on_schedule waits for 09:00', async () => {
    await template('first_at_once', 'at_once');
    await template('first_on_schedule');
    await schedulerAt().pass();
    const ticks = await ticksOf(t.url, 'first_at_once');
    assert.deepEqual(
      ticks.map((k) => [k.at, k.fate, k.reason]),
      [['10:00:00', 'fired', 'first run: the template had never run (first_run at_once)']],
    );
    assert.ok(ticks[0]?.execution_id, 'with its execution');
    assert.deepEqual(await ticksOf(t.url, 'first_on_schedule'), []);
    now.at = '2026-01-01T10:05:00Z';
    await schedulerAt().pass();
    assert.equal((await ticksOf(t.url, 'first_at_once')).length, 1, 'once');
  });

  it('not when it ran already (by hand), nor with CESAR_FIRST_RUNS=off; a second scheduler fires nothing more', async () => {
    await template('ran_by_hand', 'at_once');
    const run = await cesar(['workflows', 'run', 'ran_by_hand'], { DATABASE_URL: t.url });
    assert.equal(run.exitCode, 0, run.stderr);
    await template('first_off', 'at_once');
    await schedulerAt(false).pass();
    assert.deepEqual(await ticksOf(t.url, 'first_off'), [], 'off');
    await schedulerAt().pass();
    assert.deepEqual(await ticksOf(t.url, 'ran_by_hand'), [], 'it ran already');
    assert.equal((await ticksOf(t.url, 'first_off')).length, 1, 'on again: it fires');
    await schedulerAt().pass();
    assert.equal((await ticksOf(t.url, 'first_off')).length, 1, 'a second pass, or scheduler, fires nothing more');
  });

  it('first_run is refused unless at_once or on_schedule, and kept when a template document leaves it out', async () => {
    assert.throws(
      () =>
        parseTemplates(
          { name: 'bad_first', cron: '0 9 * * *', first_run: 'soon', steps: [{ name: 'a', agent_type: 'b', handler: 'canary' }] },
          steps,
        ),
      /first_run.*must be one of at_once, on_schedule/,
    );
    const doc = { name: 'first_at_once', cron: '0 9 * * *', steps: [{ name: 'only', agent_type: 'monitor', handler: 'canary' }] };
    await applyTemplates(t.handle.pool, steps, parseTemplates(doc, steps));
    const [row] = await sql(t.url, `SELECT first_run FROM workflow_templates WHERE name = 'first_at_once'`);
    assert.equal(row?.first_run, 'at_once');
    const list = await cesar(['workflows', 'list', '--json'], { DATABASE_URL: t.url });
    const shown = JSON.parse(list.stdout).templates.map((x: { name: string; first_run: string }) => [x.name, x.first_run]);
    assert.deepEqual(
      shown.find(([name]: [string]) => name === 'first_at_once'),
      ['first_at_once', 'at_once'],
    );
    assert.deepEqual(
      shown.find(([name]: [string]) => name === 'supabase_sync'),
      ['supabase_sync', 'at_once'],
      'an original one',
    );
  });
});

/** Daily bars of the last 400 weekdays up to yesterday, in Stooq's CSV format, one file per symbol: a made-up random walk. */
function writeRecentBars(dir: string, symbols: string[]): void {
  fs.mkdirSync(dir, { recursive: true });
  symbols.forEach((symbol, n) => {
    const lines = ['Date,Open,High,Low,Close,Volume'];
    let close = 100 + 10 * n;
    const day = new Date();
    day.setUTCHours(0, 0, 0, 0);
    const days: string[] = [];
    while (days.length < 400) {
      day.setUTCDate(day.getUTCDate() - 1);
      if (day.getUTCDay() !== 0 && day.getUTCDay() !== 6) days.unshift(day.toISOString().slice(0, 10));
    }
    days.forEach((d, i) => {
      close = Math.max(1, close * (1 + Math.sin(i * (n + 1) * 0.7) * 0.01));
      lines.push(`${d},${close.toFixed(2)},${(close * 1.01).toFixed(2)},${(close * 0.99).toFixed(2)},${close.toFixed(2)},${1000 + i}`);
    });
    fs.writeFileSync(path.join(dir, `${symbol}.csv`), `${lines.join('\n')}\n`);
  });
}

describe('cesar start on a new database: the five original workflows run at once', () => {
  let db: TestDatabase;
  let home: string;
  let ollama: Awaited<ReturnType<typeof startOllamaStandIn>>;
  before(async () => {
    db = await createTestDatabase();
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'cesar-first-run-'));
    writeRecentBars(path.join(home, 'bars'), ['AAPL', 'MSFT', 'GOOGL', 'AMZN', 'SPY', 'QQQ']);
    ollama = await startOllamaStandIn();
  });
  after(async () => {
    await ollama?.close();
    await db?.drop();
    fs.rmSync(home, { recursive: true, force: true });
  });

  /** `cesar start` with the settings given, until the five original workflows finished (or it exited); then stopped. */
  async function startUntilFinished(settings: Record<string, string>): Promise<Array<{ name: string; status: string }>> {
    const env = { PATH: process.env.PATH, NO_COLOR: '1', DATABASE_URL: db.url, CESAR_HOME: home, ...settings };
    let output = '';
    const child = execa(process.execPath, [cesarBin, 'start', '--api-port', '0', '--dashboard-port', '0'], {
      reject: false,
      extendEnv: false,
      all: true,
      env,
    });
    child.all!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const finished = `SELECT t.name, e.status
                         FROM workflow_executions e JOIN workflow_templates t ON t.id = e.template_id
                        WHERE e.finished_at IS NOT NULL ORDER BY t.name`;
    try {
      // Ready comes after the scheduler's first pass: what it fires at once is fired by then.
      const ready = () => /All systems initialized and ready!/.test(output);
      await waitFor(
        'ready, and five finished executions',
        async () => (ready() && (await sql(db.url, finished)).length >= 5) || child.exitCode !== null,
        60_000,
      );
    } finally {
      child.kill('SIGTERM');
      await child;
    }
    assert.match(output, /All systems initialized and ready!/, output);
    return (await sql(db.url, finished)) as Array<{ name: string; status: string }>;
  }
  const failedSteps = () => sql(db.url, `SELECT name, status, error FROM workflow_step_runs WHERE status NOT IN ('succeeded', 'skipped')`);

  it('within a minute every one has run and succeeded, its agents recorded what they did, and verify passes', async () => {
    // Market data from local files (recent made-up bars), the LLM from a stand-in: no internet here. Supabase is not configured.
    const finished = await startUntilFinished({
      CESAR_MARKET_PROVIDER: 'csvdir',
      CESAR_MARKET_DIR: path.join(home, 'bars'),
      OLLAMA_URL: ollama.url,
    });
    assert.deepEqual(
      finished.map((r) => [r.name, r.status]),
      originals.map((name) => [name, 'succeeded']),
      JSON.stringify(await failedSteps()),
    );
    for (const name of originals) {
      const ticks = await ticksOf(db.url, name);
      assert.match(String(ticks[0]?.reason), /^first run/, name);
    }
    const [episodes] = await sql(
      db.url,
      `SELECT count(DISTINCT a.agent_type)::int AS agent_types FROM memory_episodic m JOIN agents a ON a.id = m.agent_id`,
    );
    assert.ok(Number(episodes?.agent_types) >= 5, 'agents of every workflow recorded their steps');
    assert.ok(
      ollama.requests.some((r) => r.path === '/api/generate' || r.path === '/api/chat'),
      'a model was asked',
    );
    const verify = await cesar(['verify'], { DATABASE_URL: db.url, CESAR_HOME: home });
    assert.deepEqual(failedChecks(verify.stdout), [], verify.stdout);

    // Started again: they ran already, so nothing runs before its schedule.
    await startUntilFinished({ CESAR_MARKET_PROVIDER: 'csvdir', CESAR_MARKET_DIR: path.join(home, 'bars'), OLLAMA_URL: ollama.url });
    const [executions] = await sql(db.url, `SELECT count(*)::int AS n FROM workflow_executions`);
    assert.equal(executions?.n, 5);
  });
});

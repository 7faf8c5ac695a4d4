import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { builtInJobTypes } from '../../src/jobs/index.js';
import { cesar } from '../helpers/cli.js';
import { sql, useTestDatabase } from '../helpers/db.js';
import { runWorkerUntil } from '../helpers/queue.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cesar-workflows-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** A template file holding `content` (a document, or raw text). */
function templateFile(content: unknown): string {
  const file = path.join(dir, `templates-${++files}.json`);
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

function oneLine(stderr: string): string {
  const lines = stderr.replace(/\n$/, '').split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  return lines[0]!;
}

const canarySteps = [
  { name: 'first', agent_type: 'monitor', handler: 'canary' },
  { name: 'second', agent_type: 'monitor', handler: 'canary', config: { sleep_ms: 20 } },
  { name: 'third', agent_type: 'monitor', handler: 'canary' },
];

/** The reference templates' steps whose handlers are not built yet (schema/007_reference_data.sql): none, all five have theirs. */
const referenceMissing: Record<string, string[]> = {};

interface TemplateJson {
  name: string;
  cron_expression: string;
  timezone: string;
  catchup: string;
  overlap: string;
  is_active: boolean;
  runnable: boolean;
  missing_steps: string[];
  next_due_at: string | null;
  late_by_seconds: number | null;
}

/** The first 09:00 in New York strictly after `after`, found by trying 13:00 and 14:00 UTC (EDT, EST) of each day. */
function nextNineInNewYork(after: Date): Date {
  const clock = new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  const midnight = Date.UTC(after.getUTCFullYear(), after.getUTCMonth(), after.getUTCDate());
  for (let day = 0; day <= 2; day++) {
    for (const hour of [13, 14]) {
      const candidate = new Date(midnight + day * 86_400_000 + hour * 3_600_000);
      if (candidate > after && clock.format(candidate) === '09:00') return candidate;
    }
  }
  throw new Error(`no 09:00 in New York within two days of ${after.toISOString()}`);
}

describe('cesar workflows (the built binary on a real database)', () => {
  const t = useTestDatabase();
  const env = () => ({ DATABASE_URL: t.url });

  /** Run cesar, expect exit 0, parse its stdout as JSON. */
  async function json<T = Record<string, unknown>>(args: string[], input?: string): Promise<T> {
    const r = await cesar([...args, '--json'], env(), { input });
    assert.equal(r.exitCode, 0, `${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }
  const templates = async () => (await json<{ templates: TemplateJson[] }>(['workflows', 'list'])).templates;
  const template = async (name: string) => (await templates()).find((x) => x.name === name)!;
  const apply = async (doc: unknown) => {
    const r = await cesar(['workflows', 'apply', templateFile(doc)], env());
    assert.equal(r.exitCode, 0, r.stderr);
    return r;
  };
  const executionCount = async () => Number((await sql(t.url, 'SELECT count(*) AS n FROM workflow_executions'))[0]!.n);
  /** Expect a refusal: this exit code, one line on stderr matching `message`, nothing on stdout. */
  async function refused(args: string[], code: number, message: RegExp, input?: string): Promise<void> {
    const r = await cesar(args, env(), { input });
    assert.equal(r.exitCode, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(oneLine(r.stderr), message, args.join(' '));
    assert.equal(r.stdout, '', args.join(' '));
  }

  it('applies a canary template from a file; list shows it runnable and templates with steps lacking a handler not runnable, naming those steps', async () => {
    const created = await apply([
      { name: 'wf_canaries', description: 'three canaries', cron: '*/5 * * * *', steps: canarySteps },
      { name: 'wf_half', cron: '0 0 * * *', steps: [canarySteps[0], { name: 'later', agent_type: 'monitor', handler: 'not_built' }] },
    ]);
    assert.match(created.stdout, /^Created template wf_canaries: 3 step\(s\), cron "\*\/5 \* \* \* \*" in UTC$/m);
    assert.match(created.stdout, /^ {2}wf_half is not runnable: no step handler for later \(handler not_built\)$/m);
    assert.doesNotMatch(created.stdout, /wf_canaries is not runnable/);

    const list = await templates();
    const canaries = list.find((x) => x.name === 'wf_canaries')!;
    assert.deepEqual([canaries.runnable, canaries.missing_steps, canaries.is_active], [true, [], true]);
    assert.deepEqual(list.find((x) => x.name === 'wf_half')!.missing_steps, ['later (handler not_built)']);
    for (const [name, missing] of Object.entries(referenceMissing)) {
      const reference = list.find((x) => x.name === name);
      assert.ok(reference, `reference template ${name} is listed`);
      assert.deepEqual([reference.runnable, reference.missing_steps], [false, missing], name);
    }

    const text = await cesar(['workflows', 'list'], env());
    assert.equal(text.exitCode, 0, text.stderr);
    assert.match(text.stdout, /^Schedulers alive: 0 /);
    assert.match(text.stdout, /│ wf_canaries\s+│ \*\/5 \* \* \* \* UTC\s+│ latest \/ skip\s+│ yes\s+│ yes\s+│ never/);
    assert.match(text.stdout, /│ wf_half\s+│.*│ no: later/);

    const again = await apply({ name: 'wf_canaries', cron: '*/5 * * * *', steps: canarySteps });
    assert.match(again.stdout, /^Updated template wf_canaries/);
    const applied = await json<{ applied: unknown[] }>(
      ['workflows', 'apply', '-'],
      JSON.stringify({ name: 'wf_stdin', cron: '0 0 * * *', steps: canarySteps }),
    );
    assert.deepEqual(applied.applied, [{ name: 'wf_stdin', created: true, not_runnable: null }]);
  });

  it('runs a template; after a worker, show lists each step with its agent and duration', async () => {
    await apply({ name: 'wf_run', cron: '0 0 1 1 *', steps: canarySteps });
    const run = await cesar(['workflows', 'run', 'wf_run', '--input', '{"hello":"world"}'], env());
    assert.equal(run.exitCode, 0, run.stderr);
    const id = Number(run.stdout.trim());
    assert.ok(Number.isInteger(id) && id > 0, run.stdout);
    await runWorkerUntil(
      t.url,
      builtInJobTypes(),
      'the execution to succeed',
      async () => (await sql(t.url, 'SELECT status FROM workflow_executions WHERE id = $1', [id]))[0]!.status === 'succeeded',
    );

    const shown = await json<{
      id: number;
      template: string;
      trigger: string;
      status: string;
      steps: Array<{
        order: number;
        name: string;
        agent_type: string;
        agent: string | null;
        status: string;
        duration_ms: number | null;
        output: { input: unknown };
      }>;
    }>(['workflows', 'show', String(id)]);
    assert.deepEqual([shown.id, shown.template, shown.trigger, shown.status], [id, 'wf_run', 'manual', 'succeeded']);
    assert.deepEqual(
      shown.steps.map((s) => [s.order, s.name, s.agent_type, s.status]),
      [
        [1, 'first', 'monitor', 'succeeded'],
        [2, 'second', 'monitor', 'succeeded'],
        [3, 'third', 'monitor', 'succeeded'],
      ],
    );
    const monitors = (await sql(t.url, `SELECT name FROM agents WHERE agent_type = 'monitor'`)).map((a) => a.name as string);
    for (const s of shown.steps) {
      assert.ok(s.agent !== null && monitors.includes(s.agent), `step ${s.name} names the monitor agent that ran it: ${s.agent}`);
      assert.equal(typeof s.duration_ms, 'number', `step ${s.name} has a duration`);
    }
    assert.ok(shown.steps[1]!.duration_ms! >= 20, 'the second step slept 20 ms');
    assert.deepEqual(shown.steps[0]!.output.input, { hello: 'world' });

    const text = await cesar(['workflows', 'show', String(id)], env());
    assert.equal(text.exitCode, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^Execution ${id}: wf_run \\(manual\\)$`, 'm'));
    assert.match(text.stdout, /│ 2\s+│ second\s+│ .+ \(monitor\)\s+│ succeeded\s+│ 1\s+│ [\d.]+ (ms|s)\s+│ \{"ok":true,"step":"second"/);
  });

  it('refuses to run a template that is not runnable, in one line naming the missing steps (exit 65), creating nothing', async () => {
    const before = await executionCount();
    await refused(['workflows', 'run', 'wf_half'], 65, /template wf_half is not runnable: no step handler for later \(handler not_built\)/);
    await refused(['workflows', 'run', 'no_such_template'], 65, /no workflow template "no_such_template"/);
    await refused(['workflows', 'run', 'wf_canaries', '--input', '[1, 2]'], 65, /the input must be a JSON object/);
    await refused(['workflows', 'run', 'wf_canaries', '--input', '{nope'], 65, /--input is not valid JSON/);
    assert.equal(await executionCount(), before);
  });

  it('enqueue --workflow twice in one minute makes one execution, and the second says it was deduplicated', async () => {
    // overlap allow: should the calls straddle a minute, the new minute's tick fires too (rather than being skipped).
    await apply({ name: 'wf_cron', cron: '* * * * *', overlap: 'allow', steps: canarySteps });
    const first = await json<{
      template: string;
      tick_at: string;
      fate: string;
      execution_id: number;
      deduplicated: boolean;
      reason: null;
    }>(['enqueue', '--workflow', 'wf_cron']);
    assert.deepEqual([first.template, first.fate, first.deduplicated, first.reason], ['wf_cron', 'fired', false, null]);
    assert.match(first.tick_at, /T\d\d:\d\d:00\.000Z$/);
    let last = { tick: first.tick_at.replace('.000Z', 'Z'), id: first.execution_id };
    let fired = 1;
    for (let call = 0; ; call++) {
      assert.ok(call < 3, 'two calls in one minute');
      const r = await cesar(['enqueue', '--workflow', 'wf_cron'], env());
      assert.equal(r.exitCode, 0, r.stderr);
      const line = oneLine(r.stderr);
      const newMinute = /^Fired the tick (\S+) of wf_cron: execution (\d+)$/.exec(line);
      if (newMinute) {
        last = { tick: newMinute[1]!, id: Number(newMinute[2]) };
        fired++;
        continue;
      }
      assert.equal(line, `Deduplicated: the tick ${last.tick} of wf_cron is already on record (fired execution ${last.id})`);
      assert.equal(r.stdout.trim(), String(last.id), 'the execution id on stdout');
      break;
    }
    const [counts] = await sql(
      t.url,
      `SELECT (SELECT count(*) FROM workflow_executions e JOIN workflow_templates w ON w.id = e.template_id WHERE w.name = 'wf_cron') AS executions,
              (SELECT count(*) FROM workflow_ticks k JOIN workflow_templates w ON w.id = k.template_id WHERE w.name = 'wf_cron') AS ticks`,
    );
    assert.deepEqual([Number(counts!.executions), Number(counts!.ticks)], [fired, fired], 'one execution per minute');
  });

  it('enqueue --workflow of a tick that does not fire says why and exits 0; flag mix-ups are usage errors', async () => {
    const skipped = await json<{ fate: string; execution_id: null; reason: string }>(['enqueue', '--workflow', 'wf_half']);
    assert.deepEqual([skipped.fate, skipped.execution_id], ['skipped', null]);
    assert.match(skipped.reason, /^not runnable: no step handler for later \(handler not_built\)/);
    const text = await cesar(['enqueue', '--workflow', 'wf_half'], env());
    assert.equal(text.exitCode, 0, text.stderr);
    assert.equal(text.stdout, '', 'no execution id');
    assert.match(oneLine(text.stderr), /tick \S+ of wf_half .*skipped: not runnable: no step handler for later/);

    const before = await executionCount();
    await refused(['enqueue'], 64, /missing required argument 'type' \(or --workflow NAME\)/);
    await refused(['enqueue', 'canary', '--workflow', 'wf_cron'], 64, /give a job type or --workflow, not both/);
    await refused(
      ['enqueue', '--workflow', 'wf_cron', '--payload', '{}', '--key', 'k'],
      64,
      /--payload, --key describe a job and cannot be used with --workflow/,
    );
    await refused(['enqueue', '--workflow', 'no_such_template'], 65, /no workflow template "no_such_template"/);
    assert.equal(await executionCount(), before);
    assert.equal(Number((await sql(t.url, 'SELECT count(*) AS n FROM job_queue WHERE job_type = $1', ['canary']))[0]!.n), 0, 'no job');
  });

  it('pause and resume flip is_active; a paused template skips its tick', async () => {
    await apply({ name: 'wf_pausable', cron: '*/5 * * * *', steps: canarySteps });
    const paused = await json<{ changed: boolean; template: TemplateJson }>(['workflows', 'pause', 'wf_pausable']);
    assert.deepEqual([paused.changed, paused.template.is_active, paused.template.next_due_at], [true, false, null]);
    assert.equal((await template('wf_pausable')).is_active, false);
    const again = await cesar(['workflows', 'pause', 'wf_pausable'], env());
    assert.equal(again.exitCode, 0, again.stderr);
    assert.match(again.stdout, /wf_pausable was already paused/);
    const tick = await json<{ fate: string; reason: string }>(['enqueue', '--workflow', 'wf_pausable']);
    assert.deepEqual([tick.fate, tick.reason], ['skipped', 'the template is paused']);

    const resumed = await cesar(['workflows', 'resume', 'wf_pausable'], env());
    assert.equal(resumed.exitCode, 0, resumed.stderr);
    assert.match(resumed.stdout, /^Resumed wf_pausable: it fires from its next tick/);
    const view = await template('wf_pausable');
    assert.equal(view.is_active, true);
    assert.notEqual(view.next_due_at, null);
    await refused(['workflows', 'pause', 'no_such_template'], 65, /no workflow template "no_such_template"/);
  });

  it('set refuses a bad cron, time zone or policy in one line, changing nothing; good values are applied', async () => {
    await apply({ name: 'wf_settable', cron: '*/10 * * * *', steps: canarySteps });
    const read = async () =>
      (
        await sql(
          t.url,
          `SELECT cron_expression, timezone, catchup, overlap, active_since, updated_at FROM workflow_templates WHERE name = 'wf_settable'`,
        )
      )[0];
    const before = await read();
    const cases: Array<[string[], number, RegExp]> = [
      [['--cron', '61 * * * *'], 65, /"61 \* \* \* \*" is not a valid cron expression/],
      [['--cron', '* * *'], 65, /"\* \* \*" is not a cron expression of 5 fields/],
      [['--timezone', 'Mars/Olympus'], 65, /unknown time zone "Mars\/Olympus"/],
      [['--cron', '0 9 * * *', '--timezone', 'Mars/Olympus'], 65, /unknown time zone "Mars\/Olympus"/],
      [['--catchup', 'sometimes'], 65, /--catchup "sometimes" is not a policy; use one of skip, latest, all/],
      [['--cron', '0 9 * * *', '--overlap', 'never'], 65, /--overlap "never" is not a policy; use one of skip, queue, allow/],
      [[], 65, /nothing to change/],
      [['--cron'], 64, /option '--cron <expr>' argument missing/],
    ];
    for (const [flags, code, message] of cases) await refused(['workflows', 'set', 'wf_settable', ...flags], code, message);
    assert.deepEqual(await read(), before, 'the template is unchanged');
    await refused(['workflows', 'set', 'no_such_template', '--cron', '0 9 * * *'], 65, /no workflow template "no_such_template"/);

    const set = await json<{ template: TemplateJson }>([
      'workflows',
      'set',
      'wf_settable',
      '--cron',
      '0 9 * * 1',
      '--timezone',
      'Europe/Paris',
      '--catchup',
      'all',
      '--overlap',
      'queue',
    ]);
    const changed = { cron_expression: '0 9 * * 1', timezone: 'Europe/Paris', catchup: 'all', overlap: 'queue' };
    const stored = (await read())!;
    assert.deepEqual(
      { cron_expression: stored.cron_expression, timezone: stored.timezone, catchup: stored.catchup, overlap: stored.overlap },
      changed,
    );
    assert.deepEqual(
      {
        cron_expression: set.template.cron_expression,
        timezone: set.template.timezone,
        catchup: set.template.catchup,
        overlap: set.template.overlap,
      },
      changed,
    );
  });

  it('apply of an invalid file changes nothing: bad JSON, unknown field, duplicate step, a bad cron in the 2nd template', async () => {
    await apply({ name: 'wf_existing', cron: '0 1 * * *', steps: canarySteps });
    const dump = async () =>
      (
        await sql(
          t.url,
          `SELECT json_agg(json_build_object('t', w.*, 's', (SELECT json_agg(s.* ORDER BY s.step_order) FROM workflow_steps s WHERE s.template_id = w.id))
                           ORDER BY w.id)::text AS all FROM workflow_templates w`,
        )
      )[0]!.all as string;
    const before = await dump();
    const big = templateFile(' '.repeat(1024 * 1024 + 1));
    const cases: Array<[string, RegExp, string?]> = [
      [templateFile('{"name": "wf_bad", '), /the template file ".*" is not valid JSON/],
      [templateFile({ name: 'wf_bad', cron: '0 1 * * *', steps: canarySteps, color: 'red' }), /unknown field "color"/],
      [
        templateFile({
          name: 'wf_bad',
          cron: '0 1 * * *',
          steps: [...canarySteps, { name: 'first', agent_type: 'monitor', handler: 'canary' }],
        }),
        /template wf_bad: step first appears twice/,
      ],
      [
        templateFile([
          { name: 'wf_first_of_array', cron: '0 1 * * *', steps: canarySteps },
          { name: 'wf_existing', cron: '0 25 * * *', steps: canarySteps },
        ]),
        /^cesar: template 2: template wf_existing: "0 25 \* \* \*" is not a valid cron expression/,
      ],
      [
        templateFile([
          { name: 'wf_first_of_array', cron: '0 1 * * *', steps: canarySteps },
          { name: 'wf_first_of_array', cron: '0 2 * * *', steps: canarySteps },
        ]),
        /template 2: template wf_first_of_array appears twice in the file/,
      ],
      [
        templateFile({ name: 'wf_bad', cron: '0 1 * * *', steps: [{ ...canarySteps[0], config: { sleep_ms: 'long' } }] }),
        /invalid config for handler canary: sleep_ms/,
      ],
      [templateFile([]), /empty array/],
      [path.join(dir, 'missing.json'), /cannot read the template file ".*missing\.json": ENOENT/],
      [big, /is 1048577 bytes; the limit is 1048576 bytes \(1 MiB\)/],
      ['-', /the template file on stdin is not valid JSON/, 'not json'],
    ];
    for (const [file, message, input] of cases) await refused(['workflows', 'apply', file], 65, message, input);
    assert.equal(await dump(), before, 'no template or step changed');
    assert.equal(
      (await templates()).find((x) => x.name === 'wf_first_of_array'),
      undefined,
      'the first template of the array was not created',
    );
  });

  it('retry and cancel in the wrong state, or of an unknown execution, are refused in one line (exit 65)', async () => {
    await apply({ name: 'wf_states', cron: '0 0 1 1 *', steps: canarySteps });
    const id = Number((await cesar(['workflows', 'run', 'wf_states'], env())).stdout.trim());
    await refused(
      ['workflows', 'retry', String(id)],
      65,
      new RegExp(`execution ${id} is pending: only a failed or cancelled execution can be retried`),
    );
    const cancelled = await json<{ execution: { id: number; status: string } }>(['workflows', 'cancel', String(id)]);
    assert.deepEqual([cancelled.execution.id, cancelled.execution.status], [id, 'cancelled']);
    await refused(
      ['workflows', 'cancel', String(id)],
      65,
      new RegExp(`execution ${id} is cancelled: only a pending or running execution can be cancelled`),
    );
    await refused(['workflows', 'retry', String(id), '--from-step', 'fourth'], 65, /has no step "fourth"; its steps: first, second, third/);
    const retried = await cesar(['workflows', 'retry', String(id)], env());
    assert.equal(retried.exitCode, 0, retried.stderr);
    assert.match(retried.stdout, new RegExp(`^Execution ${id} runs again from step first`));
    assert.equal((await sql(t.url, 'SELECT status, retries FROM workflow_executions WHERE id = $1', [id]))[0]!.retries, 1);

    await refused(['workflows', 'show', '999999'], 65, /no workflow execution 999999/);
    await refused(['workflows', 'cancel', '999999'], 65, /no workflow execution 999999/);
    await refused(['workflows', 'retry', '999999'], 65, /no workflow execution 999999/);
    await refused(['workflows', 'show', 'abc'], 64, /expected an integer from 1 to/);
    await refused(['workflows', 'retry', '0'], 64, /expected an integer from 1 to/);
  });

  it('history shows the manual run and a skipped tick, newest first', async () => {
    await apply({ name: 'wf_history', cron: '*/5 * * * *', steps: canarySteps });
    const id = Number((await cesar(['workflows', 'run', 'wf_history'], env())).stdout.trim());
    // No worker runs: the execution is still under way, so the tick is skipped (overlap policy skip).
    const tick = await json<{ fate: string }>(['enqueue', '--workflow', 'wf_history']);
    assert.equal(tick.fate, 'skipped');

    const { history } = await json<{
      history: Array<{
        at: string;
        fate: string;
        reason: string | null;
        source: string | null;
        execution: { id: number; status: string } | null;
      }>;
    }>(['workflows', 'history', 'wf_history']);
    assert.deepEqual(history.map((h) => h.fate).sort(), ['manual', 'skipped']);
    const manual = history.find((h) => h.fate === 'manual')!;
    assert.deepEqual([manual.execution?.id, manual.execution?.status], [id, 'pending']);
    const skipped = history.find((h) => h.fate === 'skipped')!;
    assert.deepEqual(
      [skipped.source, skipped.execution, skipped.reason],
      ['enqueue', null, `execution ${id} still under way (overlap policy skip)`],
    );
    assert.deepEqual(
      history.map((h) => h.at),
      history
        .map((h) => h.at)
        .sort()
        .reverse(),
      'newest first',
    );

    const text = await cesar(['workflows', 'history', 'wf_history'], env());
    assert.equal(text.exitCode, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`│ manual\\s+│ operator\\s+│ ${id} pending\\s+│`));
    assert.match(text.stdout, new RegExp(`│ skipped\\s+│ enqueue\\s+│ -\\s+│ execution ${id} still under way`));
    const limited = await json<{ history: unknown[] }>(['workflows', 'history', 'wf_history', '--limit', '1']);
    assert.equal(limited.history.length, 1);
    await refused(['workflows', 'history', 'no_such_template'], 65, /no workflow template "no_such_template"/);
    await refused(['workflows', 'history', 'wf_history', '--limit', '0'], 64, /expected an integer from 1 to 1000/);
  });

  it('next_due_at of a template in America/New_York is the next 09:00 there (13:00 or 14:00 UTC)', async () => {
    await apply({ name: 'wf_new_york', cron: '0 9 * * *', timezone: 'America/New_York', steps: canarySteps });
    const [row] = await sql(t.url, `SELECT active_since FROM workflow_templates WHERE name = 'wf_new_york'`);
    const expected = nextNineInNewYork(row!.active_since as Date);
    const view = await template('wf_new_york');
    assert.equal(view.next_due_at, expected.toISOString());
    assert.ok([13, 14].includes(new Date(view.next_due_at!).getUTCHours()), view.next_due_at!);
    assert.equal(view.late_by_seconds, null);
    const text = await cesar(['workflows', 'list'], { DATABASE_URL: t.url });
    assert.match(
      text.stdout,
      /│ wf_new_york .*│ \d{4}-\d{2}-\d{2} 09:00:00 America\/New_York\s+│/,
      'the table shows it as the zone reads it',
    );
  });
});

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { execa } from 'execa';
import * as v from 'valibot';
import { InputError } from '../../src/errors.js';
import { canary } from '../../src/jobs/canary.js';
import { builtInJobTypes } from '../../src/jobs/index.js';
import { enqueue } from '../../src/queue/enqueue.js';
import { checkPayload, defineJobType, integerIn, JobTypeRegistry } from '../../src/queue/job-types.js';
import { builtInStepHandlers } from '../../src/steps/index.js';
import { applyTemplates, parseTemplates } from '../../src/workflows/admin.js';
import { cesarBin, root } from '../helpers/cli.js';
import { sql, useTestDatabase } from '../helpers/db.js';
import { memoryLogger, runWorkerUntil } from '../helpers/queue.js';

const broken = defineJobType({
  name: 'broken',
  description: 'its handler module throws as it loads',
  payload: v.strictObject({ n: v.optional(integerIn(0, 10)) }),
  timeoutMs: 1000,
  handler: () => import('../fixtures/broken-handler.js') as never,
});

describe('job type registry', () => {
  it('checks payloads against the declared schema, naming the field', () => {
    assert.equal(checkPayload(canary, {}), undefined);
    assert.equal(checkPayload(canary, { sleep_ms: 5, fail_attempts: 1 }), undefined);
    assert.deepEqual(checkPayload(canary, { sleep_ms: -1 }), {
      message: 'sleep_ms must be an integer from 0 to 600000',
      field: 'payload.sleep_ms',
    });
    assert.deepEqual(checkPayload(canary, { sleep_ms: 'soon' }), {
      message: 'sleep_ms must be an integer from 0 to 600000',
      field: 'payload.sleep_ms',
    });
    assert.deepEqual(checkPayload(canary, { nope: 1 }), {
      message: 'unknown field "nope"; allowed: sleep_ms, fail_attempts',
      field: 'payload.nope',
    });
    assert.deepEqual(checkPayload(canary, [1]), { message: 'the canary payload must be a JSON object', field: 'payload' });
  });

  it('refuses a type registered twice or named outside snake_case', () => {
    assert.throws(() => new JobTypeRegistry().add(canary).add(canary), /registered twice/);
    assert.throws(() => new JobTypeRegistry().add({ ...canary, name: 'Bad-Name' }), /snake_case/);
  });

  it('loads handlers only when asked, and reports a broken one instead of throwing', async () => {
    const registry = new JobTypeRegistry().add(canary).add(broken);
    const { loaded, failed } = await registry.load();
    assert.deepEqual([...loaded.keys()], ['canary']);
    assert.match(failed.get('broken')!.message, /broken on import/);
  });
});

describe('a job type whose handler module throws on import', () => {
  const t = useTestDatabase();

  it('can be enqueued (enqueue never loads handlers), and a worker leaves its jobs pending while it runs the others', async () => {
    const registry = builtInJobTypes().add(broken);
    const job = await enqueue(t.handle.pool, { type: 'broken', payload: { n: 1 } }, registry);
    await assert.rejects(enqueue(t.handle.pool, { type: 'broken', payload: { n: 11 } }, registry), InputError);
    const other = await enqueue(t.handle.pool, { type: 'canary' }, registry);
    const log = memoryLogger();
    await runWorkerUntil(
      t.url,
      registry,
      'the canary to complete',
      async () => (await sql(t.url, 'SELECT status FROM job_queue WHERE id = $1', [other.id]))[0]!.status === 'completed',
      { log },
    );
    const [row] = await sql(t.url, 'SELECT status, attempts FROM job_queue WHERE id = $1', [job.id]);
    assert.deepEqual({ ...row }, { status: 'pending', attempts: 0 });
    assert.ok(
      log.lines.some((l) => /job type broken cannot run here: its handler failed to load \(.*broken on import\)/.test(l)),
      log.lines.join('\n'),
    );
  });

  it('cesar enqueue loads no handler module, nor the HTTP layer or Kysely', async () => {
    // The bundled CLI keeps each handler in a chunk of its own, loaded only by a worker.
    const chunks = fs.readdirSync(path.join(root, 'dist/cli-bundle'));
    assert.ok(
      chunks.some((c) => /^canary\.handler-\w+\.js$/.test(c)),
      `a chunk of its own for the canary handler: ${chunks.join(' ')}`,
    );
    const trace = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cesar-trace-')), 'imports.txt');
    try {
      const r = await execa(
        process.execPath,
        ['--import', path.join(root, 'test/fixtures/trace-imports.mjs'), cesarBin, 'enqueue', 'canary', '--payload', '{"sleep_ms":1}'],
        {
          reject: false,
          extendEnv: false,
          env: { PATH: process.env.PATH, DATABASE_URL: t.url, NO_COLOR: '1', TRACE_IMPORTS_FILE: trace },
        },
      );
      assert.equal(r.exitCode, 0, r.stderr);
      const [job] = await sql(t.url, 'SELECT job_type, payload FROM job_queue WHERE id = $1', [Number(r.stdout)]);
      assert.deepEqual({ ...job }, { job_type: 'canary', payload: { sleep_ms: 1 } }, 'checked against the declaration and enqueued');
      const loaded = fs.readFileSync(trace, 'utf8').split('\n').filter(Boolean);
      assert.ok(
        loaded.some((u) => u.includes('/dist/cli-bundle/enqueue-')),
        `the trace sees the CLI's modules: ${loaded.join(' ')}`,
      );
      assert.deepEqual(
        loaded.filter((u) => /\.handler[-.]/.test(u) || /\/node_modules\/(fastify|@fastify|kysely)\//.test(u)),
        [],
      );
    } finally {
      fs.rmSync(path.dirname(trace), { recursive: true, force: true });
    }
  });

  it('cesar enqueue --workflow (a crontab) fires the tick without loading a handler, the HTTP layer or Kysely', async () => {
    const steps = builtInStepHandlers();
    await applyTemplates(
      t.handle.pool,
      steps,
      parseTemplates({ name: 'from_cron', cron: '* * * * *', steps: [{ name: 'only', agent_type: 'monitor', handler: 'canary' }] }, steps),
    );
    const trace = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cesar-trace-')), 'imports.txt');
    try {
      const r = await execa(
        process.execPath,
        ['--import', path.join(root, 'test/fixtures/trace-imports.mjs'), cesarBin, 'enqueue', '--workflow', 'from_cron'],
        {
          reject: false,
          extendEnv: false,
          env: { PATH: process.env.PATH, DATABASE_URL: t.url, NO_COLOR: '1', TRACE_IMPORTS_FILE: trace },
        },
      );
      assert.equal(r.exitCode, 0, r.stderr);
      const [execution] = await sql(t.url, 'SELECT e.trigger FROM workflow_executions e WHERE e.id = $1', [Number(r.stdout)]);
      assert.equal(execution!.trigger, 'cron', 'the tick fired an execution');
      const loaded = fs.readFileSync(trace, 'utf8').split('\n').filter(Boolean);
      assert.ok(
        loaded.some((u) => u.includes('/dist/cli-bundle/')),
        `the trace sees the CLI's modules: ${loaded.join(' ')}`,
      );
      assert.deepEqual(
        loaded.filter((u) => /\.handler[-.]/.test(u) || /step-runner/.test(u) || /\/node_modules\/(fastify|@fastify|kysely)\//.test(u)),
        [],
      );
    } finally {
      fs.rmSync(path.dirname(trace), { recursive: true, force: true });
    }
  });
});

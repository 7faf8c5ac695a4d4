import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import * as v from 'valibot';
import { InputError } from '../../src/errors.js';
import { canary } from '../../src/jobs/canary.js';
import { builtInJobTypes } from '../../src/jobs/index.js';
import { enqueue } from '../../src/queue/enqueue.js';
import { checkPayload, defineJobType, integerIn, JobTypeRegistry } from '../../src/queue/job-types.js';
import { cesarBin, root } from '../helpers/cli.js';
import { createTestDatabase, openTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
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
      message: 'unknown field "nope" (allowed: sleep_ms, fail_attempts)',
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
  let d: TestDatabase;
  let handle: Awaited<ReturnType<typeof openTestDatabase>>;
  before(async () => {
    d = await createTestDatabase();
    handle = await openTestDatabase(d.url);
  });
  after(async () => {
    await handle?.close();
    await d?.drop();
  });

  it('can be enqueued (enqueue never loads handlers), and a worker leaves its jobs pending while it runs the others', async () => {
    const registry = builtInJobTypes().add(broken);
    const job = await enqueue(handle.pool, { type: 'broken', payload: { n: 1 } }, registry);
    await assert.rejects(enqueue(handle.pool, { type: 'broken', payload: { n: 11 } }, registry), InputError);
    const other = await enqueue(handle.pool, { type: 'canary' }, registry);
    const log = memoryLogger();
    await runWorkerUntil(
      d.url,
      registry,
      'the canary to complete',
      async () => (await sql(d.url, 'SELECT status FROM job_queue WHERE id = $1', [other.id]))[0]!.status === 'completed',
      { log },
    );
    const [row] = await sql(d.url, 'SELECT status, attempts FROM job_queue WHERE id = $1', [job.id]);
    assert.deepEqual({ ...row }, { status: 'pending', attempts: 0 });
    assert.ok(
      log.lines.some((l) => /job type broken cannot run here: its handler failed to load \(.*broken on import\)/.test(l)),
      log.lines.join('\n'),
    );
  });

  it('cesar enqueue loads the job declarations but no handler module', async () => {
    const trace = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cesar-trace-')), 'imports.txt');
    try {
      const r = await execa(
        process.execPath,
        ['--import', path.join(root, 'test/fixtures/trace-imports.mjs'), cesarBin, 'enqueue', 'canary', '--payload', '{"sleep_ms":1}'],
        {
          reject: false,
          extendEnv: false,
          env: { PATH: process.env.PATH, DATABASE_URL: d.url, NO_COLOR: '1', TRACE_IMPORTS_FILE: trace },
        },
      );
      assert.equal(r.exitCode, 0, r.stderr);
      const loaded = fs.readFileSync(trace, 'utf8').split('\n');
      assert.ok(
        loaded.some((u) => u.endsWith('/dist/jobs/canary.js')),
        'the declaration is loaded',
      );
      assert.ok(
        !loaded.some((u) => u.endsWith('.handler.js')),
        `no handler module: ${loaded.filter((u) => u.includes('/dist/')).join(' ')}`,
      );
      assert.ok(!loaded.some((u) => /\/node_modules\/(fastify|kysely)\//.test(u)), 'neither the HTTP layer nor Kysely');
    } finally {
      fs.rmSync(path.dirname(trace), { recursive: true, force: true });
    }
  });
});

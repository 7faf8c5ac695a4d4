import * as v from 'valibot';
import { canary } from '../../src/jobs/canary.js';
import { createLogger, type Logger } from '../../src/log.js';
import { type JobContext, JobTypeRegistry, type JobTypeSpec } from '../../src/queue/job-types.js';
import { Worker, type WorkerOptions } from '../../src/queue/worker.js';
import { openTestDatabase } from './db.js';

/** A logger that keeps its lines, for assertions. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', format: 'text', proc: 'test', write: (l) => lines.push(l) });
  return Object.assign(log, { lines });
}

/** A job type for a test: any JSON object as payload, the handler given inline rather than as a module. */
export function inlineJobType<P = Record<string, unknown>>(type: {
  name: string;
  description?: string;
  timeoutMs?: number;
  run: (ctx: JobContext<P>) => unknown;
}): JobTypeSpec {
  return {
    name: type.name,
    description: type.description ?? type.name,
    payload: v.record(v.string(), v.unknown()),
    timeoutMs: type.timeoutMs ?? 10_000,
    handler: async () => ({ default: type.run as (ctx: JobContext) => unknown }),
  };
}

/** canary and the given types. */
export function registryOf(...types: JobTypeSpec[]): JobTypeRegistry {
  const registry = new JobTypeRegistry().add(canary);
  for (const t of types) registry.add(t);
  return registry;
}

/** A real Worker on a test database, with short timings; stop() it in the test. */
export async function startWorker(url: string, registry: JobTypeRegistry, overrides: Partial<WorkerOptions> = {}) {
  const handle = await openTestDatabase(url);
  const worker = new Worker({
    pool: handle.pool,
    db: await handle.kysely(),
    registry,
    log: overrides.log ?? memoryLogger(),
    listenUrl: url,
    concurrency: 4,
    pollIntervalMs: 200,
    leaseSeconds: 30,
    queues: ['default'],
    shutdownGraceMs: 5000,
    retentionMs: 7 * 86_400_000,
    version: 'test',
    backoff: { initialMs: 20, capMs: 100 },
    ...overrides,
  });
  await worker.start();
  return {
    worker,
    handle,
    async stop() {
      await worker.stop();
      await handle.close();
    },
  };
}

/** Start a worker, wait until the probe holds, and stop the worker whatever happens. */
export async function runWorkerUntil(
  url: string,
  registry: JobTypeRegistry,
  what: string,
  probe: () => Promise<unknown>,
  overrides: Partial<WorkerOptions> = {},
  timeoutMs?: number,
): Promise<void> {
  const w = await startWorker(url, registry, overrides);
  try {
    await waitFor(what, async () => Boolean(await probe()), timeoutMs);
  } finally {
    await w.stop();
  }
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

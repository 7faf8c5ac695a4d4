import type { Kysely, Transaction } from 'kysely';
import { asQueryable, type Queryable } from '../db/queryable.js';
import { InputError } from '../errors.js';
import { quote } from '../text.js';
import { checkPayload, type JobTypeRegistry } from './job-types.js';
import { enqueueSql, enqueueUniqueSql } from './queries.js';

/** The largest payload accepted, as UTF-8 JSON. Queue rows stay small; big data belongs in tables. */
export const maxPayloadBytes = 64 * 1024;
export const defaultMaxAttempts = 5;

export interface NewJob {
  type: string;
  payload?: unknown;
  /** Lower runs first; default 0. */
  priority?: number;
  runAt?: Date;
  delayMs?: number;
  maxAttempts?: number;
  queue?: string;
  /** While a job with this key is pending or running, enqueueing it again returns that job. */
  dedupeKey?: string;
  /** With dedupeKey: the key also holds for this long after its job finished (cron firing twice). */
  uniqueForMs?: number;
}

export interface EnqueuedJob {
  id: number;
  type: string;
  queue: string;
  runAt: Date;
  /** true when a job with the same dedupe key was returned instead of a new one. */
  deduplicated: boolean;
  /** The job's status: pending for a new one; any for a deduplicated one. */
  status: string;
}

// biome-ignore lint/suspicious/noExplicitAny: a transaction of any database schema
type Db = Queryable | Kysely<any> | Transaction<any>;

/** Enqueue one job (see enqueueMany). */
export async function enqueue(db: Db, job: NewJob, registry?: JobTypeRegistry): Promise<EnqueuedJob> {
  const [result] = await enqueueMany(db, [job], registry);
  return result!;
}

/**
 * Enqueue many jobs in one round trip, in the caller's transaction when db is one. Validates every job
 * first (type known to the registry, payload, limits); one bad job rejects the batch with InputError.
 */
export async function enqueueMany(db: Db, jobs: NewJob[], registry?: JobTypeRegistry): Promise<EnqueuedJob[]> {
  if (jobs.length === 0) return [];
  const rows = jobs.map((job, i) => validate(job, registry, jobs.length > 1 ? `job ${i + 1}: ` : ''));
  const q = asQueryable(db);
  const results: Array<EnqueuedJob | undefined> = new Array(jobs.length);
  // Jobs with a dedupe window go one by one (they are few: cron's); the rest in one statement.
  for (const [i, row] of rows.entries()) if (row.uniqueForMs !== null) results[i] = await enqueueUnique(q, row);
  let todo = rows.flatMap((row, i) => (row.uniqueForMs === null ? [i] : []));
  // A key whose conflicting job committed after our snapshot resolves to nothing; try those again.
  for (let round = 0; todo.length > 0; round++) {
    if (round === 5) throw new Error(`could not resolve dedupe keys after ${round} rounds`);
    const batch = todo.map((i) => rows[i]!);
    const { rows: out } = await q.query<{ id: number; dedupe_key: string | null; run_at: Date; status: string; existing: boolean }>({
      name: 'cesar_enqueue',
      text: enqueueSql,
      values: [
        batch.map((r) => r.queue),
        batch.map((r) => r.type),
        batch.map((r) => r.payloadJson),
        batch.map((r) => r.priority),
        batch.map((r) => r.runAt),
        batch.map((r) => r.delayMs),
        batch.map((r) => r.maxAttempts),
        batch.map((r) => r.dedupeKey),
      ],
    });
    const unkeyedNew = out.filter((r) => !r.existing && r.dedupe_key === null).sort((a, b) => a.id - b.id);
    const keyedNew = new Map(out.filter((r) => !r.existing && r.dedupe_key !== null).map((r) => [r.dedupe_key!, r]));
    const keyedExisting = new Map(out.filter((r) => r.existing).map((r) => [r.dedupe_key!, r]));
    const claimedKeys = new Set<string>();
    let next = 0;
    const unresolved: number[] = [];
    for (const i of todo) {
      const row = rows[i]!;
      if (row.dedupeKey === null) {
        const made = unkeyedNew[next++]!;
        results[i] = { id: made.id, type: row.type, queue: row.queue, runAt: made.run_at, deduplicated: false, status: 'pending' };
        continue;
      }
      const made = keyedNew.get(row.dedupeKey);
      const existing = keyedExisting.get(row.dedupeKey);
      if (made) {
        const first = !claimedKeys.has(row.dedupeKey);
        claimedKeys.add(row.dedupeKey);
        results[i] = { id: made.id, type: row.type, queue: row.queue, runAt: made.run_at, deduplicated: !first, status: 'pending' };
      } else if (existing) {
        results[i] = {
          id: existing.id,
          type: row.type,
          queue: row.queue,
          runAt: existing.run_at,
          deduplicated: true,
          status: existing.status,
        };
      } else {
        unresolved.push(i);
      }
    }
    todo = unresolved;
  }
  return results as EnqueuedJob[];
}

/** One job whose key holds for a window after its job finished (enqueueUniqueSql). */
async function enqueueUnique(q: Queryable, row: JobRow): Promise<EnqueuedJob> {
  for (let round = 0; round < 5; round++) {
    const { rows } = await q.query<{ id: number; run_at: Date; status: string; existing: boolean }>({
      name: 'cesar_enqueue_unique',
      text: enqueueUniqueSql,
      values: [row.queue, row.type, row.payloadJson, row.priority, row.runAt, row.delayMs, row.maxAttempts, row.dedupeKey, row.uniqueForMs],
    });
    const found = rows[0];
    if (found) {
      return { id: found.id, type: row.type, queue: row.queue, runAt: found.run_at, deduplicated: found.existing, status: found.status };
    }
    // A job of this key committed after our snapshot: look again.
  }
  throw new Error(`could not resolve dedupe key ${quote(row.dedupeKey)} after 5 rounds`);
}

interface JobRow {
  queue: string;
  type: string;
  payloadJson: string;
  priority: number;
  runAt: Date | null;
  delayMs: number | null;
  maxAttempts: number;
  dedupeKey: string | null;
  uniqueForMs: number | null;
}

const int32 = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= -2147483648 && (n as number) <= 2147483647;

/** Check a job as enqueue would, without touching the database (InputError when invalid). */
export function checkJob(job: NewJob, registry?: JobTypeRegistry): void {
  validate(job, registry, '');
}

function validate(job: NewJob, registry: JobTypeRegistry | undefined, where: string): JobRow {
  const fail = (message: string, field: string): never => {
    throw new InputError(where + message, undefined, field);
  };
  if (typeof job.type !== 'string' || job.type === '') fail('a job needs a type', 'type');
  const spec = registry?.get(job.type);
  if (registry && !spec) {
    fail(`unknown job type ${quote(job.type)}; known types: ${registry.names().join(', ')}`, 'type');
  }
  if (!/^[a-z][a-z0-9_]{0,63}$/.test(job.type)) fail(`job type ${quote(job.type)} must be snake_case, up to 64 characters`, 'type');
  const payload = job.payload === undefined ? {} : job.payload;
  const problem = spec && checkPayload(spec, payload);
  if (problem) fail(`invalid payload for ${job.type}: ${problem.message}`, problem.field);
  const payloadJson = JSON.stringify(payload);
  if (payloadJson === undefined) fail('the payload is not JSON', 'payload');
  const bytes = Buffer.byteLength(payloadJson, 'utf8');
  if (bytes > maxPayloadBytes) fail(`the payload is ${bytes} bytes; the limit is ${maxPayloadBytes} bytes (64 KiB)`, 'payload');
  if (payloadJson.includes('\\u0000')) fail('the payload contains a NUL character (\\u0000), which PostgreSQL cannot store', 'payload');
  const priority = job.priority ?? 0;
  if (!int32(priority)) fail(`priority must be an integer; got ${String(job.priority)}`, 'priority');
  const maxAttempts = job.maxAttempts ?? spec?.maxAttempts ?? defaultMaxAttempts;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 1000)
    fail(`max attempts must be an integer from 1 to 1000; got ${String(job.maxAttempts)}`, 'max_attempts');
  const queue = job.queue ?? spec?.queue ?? 'default';
  if (!/^[a-z0-9_.-]{1,64}$/.test(queue)) fail(`queue ${quote(queue)} must be 1 to 64 of a-z, 0-9, _ . -`, 'queue');
  if (job.runAt !== undefined && job.delayMs !== undefined) fail('give a run time or a delay, not both', 'run_at');
  if (job.runAt !== undefined && !(job.runAt instanceof Date && !Number.isNaN(job.runAt.getTime())))
    fail('run time is not a valid date', 'run_at');
  if (job.delayMs !== undefined && !(Number.isFinite(job.delayMs) && job.delayMs >= 0 && job.delayMs <= 366 * 86_400_000)) {
    fail('delay must be from 0 to 366 days', 'delay_ms');
  }
  const dedupeKey = job.dedupeKey ?? null;
  if (
    dedupeKey !== null &&
    (typeof dedupeKey !== 'string' || dedupeKey.length === 0 || dedupeKey.length > 255 || dedupeKey.includes('\0'))
  ) {
    fail('a dedupe key must be 1 to 255 characters', 'key');
  }
  const uniqueForMs = job.uniqueForMs ?? null;
  if (uniqueForMs !== null) {
    if (dedupeKey === null) fail('a dedupe window (unique for) needs a dedupe key', 'unique_for');
    if (!(Number.isFinite(uniqueForMs) && uniqueForMs >= 1000 && uniqueForMs <= 366 * 86_400_000)) {
      fail('the dedupe window (unique for) must be from 1 second to 366 days', 'unique_for');
    }
  }
  return {
    queue,
    type: job.type,
    payloadJson,
    priority,
    runAt: job.runAt ?? null,
    delayMs: job.delayMs ?? null,
    maxAttempts,
    dedupeKey,
    uniqueForMs,
  };
}

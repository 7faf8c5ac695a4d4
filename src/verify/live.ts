import type { Kysely } from 'kysely';
import type pg from 'pg';
import type { Database } from '../db/types.js';
import { NotFoundError, StateError } from '../errors.js';
import { builtInJobTypes } from '../jobs/index.js';
import { enqueue } from '../queue/enqueue.js';
import { cancelJob } from '../queue/jobs.js';
import { liveSchedulerCount, liveSchedulerSeconds, workerCounts } from '../read-model/index.js';

export interface LiveCheck {
  name: 'API' | 'DASHBOARD' | 'WORKER' | 'CANARY' | 'SCHEDULER';
  passed: boolean;
  summary: string;
}

export interface LiveOptions {
  pool: pg.Pool;
  db: Kysely<Database>;
  /** Base URL of the running API, or undefined when none could be found (with why). */
  apiUrl: string | undefined;
  apiMissingReason?: string;
  /** Base URL of the running dashboard, or undefined (with why). */
  dashboardUrl: string | undefined;
  dashboardMissingReason?: string;
  /** A worker heartbeat older than this is stale. */
  heartbeatMaxAgeSeconds: number;
  canaryTimeoutMs: number;
  /** The canary's payload (default {}); tests make it sleep. */
  canaryPayload?: { sleep_ms?: number };
}

/**
 * Proof that the running system works end to end: the API answers /health, a worker heartbeat is
 * fresh, a canary job enqueued now completes (its round-trip time is reported), and a scheduler's
 * heartbeat is fresh.
 */
export async function runLiveChecks(options: LiveOptions): Promise<LiveCheck[]> {
  const checks: LiveCheck[] = [];
  checks.push(await checkApi(options));
  checks.push(await checkDashboard(options));
  const workers = await workerCounts(options.db, options.heartbeatMaxAgeSeconds);
  const fresh = workers.fresh;
  checks.push({
    name: 'WORKER',
    passed: fresh > 0,
    summary:
      fresh > 0
        ? `${fresh} worker(s) with a heartbeat in the last ${options.heartbeatMaxAgeSeconds} s`
        : `no worker heartbeat in the last ${options.heartbeatMaxAgeSeconds} s${workers.newest_heartbeat_at ? ` (newest ${workers.newest_heartbeat_at})` : ''}: is a worker running?`,
  });
  checks.push(
    fresh > 0 ? await checkCanary(options) : { name: 'CANARY', passed: false, summary: 'not tried: no live worker would take it' },
  );
  const schedulers = await liveSchedulerCount(options.db);
  checks.push({
    name: 'SCHEDULER',
    passed: schedulers > 0,
    summary:
      schedulers > 0
        ? `${schedulers} scheduler(s) with a heartbeat in the last ${liveSchedulerSeconds} s`
        : `no scheduler heartbeat in the last ${liveSchedulerSeconds} s: no workflow template fires (is \`cesar start\` running without --no-scheduler, or \`cesar scheduler\`?)`,
  });
  return checks;
}

async function checkApi(options: LiveOptions): Promise<LiveCheck> {
  if (!options.apiUrl) return { name: 'API', passed: false, summary: options.apiMissingReason ?? 'no API URL' };
  try {
    const started = performance.now();
    const response = await fetch(`${options.apiUrl}/health`, { signal: AbortSignal.timeout(5000) });
    const body = (await response.json().catch(() => ({}))) as { status?: string; reason?: string };
    const ms = (performance.now() - started).toFixed(1);
    if (response.status === 200 && body.status === 'ok')
      return { name: 'API', passed: true, summary: `${options.apiUrl}/health answered ok in ${ms} ms` };
    return {
      name: 'API',
      passed: false,
      summary: `${options.apiUrl}/health answered ${response.status}${body.reason ? `: ${body.reason}` : ''}`,
    };
  } catch (err) {
    return { name: 'API', passed: false, summary: `${options.apiUrl}/health did not answer: ${(err as Error).message}` };
  }
}

/** The dashboard loads: its page, and the overview's data (which reads the database). */
async function checkDashboard(options: LiveOptions): Promise<LiveCheck> {
  const url = options.dashboardUrl;
  if (!url) return { name: 'DASHBOARD', passed: false, summary: options.dashboardMissingReason ?? 'no dashboard URL' };
  try {
    const started = performance.now();
    const page = await fetch(`${url}/`, { signal: AbortSignal.timeout(5000) });
    const html = await page.text();
    if (page.status !== 200 || !html.includes('<title>cesar dashboard</title>'))
      return { name: 'DASHBOARD', passed: false, summary: `${url}/ answered ${page.status} without the dashboard page` };
    const data = await fetch(`${url}/dashboard-api/overview`, { signal: AbortSignal.timeout(5000) });
    const body = (await data.json().catch(() => ({}))) as { queue?: unknown; error?: { message?: string } };
    const ms = (performance.now() - started).toFixed(1);
    if (data.status === 200 && body.queue !== undefined)
      return { name: 'DASHBOARD', passed: true, summary: `${url} served its page and the overview's data in ${ms} ms` };
    return {
      name: 'DASHBOARD',
      passed: false,
      summary: `${url}/dashboard-api/overview answered ${data.status}${body.error?.message ? `: ${body.error.message}` : ''}`,
    };
  } catch (err) {
    return { name: 'DASHBOARD', passed: false, summary: `${url} did not answer: ${(err as Error).message}` };
  }
}

async function checkCanary(options: LiveOptions): Promise<LiveCheck> {
  const started = performance.now();
  const job = await enqueue(options.pool, { type: 'canary', payload: options.canaryPayload ?? {}, maxAttempts: 1 }, builtInJobTypes());
  const deadline = started + options.canaryTimeoutMs;
  let status: string | undefined;
  while (performance.now() < deadline) {
    const { rows } = await options.pool.query<{ status: string; last_error: string | null }>(
      'SELECT status, last_error FROM job_queue WHERE id = $1',
      [job.id],
    );
    status = rows[0]?.status;
    if (status === 'completed') {
      return {
        name: 'CANARY',
        passed: true,
        summary: `canary job ${job.id} completed in ${(performance.now() - started).toFixed(1)} ms (enqueue to completion)`,
      };
    }
    if (status === 'failed' || status === 'cancelled') {
      return { name: 'CANARY', passed: false, summary: `canary job ${job.id} ${status}: ${rows[0]?.last_error ?? ''}` };
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  // The queue's own cancel: a canary already running has its attempt closed, and its worker learns of
  // it through its lease; one that completed meanwhile is left as it is.
  try {
    await cancelJob(options.pool, job.id);
  } catch (err) {
    if (!(err instanceof StateError || err instanceof NotFoundError)) throw err;
    return checkCanaryOutcome(options, job.id, started);
  }
  const seconds = options.canaryTimeoutMs / 1000;
  return {
    name: 'CANARY',
    passed: false,
    summary:
      status === 'in_progress'
        ? `canary job ${job.id} was taken by a worker but did not complete within ${seconds} s (cancelled it): is the worker stuck?`
        : `canary job ${job.id} did not complete within ${seconds} s (cancelled it): no worker is taking jobs`,
  };
}

/** The canary ended between the last look and the cancel: report how. */
async function checkCanaryOutcome(options: LiveOptions, id: number, started: number): Promise<LiveCheck> {
  const { rows } = await options.pool.query<{ status: string; last_error: string | null }>(
    'SELECT status, last_error FROM job_queue WHERE id = $1',
    [id],
  );
  const ms = (performance.now() - started).toFixed(1);
  if (rows[0]?.status === 'completed')
    return { name: 'CANARY', passed: true, summary: `canary job ${id} completed in ${ms} ms (enqueue to completion)` };
  return { name: 'CANARY', passed: false, summary: `canary job ${id} ${rows[0]?.status ?? 'vanished'}: ${rows[0]?.last_error ?? ''}` };
}

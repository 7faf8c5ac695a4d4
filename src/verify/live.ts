import type pg from 'pg';
import { builtInJobTypes } from '../jobs/index.js';
import { enqueue } from '../queue/enqueue.js';

export interface LiveCheck {
  name: 'API' | 'WORKER' | 'CANARY';
  passed: boolean;
  summary: string;
}

export interface LiveOptions {
  pool: pg.Pool;
  /** Base URL of the running API, or undefined when none could be found (with why). */
  apiUrl: string | undefined;
  apiMissingReason?: string;
  /** A worker heartbeat older than this is stale. */
  heartbeatMaxAgeSeconds: number;
  canaryTimeoutMs: number;
}

/**
 * Proof that the running system works end to end: the API answers /health, a worker heartbeat is
 * fresh, and a canary job enqueued now completes (its round-trip time is reported).
 */
export async function runLiveChecks(options: LiveOptions): Promise<LiveCheck[]> {
  const checks: LiveCheck[] = [];
  checks.push(await checkApi(options));
  const { rows } = await options.pool.query<{ n: number; newest: Date | null }>(
    `SELECT count(*) FILTER (WHERE last_heartbeat_at > now() - $1 * interval '1 second') AS n, max(last_heartbeat_at) AS newest
       FROM workers WHERE stopped_at IS NULL`,
    [options.heartbeatMaxAgeSeconds],
  );
  const fresh = rows[0]?.n ?? 0;
  checks.push({
    name: 'WORKER',
    passed: fresh > 0,
    summary:
      fresh > 0
        ? `${fresh} worker(s) with a heartbeat in the last ${options.heartbeatMaxAgeSeconds} s`
        : `no worker heartbeat in the last ${options.heartbeatMaxAgeSeconds} s${rows[0]?.newest ? ` (newest ${rows[0].newest.toISOString()})` : ''}: is a worker running?`,
  });
  checks.push(
    fresh > 0 ? await checkCanary(options) : { name: 'CANARY', passed: false, summary: 'not tried: no live worker would take it' },
  );
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

async function checkCanary(options: LiveOptions): Promise<LiveCheck> {
  const started = performance.now();
  const job = await enqueue(options.pool, { type: 'canary', payload: {}, maxAttempts: 1 }, builtInJobTypes());
  const deadline = started + options.canaryTimeoutMs;
  while (performance.now() < deadline) {
    const { rows } = await options.pool.query<{ status: string; last_error: string | null }>(
      'SELECT status, last_error FROM job_queue WHERE id = $1',
      [job.id],
    );
    const status = rows[0]?.status;
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
  await options.pool.query(
    `UPDATE job_queue SET status = 'cancelled', finished_at = now(), locked_by = NULL, lease_expires_at = NULL
                             WHERE id = $1 AND status IN ('pending', 'in_progress')`,
    [job.id],
  );
  return {
    name: 'CANARY',
    passed: false,
    summary: `canary job ${job.id} did not complete within ${options.canaryTimeoutMs / 1000} s (cancelled it): no worker is taking jobs`,
  };
}

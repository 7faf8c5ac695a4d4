import { ThroughputCounter } from '../../src/monitoring/throughput.js';
import { enqueueMany } from '../../src/queue/enqueue.js';
import { sleep } from '../../src/sleep.js';
import { sql, type UsedTestDatabase } from '../helpers/db.js';
import { inlineJobType, memoryLogger, registryOf, startWorker, waitFor } from '../helpers/queue.js';

/** How long a napper sleeps, and its timeout. */
export const napMs = 150;
export const napTimeoutMs = 400;

/**
 * Sleeps at least payload.ms by performance.now() (a timer may fire a little early by that clock),
 * then fails when asked to.
 */
export const napper = inlineJobType<{ ms: number; fail?: boolean }>({
  name: 'napper',
  timeoutMs: napTimeoutMs,
  async run({ payload, signal }) {
    const until = performance.now() + payload.ms;
    while (performance.now() < until) await sleep(until - performance.now() + 1, signal);
    if (payload.fail) throw new Error('napper failing on purpose');
  },
});

/**
 * A real worker runs napper jobs, counted by a ThroughputCounter: 4 that succeed, 2 that fail both
 * their attempts and 2 that time out on both, so 4 attempts of each outcome (succeeded, failed,
 * timed_out) and 4 jobs of each (completed, retried, failed). Resolves once every job is finished
 * and the counter has written its counts.
 */
export async function runNappers(t: UsedTestDatabase): Promise<void> {
  const counter = new ThroughputCounter({ pool: t.handle.pool, log: memoryLogger(), flushEveryMs: 100 });
  counter.start();
  const w = await startWorker(t.url, registryOf(napper), { observers: [counter] });
  try {
    await enqueueMany(t.handle.pool, [
      ...Array.from({ length: 4 }, () => ({ type: 'napper', payload: { ms: napMs } })),
      ...Array.from({ length: 2 }, () => ({ type: 'napper', payload: { ms: napMs, fail: true }, maxAttempts: 2 })),
      ...Array.from({ length: 2 }, () => ({ type: 'napper', payload: { ms: 60_000 }, maxAttempts: 2 })),
    ]);
    await waitFor(
      'every napper to finish',
      async () =>
        (await sql(t.url, `SELECT count(*) AS n FROM job_queue WHERE job_type = 'napper' AND status IN ('pending', 'in_progress')`))[0]!
          .n === '0',
    );
  } finally {
    await w.stop();
    await counter.stop();
  }
}

/** What the queue itself recorded: napper's attempts by outcome (job_attempts). */
export async function napperAttempts(url: string): Promise<Record<string, number>> {
  const rows = await sql(
    url,
    `SELECT a.outcome, count(*) AS n FROM job_attempts a JOIN job_queue q ON q.id = a.job_id
      WHERE q.job_type = 'napper' GROUP BY a.outcome`,
  );
  return Object.fromEntries(rows.map((r) => [r.outcome, Number(r.n)]));
}

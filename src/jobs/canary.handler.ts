import type { JobContext } from '../queue/job-types.js';
import { sleep } from '../sleep.js';
import type { CanaryPayload } from './canary.js';

export default async function runCanary({ payload, attempt, signal }: JobContext<CanaryPayload>): Promise<unknown> {
  if (payload.sleep_ms) await sleep(payload.sleep_ms, signal);
  const failures = payload.fail_attempts ?? 0;
  if (attempt <= failures) {
    throw new Error(`canary failing on purpose: attempt ${attempt} of the first ${failures} that fail`);
  }
  return { ok: true, attempt };
}

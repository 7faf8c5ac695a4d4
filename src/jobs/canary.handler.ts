import type { JobContext } from '../queue/job-types.js';
import type { CanaryPayload } from './canary.js';

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export default async function runCanary({ payload, attempt, signal }: JobContext<CanaryPayload>): Promise<unknown> {
  if (payload.sleep_ms) await sleep(payload.sleep_ms, signal);
  const failures = payload.fail_attempts ?? 0;
  if (attempt <= failures) {
    throw new Error(`canary failing on purpose: attempt ${attempt} of the first ${failures} that fail`);
  }
  return { ok: true, attempt };
}

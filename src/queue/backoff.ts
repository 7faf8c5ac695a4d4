/**
 * Retry delay after a failed attempt: exponential with full jitter on the upper half.
 *
 *   base = min(cap, initial * 2^(attempt - 1))      initial 2 s, cap 1 h
 *   delay = base/2 + random(0, base/2)
 *
 * So attempt 1 waits 1-2 s, 2: 2-4 s, 3: 4-8 s, 4: 8-16 s; with the default 5 attempts a job is dead
 * after at most 30 s of waiting. Jitter spreads retries of jobs that failed together.
 */
export interface BackoffPolicy {
  initialMs: number;
  capMs: number;
}

export const defaultBackoff: BackoffPolicy = { initialMs: 2000, capMs: 3_600_000 };

export function backoffBaseMs(attempt: number, policy: BackoffPolicy = defaultBackoff): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 40);
  return Math.min(policy.capMs, policy.initialMs * 2 ** exponent);
}

export function backoffDelayMs(attempt: number, policy: BackoffPolicy = defaultBackoff, random: () => number = Math.random): number {
  const base = backoffBaseMs(attempt, policy);
  return Math.round(base / 2 + random() * (base / 2));
}

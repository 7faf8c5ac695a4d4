import type { ClaimedJob } from './claimer.js';

/** A job attempt's written outcome: completed, retried (back to pending with a delay) or failed for good. */
export interface JobOutcome {
  id: number;
  queue: string;
  job_type: string;
  /** The attempt that ended (1-based). */
  attempt: number;
  status: 'completed' | 'retried' | 'failed';
  /** How the attempt itself ended, as job_attempts.outcome records it (a retried attempt may have timed out). */
  attempt_outcome: 'succeeded' | 'failed' | 'timed_out';
  /** The attempt's duration, from its start in this worker to its settling (before its result was written). */
  duration_ms: number;
  /** The attempt's error message (retried, failed). */
  error?: string;
}

/**
 * Sees a worker's jobs after each step of their lives is committed: claimed (started), then their
 * outcomes. Called on the hot path with whole batches: an observer only records and returns (no
 * I/O awaited, never throws); the event bus and the throughput counters are observers.
 */
export interface JobLifecycleObserver {
  claimed?(jobs: readonly ClaimedJob[]): void;
  finished?(outcomes: readonly JobOutcome[]): void;
}

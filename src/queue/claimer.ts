import type { Queryable } from '../db/queryable.js';
import { claimSql } from './queries.js';

/** A job as the claim returns it: leased to this worker, its attempt row open. */
export interface ClaimedJob {
  id: number;
  job_type: string;
  payload: Record<string, unknown>;
  attempts: number;
  max_attempts: number;
  queue: string;
}

/** What the claimer counts (a slice of WorkerStats). */
export interface ClaimStats {
  /** Claim statements run (round trips). */
  claimQueries: number;
  claimed: number;
}

export interface ClaimerOptions {
  pool: Queryable;
  workerId: string;
  queues: readonly string[];
  /** Only these job types are claimed: those whose handler loaded. */
  types: readonly string[];
  leaseSeconds: number;
  stats: ClaimStats;
}

/**
 * Claims jobs for one worker: one claim statement per queue, the queues taken in turn until enough
 * are claimed. The queue asked first rotates on every claim, so a busy queue cannot starve the others.
 */
export class Claimer {
  private nextQueue = 0;
  private readonly types: string[];

  constructor(private readonly options: ClaimerOptions) {
    this.types = [...options.types];
  }

  /** Claim up to `want` jobs, in (priority, run_at, id) order within each queue. */
  async claim(want: number): Promise<ClaimedJob[]> {
    const { queues, stats } = this.options;
    const first = this.nextQueue++ % queues.length;
    const claimed: ClaimedJob[] = [];
    for (let i = 0; i < queues.length && claimed.length < want; i++) {
      stats.claimQueries += 1;
      const { rows } = await this.options.pool.query<ClaimedJob>({
        name: 'cesar_claim',
        text: claimSql,
        values: [queues[(first + i) % queues.length], want - claimed.length, this.options.workerId, this.options.leaseSeconds, this.types],
      });
      claimed.push(...rows);
    }
    stats.claimed += claimed.length;
    return claimed;
  }
}

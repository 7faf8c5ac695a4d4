import { builtInJobTypes } from '../jobs/index.js';
import { existingRelations, type IndexInfo, indexesOf } from './catalog.js';
import { attempt, type Check } from './types.js';

/** The index the claim query (`... WHERE status = 'pending' ORDER BY priority, run_at, id FOR UPDATE SKIP LOCKED`) needs. */
export function isClaimIndex(ix: IndexInfo): boolean {
  return ix.columns.join(',') === 'queue,priority,run_at,id' && /status = 'pending'/.test(ix.predicate ?? '');
}

function isDedupeIndex(ix: IndexInfo): boolean {
  return ix.unique && ix.columns.join(',') === 'dedupe_key' && /pending/.test(ix.predicate ?? '') && /in_progress/.test(ix.predicate ?? '');
}

function isLeaseIndex(ix: IndexInfo): boolean {
  return ix.columns[0] === 'lease_expires_at' && /status = 'in_progress'/.test(ix.predicate ?? '');
}

/** JOBS: the queue's tables and the indexes its claim, dedupe and crash recovery rely on. */
export const checkJobs: Check = async ({ pool }) => {
  const problems: string[] = [];
  const facts: string[] = [];
  const present =
    (await attempt(problems, 'reading the catalog', () => existingRelations(pool, ['job_queue', 'job_attempts']))) ?? new Set();
  for (const t of ['job_queue', 'job_attempts']) if (!present.has(t)) problems.push(`table ${t} is missing`);
  if (present.has('job_queue')) {
    const indexes = (await attempt(problems, 'reading job_queue indexes', () => indexesOf(pool, 'job_queue'))) ?? [];
    const claim = indexes.find(isClaimIndex);
    const dedupe = indexes.find(isDedupeIndex);
    const lease = indexes.find(isLeaseIndex);
    if (!claim)
      problems.push(
        `no claim index on job_queue (queue, priority, run_at, id) WHERE status = 'pending' (run \`cesar migrate\`, or restore job_queue_claim_idx)`,
      );
    if (!dedupe) problems.push('no unique dedupe index on job_queue (dedupe_key) for pending and running jobs');
    if (!lease) problems.push(`no lease index on job_queue (lease_expires_at) WHERE status = 'in_progress'`);
    facts.push(
      `Claim index: ${claim?.name ?? 'missing'}; dedupe index: ${dedupe?.name ?? 'missing'}; lease index: ${lease?.name ?? 'missing'}`,
    );
    const byStatus = await attempt(
      problems,
      'counting jobs',
      async () => (await pool.query<{ status: string; n: number }>('SELECT status, count(*) AS n FROM job_queue GROUP BY status')).rows,
    );
    const count = (s: string) => byStatus?.find((r) => r.status === s)?.n ?? 0;
    const total = (byStatus ?? []).reduce((sum, r) => sum + r.n, 0);
    facts.push(
      `Total jobs: ${total} (pending ${count('pending')}, in progress ${count('in_progress')}, completed ${count('completed')}, failed ${count('failed')}, cancelled ${count('cancelled')})`,
    );
    const types = await attempt(
      problems,
      'listing job types',
      async () =>
        (
          await pool.query<{ job_type: string; n: number }>(
            'SELECT job_type, count(*) AS n FROM job_queue GROUP BY job_type ORDER BY job_type',
          )
        ).rows,
    );
    if (types && types.length > 0) facts.push(`Job types: ${types.map((t) => `${t.job_type} (${t.n})`).join(', ')}`);
  }
  facts.push(`Job types with a handler: ${builtInJobTypes().names().join(', ')}`);
  const workers = await attempt(
    problems,
    'reading workers',
    async () =>
      (
        await pool.query<{ live: number; total: number }>(
          `SELECT count(*) FILTER (WHERE stopped_at IS NULL AND last_heartbeat_at > now() - interval '2 minutes') AS live, count(*) AS total FROM workers`,
        )
      ).rows[0],
  );
  if (workers) facts.push(`Workers: ${workers.live} live (heartbeat in the last 2 minutes); start one with \`cesar worker\``);
  return {
    passed: problems.length === 0,
    summary: problems.length === 0 ? 'job queue tables and indexes ready' : 'job queue not ready',
    problems,
    facts,
  };
};

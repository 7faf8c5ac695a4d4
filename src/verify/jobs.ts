import { builtInJobTypes } from '../jobs/index.js';
import { countOf, jobCounts, liveWorkerSeconds, workerCounts } from '../read-model/index.js';
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
export const checkJobs: Check = async ({ pool, db }) => {
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
    const counts = await attempt(problems, 'counting jobs', () => jobCounts(db));
    if (counts) {
      const total = counts.reduce((sum, c) => sum + c.count, 0);
      facts.push(
        `Total jobs: ${total} (pending ${countOf(counts, 'pending')}, in progress ${countOf(counts, 'in_progress')}, completed ${countOf(counts, 'completed')}, failed ${countOf(counts, 'failed')}, cancelled ${countOf(counts, 'cancelled')})`,
      );
      const byType = new Map<string, number>();
      for (const c of counts) byType.set(c.job_type, (byType.get(c.job_type) ?? 0) + c.count);
      if (byType.size > 0) facts.push(`Job types: ${[...byType].map(([type, n]) => `${type} (${n})`).join(', ')}`);
    }
  }
  facts.push(`Job types with a handler: ${builtInJobTypes().names().join(', ')}`);
  const workers = await attempt(problems, 'reading workers', () => workerCounts(db));
  if (workers)
    facts.push(`Workers: ${workers.live} live (heartbeat in the last ${liveWorkerSeconds / 60} minutes); start one with \`cesar worker\``);
  return {
    passed: problems.length === 0,
    summary: problems.length === 0 ? 'job queue tables and indexes ready' : 'job queue not ready',
    problems,
    facts,
  };
};

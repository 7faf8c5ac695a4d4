import { appliedMigrations } from '../db/migrator.js';
import { DatabaseError } from '../errors.js';
import { checkAgents } from './agents.js';
import { checkDataFlow } from './data-flow.js';
import { checkJobs } from './jobs.js';
import { checkMonitoring } from './monitoring.js';
import { checkSchema } from './schema.js';
import type { Check, CheckContext, CheckName, CheckResult } from './types.js';
import { checkWorkflows } from './workflows.js';

const checks: ReadonlyArray<readonly [CheckName, string, Check]> = [
  ['SCHEMA', 'DATABASE SCHEMA', checkSchema],
  ['WORKFLOWS', 'WORKFLOW CONFIGURATION', checkWorkflows],
  ['JOBS', 'JOB QUEUE', checkJobs],
  ['MONITORING', 'MONITORING VIEWS', checkMonitoring],
  ['AGENTS', 'AGENT ECOSYSTEM', checkAgents],
  ['DATA_FLOW', 'DATA FLOW READINESS', checkDataFlow],
];

export interface VerifyReport {
  passed: boolean;
  checkedAt: Date;
  checks: CheckResult[];
}

/**
 * Run the six readiness checks against the live catalog and data. Each check reads on its own, so
 * one broken part fails its check alone. A database without cesar's schema is not checked at all:
 * that is a DatabaseError (exit 2) telling the operator to migrate.
 */
export async function runVerify(ctx: CheckContext): Promise<VerifyReport> {
  const applied = await appliedMigrations(ctx.pool);
  if (!applied || applied.length === 0) {
    throw new DatabaseError('the database has no cesar schema', 'schema_missing', 'run `cesar migrate`');
  }
  const checkedAt = new Date();
  const results = await Promise.all(checks.map(async ([name, title, check]) => ({ name, title, ...(await check(ctx)) })));
  return { passed: results.every((r) => r.passed), checkedAt, checks: results };
}

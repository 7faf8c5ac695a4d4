import type { Kysely } from 'kysely';
import type pg from 'pg';
import type { Database } from '../db/types.js';

export const checkNames = ['SCHEMA', 'WORKFLOWS', 'JOBS', 'MONITORING', 'AGENTS', 'DATA_FLOW'] as const;
export type CheckName = (typeof checkNames)[number];

export interface CheckContext {
  pool: pg.Pool;
  db: Kysely<Database>;
}

export interface CheckResult {
  name: CheckName;
  title: string;
  passed: boolean;
  /** One line: what was found. */
  summary: string;
  /** Why it failed, one line each; empty when it passed. */
  problems: string[];
  /** The facts behind the verdict, one line each. */
  facts: string[];
  table?: { head: string[]; rows: string[][] };
}

export type Check = (ctx: CheckContext) => Promise<Omit<CheckResult, 'name' | 'title'>>;

/** Turn a failed query into a problem line, so one broken part fails its check and nothing else. */
export async function attempt<T>(problems: string[], what: string, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (err) {
    problems.push(`${what}: ${(err as Error).message}`);
    return undefined;
  }
}

import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/types.js';

/** Agents by type and status. */
export async function agentCounts(db: Kysely<Database>): Promise<Array<{ agent_type: string; status: string; count: number }>> {
  return db
    .selectFrom('agents')
    .select(['agent_type', 'status', sql<number>`count(*)`.as('count')])
    .groupBy(['agent_type', 'status'])
    .orderBy('agent_type')
    .orderBy('status')
    .execute();
}

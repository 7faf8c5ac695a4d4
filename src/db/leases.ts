import type { Queryable } from './queryable.js';

/**
 * Named leases in `leader_leases`: whoever holds an unexpired lease is the one process doing that
 * thing. Each call is one guarded statement, timed by the database's now(), with no advisory lock
 * (CockroachDB has none), so any number of processes may race for a lease.
 */

/**
 * Take lease $1 for holder $2 for $3 seconds: insert it, renew it if $2 holds it already, or take it
 * over if it has expired. Returns a row only when $2 holds the lease afterwards. `elected_at` keeps
 * the start of the holder's term across renewals.
 */
const acquireLeaseSql = `
INSERT INTO leader_leases (name, holder, elected_at, expires_at)
VALUES ($1, $2, now(), now() + $3::float8 * interval '1 second')
    ON CONFLICT (name) DO UPDATE
   SET holder = excluded.holder,
       elected_at = CASE WHEN leader_leases.holder = excluded.holder THEN leader_leases.elected_at ELSE now() END,
       expires_at = excluded.expires_at
 WHERE leader_leases.holder = excluded.holder OR leader_leases.expires_at < now()
RETURNING holder, elected_at`;

/** Give up lease $1 if holder $2 holds it, so that another process may take it at once. */
const releaseLeaseSql = `
DELETE FROM leader_leases
 WHERE name = $1 AND holder = $2
RETURNING name`;

/** Take or renew a lease; true when `holder` holds it for the next `seconds`. */
export async function acquireLease(pool: Queryable, name: string, holder: string, seconds: number): Promise<boolean> {
  const { rows } = await pool.query({ text: acquireLeaseSql, values: [name, holder, seconds] });
  return rows.length > 0;
}

/** Release a lease held by `holder`; true when it held it. */
export async function releaseLease(pool: Queryable, name: string, holder: string): Promise<boolean> {
  const { rows } = await pool.query({ text: releaseLeaseSql, values: [name, holder] });
  return rows.length > 0;
}

/**
 * The newest row time an incremental reader (the sync, the knowledge graph update) may pass,
 * computed once before it reads: $1 ms before now, and never past the start of a transaction that
 * holds a transaction id (it has written, and may still commit rows stamped after its start but
 * before this bound). A transaction that gets its id later stamps its rows later than the bound.
 * Other roles' transactions are seen only with pg_read_all_stats; CockroachDB shows none (no
 * backend_xid): the lag is all there is then.
 */
export const readBoundSql = `
SELECT LEAST(clock_timestamp() - $1::float8 * interval '1 millisecond',
             (SELECT min(xact_start)
                FROM pg_stat_activity
               WHERE datname = current_database()
                 AND pid <> pg_backend_pid()
                 AND backend_xid IS NOT NULL))::text AS bound`;

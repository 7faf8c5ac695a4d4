// A database of the bench's own on the given server, created for the run and dropped at its end,
// with what the benches measure it by: its backends' CPU and the server's WAL.
import { processCpuMs } from './proc-cpu.mjs';

/** The URL of database `db` on the server of `url`. */
export function withDatabase(url, db) {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/**
 * Create database `name` on the server of `serverUrl` (through its `postgres` database) and a pool
 * of `poolMax` connections to it. close() ends the pool and drops the database.
 */
export async function openThrowawayDatabase(pg, serverUrl, name, { poolMax }) {
  const admin = new pg.Client({ connectionString: withDatabase(serverUrl, 'postgres') });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = withDatabase(serverUrl, name);
  const pool = new pg.Pool({ connectionString: url, max: poolMax, idleTimeoutMillis: 0 });
  // DROP DATABASE ... WITH (FORCE) at the end ends idle connections: not an error of the run.
  pool.on('error', () => undefined);
  return {
    admin,
    pool,
    url,
    /**
     * CPU (ms) of each server process connected to this database, by pid: the pool's backends (it keeps
     * its connections, so none is lost between two readings) and any autovacuum worker there at that
     * moment. Other databases of the server (other people's work) are not counted.
     */
    async backendCpuMs() {
      const { rows } = await admin.query({ text: 'SELECT pid FROM pg_stat_activity WHERE datname = $1', values: [name] });
      return new Map(rows.map((r) => [r.pid, processCpuMs(r.pid) ?? 0]));
    },
    /** The server's WAL position now. */
    async walMark() {
      return (await admin.query('SELECT pg_current_wal_lsn() AS lsn')).rows[0].lsn;
    },
    /** WAL bytes the whole server wrote since `mark`. */
    async walBytesSince(mark) {
      const { rows } = await admin.query({ text: 'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::bigint AS bytes', values: [mark] });
      return Number(rows[0].bytes);
    },
    async close() {
      await pool.end();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

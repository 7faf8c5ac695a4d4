import { connect } from '../db/connect.js';
import { ConfigError, DatabaseError, StateError } from '../errors.js';
import type { Logger } from '../log.js';
import { maskUrl } from '../mask.js';
import type { Side } from './engine.js';
import { remoteOrigin } from './tables.js';

/** Supabase, as the sync talks to it: a second pool, to SUPABASE_DB_URL. */
export interface RemoteDatabase {
  pool: Side;
  /** SUPABASE_DB_URL with its password masked. */
  displayUrl: string;
  /** host:port, for messages. */
  where: string;
  close(): Promise<void>;
}

export const notConfiguredNote =
  'SUPABASE_DB_URL is not set: set it to the Supabase database (direct connection or session pooler, port 5432), then run `cesar sync init`';

/**
 * Supabase's transaction pooler (port 6543) gives each transaction any server connection: a
 * session's settings and prepared statements do not hold. Refused rather than half working.
 */
export function supabaseUrlProblem(url: string): string | undefined {
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (!parsed || !/^postgres(ql)?:$/.test(parsed.protocol)) {
    return 'SUPABASE_DB_URL must be a postgres:// URL, like postgres://postgres:PASSWORD@db.REF.supabase.co:5432/postgres';
  }
  if (parsed.port === '6543') {
    return `SUPABASE_DB_URL points at port 6543 of ${parsed.hostname}, Supabase's transaction pooler, which the sync cannot use: use the direct connection or the session pooler (port 5432)`;
  }
  return undefined;
}

/** Connect to Supabase; a failure is one line naming the host (never the password) and the reason. */
export async function openRemote(url: string, log: Logger): Promise<RemoteDatabase> {
  const problem = supabaseUrlProblem(url);
  if (problem) throw new ConfigError(problem, 'see "Sync with Supabase" in the README');
  const parsed = new URL(url);
  const where = `${parsed.hostname}:${parsed.port || '5432'}`;
  try {
    const handle = await connect(url, { poolMax: 4, connectTimeoutSeconds: 10 }, { log, applicationName: 'cesar-sync' });
    return { pool: handle.pool, displayUrl: handle.displayUrl, where, close: () => handle.close() };
  } catch (err) {
    if (!(err instanceof DatabaseError)) throw err;
    const message = err.message.replace(/the database/g, 'Supabase');
    const hint =
      err.code === 'db_missing' ? 'check the database name in SUPABASE_DB_URL' : err.hint?.replace(/DATABASE_URL/g, 'SUPABASE_DB_URL');
    throw new DatabaseError(message, err.code as 'db_unreachable', hint, { cause: err });
  }
}

/** Which side the remote's triggers stamp, or undefined when `cesar sync init` has not run there. */
export async function remoteSide(remote: Side): Promise<string | undefined> {
  const { rows } = await remote.query<{ prepared: boolean }>({
    text: `SELECT to_regprocedure('cesar_sync_origin()') IS NOT NULL AND to_regclass('sync_tombstones') IS NOT NULL AS prepared`,
  });
  if (!rows[0]?.prepared) return undefined;
  return (await remote.query<{ side: string }>({ text: 'SELECT cesar_sync_origin() AS side' })).rows[0]?.side;
}

/** Refuse to sync with a remote that is not prepared, or that is a cesar database itself. */
export async function requirePrepared(remote: RemoteDatabase): Promise<void> {
  const side = await remoteSide(remote.pool);
  if (side === undefined) {
    throw new StateError(`Supabase at ${remote.where} is not prepared for sync`, 'run `cesar sync init` once');
  }
  if (side !== remoteOrigin) {
    throw new StateError(
      `SUPABASE_DB_URL (${maskUrl(remote.displayUrl)}) is a cesar database (its rows are stamped "${side}"), not Supabase`,
      'point SUPABASE_DB_URL at the Supabase database',
    );
  }
}
